"""The soak's judge (scripts/soak_support/judge.py) fed crafted event streams and venue answers:
every kind of discrepancy is counted, and a clean stream passes."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from soak_support.judge import (
    EventRecord,
    SequenceCheck,
    VenueOrder,
    acceptable_states,
    interpolate,
    judge_fills,
    judge_orders,
    nonce_expiry_kind,
    percentiles,
    rss_findings,
    step_bounds,
    step_of,
    summarize,
    venue_placed,
)

A, B, C = "0x" + "a" * 32, "0x" + "b" * 32, "0x" + "c" * 32


def body(seq: int, cloid: str, event_type: str, state: str, *, filled: str = "0",
         reason: str | None = None, timestamp: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {"client_order_id": cloid, "order_state": state,
                            "filled_amount": filled, "event_sequence": seq}
    if reason is not None:
        data["reason"] = reason
    return {"event_type": event_type, "timestamp": timestamp, "sequence": seq, "epoch": 1,
            "data": data}


def record(name: str, *events: dict[str, Any]) -> EventRecord:
    r = EventRecord(name)
    for e in events:
        r.observe("orders.hyperliquid.update", e)
    return r


# --- sequences --------------------------------------------------------------------------------


def test_a_complete_stream_has_nothing_lost_duplicated_or_out_of_order() -> None:
    check = SequenceCheck()
    for seq in range(1, 101):
        check.add(seq)
    rep = check.report(1, 100)
    assert (rep.received, rep.lost, rep.duplicated, rep.out_of_order) == (100, 0, 0, 0)


def test_lost_events_are_counted_with_their_ranges() -> None:
    check = SequenceCheck()
    for seq in [*range(1, 10), *range(15, 21)]:
        check.add(seq)
    rep = check.report(1, 25)
    assert rep.lost == 5 + 5
    assert rep.lost_ranges == ((10, 14), (21, 25))


def test_events_lost_before_the_first_one_seen_count_when_judged_from_one() -> None:
    check = SequenceCheck()
    for seq in range(40, 51):
        check.add(seq)
    assert check.report().lost == 0  # its own range
    assert check.report(1, 50).lost == 39  # the soak's range: a late subscriber without replay


def test_duplicates_and_out_of_order_arrivals_are_counted() -> None:
    check = SequenceCheck()
    for seq in (1, 2, 4, 3, 3, 5, 2):
        check.add(seq)
    rep = check.report(1, 5)
    assert rep.lost == 0
    assert rep.duplicated == 2  # the second 3 and the second 2
    assert rep.out_of_order == 1  # 3 after 4 (repeats are duplicates, not reorderings)


def test_invalid_sequence_numbers_are_not_counted_as_events() -> None:
    check = SequenceCheck()
    check.add(0)
    check.add(-3)
    assert check.invalid == 2
    assert check.report().received == 0


@given(st.lists(st.integers(min_value=1, max_value=300), max_size=400))
def test_received_lost_and_duplicated_add_up(seqs: list[int]) -> None:
    check = SequenceCheck()
    for seq in seqs:
        check.add(seq)
    rep = check.report(1, 300)
    assert rep.received == len(set(seqs))
    assert rep.lost == 300 - len(set(seqs))
    assert rep.duplicated == len(seqs) - len(set(seqs))


# --- what a subscriber saw --------------------------------------------------------------------


def test_the_last_event_of_an_order_is_the_highest_sequence_even_out_of_order() -> None:
    r = record("s", body(1, A, "order_tracked", "PENDING_CREATE", timestamp=100),
               body(3, A, "order_cancelled", "CANCELLED", reason="canceled"),
               body(2, A, "order_created", "OPEN", timestamp=250))
    assert r.last[A].state == "CANCELLED"
    assert r.tracked_ns[A] == 100
    assert r.opened_ns[A] == 250
    assert r.sequence.out_of_order == 1


def test_malformed_bodies_are_counted_not_raised() -> None:
    r = EventRecord("s")
    r.observe("orders.hyperliquid.update", {"event_type": "x", "data": "not a map"})
    r.observe("orders.hyperliquid.update", {"event_type": "x", "data": {"event_sequence": 1}})
    assert r.malformed == 2
    assert r.events == 0


def test_nonce_and_expiry_rejections_are_found_in_reasons() -> None:
    r = record("s", body(1, A, "order_failed", "FAILED",
                         reason="Invalid nonce: nonce too low 5 < 9"),
               body(2, B, "order_failed", "FAILED", reason="Action already expired"),
               body(3, C, "order_failed", "FAILED", reason="Insufficient margin"))
    assert dict(r.nonce_expiry) == {"nonce": 1, "expiry": 1}
    assert nonce_expiry_kind("fine") is None
    assert r.failure_reasons["Insufficient margin"] == 1


# --- the venue's word ---------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "fills", "states"), [
    ("filled", False, {"FILLED"}),
    ("open", False, {"OPEN"}),
    ("open", True, {"PARTIALLY_FILLED"}),
    ("canceled", False, {"CANCELLED"}),
    ("selfTradeCanceled", False, {"CANCELLED"}),
    ("scheduledCancel", False, {"CANCELLED"}),
    ("badAloPxRejected", False, {"FAILED"}),
    ("badAloPxRejected", True, {"CANCELLED"}),
    ("rejected", False, {"FAILED"}),
    ("unknownOid", False, {"FAILED"}),
    ("somethingNew", False, set()),
])
def test_venue_statuses_map_to_final_states(status: str, fills: bool, states: set[str]) -> None:
    assert acceptable_states(status, had_fills=fills) == states


def test_placed_means_the_venue_had_it() -> None:
    assert venue_placed("canceled")
    assert venue_placed("filled")
    assert not venue_placed("iocCancelRejected")
    assert not venue_placed("unknownOid")


def kinds(records: list[EventRecord], venue: dict[str, VenueOrder],
          open_after: set[str] | None = None) -> dict[str, int]:
    counts: dict[str, int] = summarize(judge_orders(records, venue, open_after or set()))[
        "counts"]
    return counts


def test_agreement_is_no_discrepancy() -> None:
    r = record("s", body(1, A, "order_filled", "FILLED", filled="1"),
               body(2, B, "order_cancelled", "CANCELLED"),
               body(3, C, "order_failed", "FAILED", reason="never placed"))
    venue = {A: VenueOrder(status="filled"), B: VenueOrder(status="canceled"),
             C: VenueOrder(status="unknownOid")}
    assert kinds([r], venue) == {}


def test_a_filled_order_the_runtime_calls_cancelled_is_a_state_mismatch() -> None:
    # Finding 2 of issue 10: the replacement filled, the last event says CANCELLED.
    r = record("s", body(1, A, "order_modified", "OPEN"),
               body(2, A, "order_cancelled", "CANCELLED", filled="0.0002", reason="canceled"))
    found = judge_orders([r], {A: VenueOrder(status="filled")}, set())
    assert [d.kind for d in found] == ["state_mismatch"]
    assert "venue says filled" in found[0].detail


def test_a_stale_open_order_is_a_state_mismatch() -> None:
    r = record("s", body(1, A, "order_created", "OPEN"))
    assert kinds([r], {A: VenueOrder(status="filled")}) == {"state_mismatch": 1}


def test_failed_while_the_venue_placed_it_is_a_false_failed() -> None:
    r = record("s", body(1, A, "order_failed", "FAILED", reason="timeout"),
               body(2, B, "order_failed", "FAILED", reason="Post only order would have..."))
    venue = {A: VenueOrder(status="canceled"), B: VenueOrder(status="badAloPxRejected")}
    assert kinds([r], venue) == {"false_failed": 1}


def test_a_rejected_replacement_of_a_partly_filled_order_ends_cancelled() -> None:
    r = record("s", body(1, A, "order_cancelled", "CANCELLED", filled="0.0001"),
               body(2, B, "order_cancelled", "CANCELLED", filled="0"),
               body(3, C, "order_failed", "FAILED", filled="0.0001"))
    venue = {c: VenueOrder(status="badAloPxRejected") for c in (A, B, C)}
    found = judge_orders([r], venue, set())
    # B had no fill: it must be FAILED; C had fills: FAILED is wrong (it rested).
    assert sorted((d.kind, d.cloid) for d in found) == [("state_mismatch", B),
                                                        ("state_mismatch", C)]


def test_whether_an_order_has_fills_is_the_venue_s_word_when_known() -> None:
    # The runtime lost the fill (it says 0 filled, CANCELLED); the venue's fills say it had
    # one, so its rejected replacement ends CANCELLED: the state is right, the fill is not.
    r = record("s", body(1, A, "order_cancelled", "CANCELLED", filled="0"))
    venue = {A: VenueOrder(status="badAloPxRejected")}
    assert kinds([r], venue) == {"state_mismatch": 1}
    assert judge_orders([r], venue, set(), {A: Decimal("0.0001")}) == []
    assert [d.kind for d in judge_fills([r], {A: Decimal("0.0001")})] == ["fill_mismatch"]


def test_each_subscriber_is_judged_on_its_own_last_event() -> None:
    up_to_date = record("one", body(1, A, "order_created", "OPEN"),
                        body(2, A, "order_filled", "FILLED", filled="1"))
    stale = record("two", body(1, A, "order_created", "OPEN"))
    found = judge_orders([up_to_date, stale], {A: VenueOrder(status="filled")}, set())
    assert [(d.kind, d.subscriber) for d in found] == [("state_mismatch", "two")]


def test_an_order_the_venue_has_and_a_subscriber_never_heard_of_is_no_event() -> None:
    saw = record("one", body(1, A, "order_created", "CANCELLED"))
    missed = record("two")
    venue = {A: VenueOrder(status="canceled"), B: VenueOrder(status="filled")}
    counts = kinds([saw, missed], venue)
    assert counts == {"no_event": 3}  # A for two; B for both


def test_orders_left_open_and_orders_never_judged_are_discrepancies() -> None:
    r = record("s", body(1, A, "order_created", "OPEN"), body(2, B, "order_created", "OPEN"))
    counts = kinds([r], {A: VenueOrder(status="open")}, open_after={A})
    assert counts == {"left_open": 1, "unjudged": 1}


def test_an_unmapped_venue_status_is_reported() -> None:
    r = record("s", body(1, A, "order_created", "OPEN"))
    assert kinds([r], {A: VenueOrder(status="weird")}) == {"unmapped_status": 1}


def test_the_summary_counts_orders_and_keeps_bounded_samples() -> None:
    records = [record(f"s{i}", *[body(n + 1, f"0x{n:032x}", "order_created", "OPEN")
                                 for n in range(30)]) for i in range(2)]
    venue = {f"0x{n:032x}": VenueOrder(status="canceled") for n in range(30)}
    summary = summarize(judge_orders(records, venue, set()))
    assert summary["counts"] == {"state_mismatch": 60}
    assert summary["cloids"] == {"state_mismatch": 30}
    assert len(summary["samples"]["state_mismatch"]) == 20


def test_a_fill_the_runtime_never_booked_is_a_fill_mismatch() -> None:
    # Finding 3 of issue 10: a lost userFills frame; the venue filled 0.00024, the runtime 0.
    r = record("s", body(1, A, "order_cancelled", "CANCELLED", filled="0"),
               body(2, B, "order_filled", "FILLED", filled="0.0002"),
               body(3, C, "order_cancelled", "CANCELLED", filled="0"))
    venue = {A: Decimal("0.00024"), B: Decimal("0.00020")}
    found = judge_fills([r], venue)
    assert [(d.kind, d.cloid) for d in found] == [("fill_mismatch", A)]
    assert "0.00024" in found[0].detail
    assert judge_fills([r], venue, skip={A}) == []


# --- figures ------------------------------------------------------------------------------------


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    p = percentiles(values)
    assert (p["p50"], p["p90"], p["p99"], p["max"], p["n"]) == (50, 90, 99, 100, 100)
    assert percentiles([]) == {}
    assert percentiles([7.0])["p99"] == 7.0


def test_steps_are_found_by_time() -> None:
    bounds = step_bounds(1000, [(10.0, 1e-6), (20.0, 2e-6)])
    assert bounds == [(1000, 2000), (2000, 4000)]
    assert (step_of(999, bounds), step_of(1000, bounds), step_of(3999, bounds),
            step_of(4000, bounds)) == (None, 0, 1, None)


def test_counters_are_interpolated_between_samples() -> None:
    samples = [(0, 0.0), (10, 100.0), (20, 100.0)]
    assert interpolate(samples, 5) == 50.0
    assert interpolate(samples, 15) == 100.0
    assert interpolate(samples, 25) is None


def test_rss_is_bounded_when_it_stops_growing_once_the_load_drops() -> None:
    bounds = [(0, 10), (10, 20), (20, 30)]
    # Caches filled under load and kept (not handed back to the system): bounded.
    plateau = [(t, 1, (40 if t < 10 else 200) * 1024) for t in range(30)]
    # Still growing at low load after the loaded step: not bounded.
    growing = [(t, 1, (40 if t < 10 else 100 if t < 20 else 300) * 1024) for t in range(30)]
    # Bounded but far too big.
    huge = [(t, 1, 900 * 1024) for t in range(30)]
    assert not rss_findings(plateau, bounds)["growth_not_returned"]
    found = rss_findings(growing, bounds)
    assert found["growth_not_returned"]
    assert (found["first_step_mb"], found["last_step_mb"], found["peak_mb"]) == (40, 300, 300)
    assert rss_findings(huge, bounds)["growth_not_returned"]
