"""The soak's command line and seeded plan (scripts/soak_support/options.py), and its verdict
(report.build_summary) on crafted outcomes: a clean run passes, each discrepancy fails it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from soak_support.judge import EventRecord, VenueOrder
from soak_support.options import Options, build_plan, parse
from soak_support.report import Outcome, build_summary

FIELDS = frozenset({"delay_s", "http_error_status", "http_error_count", "ws_drop_next",
                    "ws_duplicate_next", "ws_reorder_next", "ws_drop_rate",
                    "ws_duplicate_rate", "ws_reorder_rate"})
MANGLE = FIELDS | {"ws_mangle_next", "ws_mangle_rate"}


def test_the_plan_is_a_function_of_the_seed() -> None:
    opts = parse(["--minutes", "20", "--seed", "4"])
    assert build_plan(opts, fault_fields=FIELDS) == build_plan(opts, fault_fields=FIELDS)
    other = build_plan(parse(["--minutes", "20", "--seed", "5"]), fault_fields=FIELDS)
    assert other.actions != build_plan(opts, fault_fields=FIELDS).actions


def test_steps_fill_the_soak_and_step_down_at_the_end() -> None:
    plan = build_plan(parse(["--minutes", "20"]), fault_fields=FIELDS)
    assert [rate for rate, _ in plan.schedule] == [10, 20, 50, 100, 200, 10]
    assert sum(s for _, s in plan.schedule) == pytest.approx(plan.load_s)
    assert plan.total_s == 1200
    assert plan.load_s == 1200 - 20  # the settle time before the clean stop


def test_kills_and_faults_fall_inside_the_load() -> None:
    plan = build_plan(parse(["--minutes", "20"]), fault_fields=FIELDS)
    kills = [a for a in plan.actions if a.kind == "kill"]
    assert len(kills) == 6  # every 180 s ± 10 s
    assert all(0 < a.at_s < plan.load_s for a in plan.actions)
    assert [a.at_s for a in plan.actions] == sorted(a.at_s for a in plan.actions)
    late = [a for a in plan.actions if a.kind == "late_subscriber"]
    assert len(late) == 1
    faults = [a for a in plan.actions if a.kind in ("fault", "drop_ws", "stall")]
    assert len(faults) >= 50
    kinds = {a.kind for a in faults} | {k for a in faults for k in a.params}
    assert {"drop_ws", "stall", "http_error_count", "delay_s"} <= kinds


def test_only_faults_the_exchange_offers_are_planned() -> None:
    old = build_plan(parse(["--minutes", "20"]), fault_fields=FIELDS)
    assert not any("ws_mangle_next" in a.params or "ws_mangle_rate" in a.params
                   for a in old.actions)
    new = build_plan(parse(["--minutes", "20"]), fault_fields=MANGLE)
    assert any("ws_mangle_next" in a.params or "ws_mangle_rate" in a.params
               for a in new.actions)


def test_5xx_bursts_name_their_path_and_ws_posts_fail_too_where_offered() -> None:
    fields = MANGLE | {"http_error_path", "ws_post_error_next", "ws_post_error_status",
                       "ws_post_error_kind"}
    plan = build_plan(parse(["--minutes", "20"]), fault_fields=fields)
    bursts = [a.params for a in plan.actions if "http_error_count" in a.params]
    assert bursts
    assert all(b["http_error_path"] in ("/exchange", "/info") for b in bursts)
    assert {b["http_error_path"] for b in bursts} == {"/exchange", "/info"}
    assert any("ws_post_error_next" in a.params for a in plan.actions)


def test_timed_faults_are_undone() -> None:
    plan = build_plan(parse(["--minutes", "20"]), fault_fields=FIELDS)
    for action in plan.actions:
        if action.kind == "fault" and "delay_s" in action.params:
            assert any(a.kind == "clear" and a.params == {"delay_s": 0}
                       and a.at_s > action.at_s for a in plan.actions)


def test_quick_means_one_kill_and_denser_faults() -> None:
    opts = parse(["--minutes", "2", "--quick"])
    plan = build_plan(opts, fault_fields=FIELDS)
    assert [a.kind for a in plan.actions].count("kill") == 1
    assert opts.fault_every_s < 20
    quiet = build_plan(parse(["--minutes", "2", "--quick", "--no-kills", "--no-faults"]),
                       fault_fields=FIELDS)
    assert [a.kind for a in quiet.actions] == ["late_subscriber"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--minutes", "0"], "--minutes must be > 0"),
    (["--rates", "10,fast"], "--rates must be numbers"),
    (["--subscribers", "0"], "--subscribers must be >= 1"),
])
def test_bad_options_are_usage_errors(argv: list[str], message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(argv)
    assert message in capsys.readouterr().err


# --- the verdict --------------------------------------------------------------------------------

S = 1_000_000_000
CLOIDS = [f"0x{n:032x}" for n in range(1, 41)]


def stream(record: EventRecord, *, skip: frozenset[int] = frozenset(),
           last_state: str = "CANCELLED") -> None:
    """Each order: tracked, then created 5 ms later, then its final event."""
    seq = 0
    for n, cloid in enumerate(CLOIDS):
        t = (n + 1) * S // 10
        for kind, state, ts in (("order_tracked", "PENDING_CREATE", t),
                                ("order_created", "OPEN", t + 5_000_000),
                                ("order_cancelled", last_state, t + 9_000_000)):
            seq += 1
            if seq in skip:
                continue
            record.observe("orders.hyperliquid.x", {
                "event_type": kind, "timestamp": ts, "epoch": 1, "sequence": seq,
                "data": {"client_order_id": cloid, "order_state": state, "event_sequence": seq,
                         "filled_amount": "0"}})


def outcome(tmp_path: Path, records: list[EventRecord], opts: Options | None = None,
            **changes: Any) -> Outcome:
    opts = opts or Options(minutes=0.1, settle_s=0.0, rates=(10.0, 20.0))
    plan = build_plan(opts, fault_fields=FIELDS)
    log = tmp_path / "runtime.log"
    if not log.exists():
        log.write_text("perpetuum: started\n")
    base: dict[str, Any] = dict(
        opts=opts, plan=plan, start_ns=0, capabilities={}, records=records, late_started=True,
        subscriber_mode="test", subscriber_errors=[], subscriber_notices={}, notice_samples=[],
        answers={c: VenueOrder(status="canceled") for c in CLOIDS}, open_cloids=set(),
        open_count=0, venue_fills={}, fills_complete_from_ms=None, evidence={},
        usage=[(0, 0.0, 0.0, 0.0), (int(plan.load_s * S), 10.0, 30.0, 80.0)],
        usage_kinds=[(0, {"ws ping": 1.0}),
                     (int(plan.load_s * S), {"ws ping": 3.0, "ws post action:order": 28.0,
                                             "rest info:openOrders": 10.0})],
        rss=[(t * S // 2, 1, 40_000) for t in range(12)], stop={"clean": True},
        runtime_starts=1, runtime_start_seconds=[1.0], runtime_start_retries=0, incidents=[],
        executed=[], notes=[], log_path=log, work_dir=tmp_path)
    base.update(changes)
    return Outcome(**base)


def clean_records() -> list[EventRecord]:
    records = [EventRecord("sub1"), EventRecord("late")]
    for r in records:
        stream(r)
    return records


def test_a_clean_run_passes_with_its_figures(tmp_path: Path) -> None:
    summary = build_summary(outcome(tmp_path, clean_records()))
    assert summary["failures"] == []
    assert summary["passed"]
    first = summary["steps"][0]
    assert first["tracked"] == 29  # tracked at 0.1 s … 2.9 s: the first step is [0, 3 s)
    assert first["submit_to_open_ms"]["p50"] == 5.0
    assert first["venue_placed"] == 29
    assert summary["sequences"]["late"]["lost"] == 0
    assert summary["orders"]["final_states"] == {"CANCELLED": 40}


@pytest.mark.parametrize(("change", "expected"), [
    ("lost", "sub1: 2 events lost"),
    ("stale", "state_mismatch"),
    ("left_open", "orders open at the venue after the clean stop"),
    ("nonce", "nonce rejections"),
    ("unclean", "did not stop cleanly"),
    ("traceback", "tracebacks in the runtime's log"),
    ("silent", "received no order event at all"),
])
def test_each_discrepancy_fails_the_run(tmp_path: Path, change: str, expected: str) -> None:
    records = clean_records()
    changes: dict[str, Any] = {}
    if change == "lost":
        records[0] = EventRecord("sub1")
        stream(records[0], skip=frozenset({7, 8}))
    elif change == "stale":
        records[0] = EventRecord("sub1")
        stream(records[0], last_state="OPEN")
    elif change == "left_open":
        changes = {"open_cloids": {CLOIDS[0]}, "open_count": 1}
    elif change == "nonce":
        (tmp_path / "runtime.log").write_text("WARNING Invalid nonce: nonce too low\n")
    elif change == "unclean":
        changes = {"stop": {"clean": False, "exit_code": -9}}
    elif change == "traceback":
        (tmp_path / "runtime.log").write_text(
            "Traceback (most recent call last):\n  File \"x\", line 1\nKeyError: 'x'\n"
            "Traceback (most recent call last):\n  File \"y\", line 2\n"
            "supervision.errors.InjectedCrash: signer#1: crash injected\n")
    elif change == "silent":
        records[1] = EventRecord("late")
    summary = build_summary(outcome(tmp_path, records, **changes))
    assert not summary["passed"]
    assert any(expected in f for f in summary["failures"]), summary["failures"]
    if change == "traceback":
        assert summary["runtime"]["tracebacks"] == 1  # the injected crash is not counted


def test_orders_per_unit_of_rate_limit_usage(tmp_path: Path) -> None:
    summary = build_summary(outcome(tmp_path, clean_records(),
                                    opts=attrs.evolve(Options(), minutes=0.1, settle_s=0.0,
                                                      rates=(50.0, 100.0))))
    loaded = summary["under_load"]
    assert loaded["steps"] == [1, 2]
    assert loaded["usage"] == 40.0  # 10 REST weight + 30 WS messages over the load
    assert loaded["orders_per_unit"] == 1.0  # the 40 orders the venue placed
    # Where the units went, largest first: from the first step's start to the last's end.
    spent: dict[str, float] = {}
    for step in summary["steps"]:
        for kind, units in step["usage_by_kind"].items():
            spent[kind] = spent.get(kind, 0.0) + units
    assert spent == {"ws post action:order": 28.0, "rest info:openOrders": 10.0, "ws ping": 2.0}


def test_mismatches_are_tallied_by_state_and_venue_status(tmp_path: Path) -> None:
    records = clean_records()
    records[0] = EventRecord("sub1")
    stream(records[0], last_state="OPEN")
    summary = build_summary(outcome(tmp_path, records))
    assert summary["orders"]["discrepancies"]["pairs"] == {"OPEN vs venue canceled": 40}
