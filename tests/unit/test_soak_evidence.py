"""The soak's evidence from the venue (scripts/soak_support/evidence.py) with a scripted ``Info``:
polls of ``historicalOrders`` cover every order while they overlap, a cloid never listed under
complete coverage was never placed, statuses not final are asked by cloid, an order the venue
listed and later forgot is not judged, 429s are waited out."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from hyperliquid.utils.error import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from soak_support.evidence import HISTORY_LIMIT, Evidence

USER = "0x" + "1" * 40


def cloid(n: int) -> str:
    return f"0x{n:032x}"


def row(oid: int, status: str, n: int | None = None) -> dict[str, Any]:
    order: dict[str, Any] = {"oid": oid, "coin": "BTC"}
    if n is not None:
        order["cloid"] = cloid(n)
    return {"order": order, "status": status, "statusTimestamp": oid}


class FakeInfo:
    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self.statuses: dict[str, Any] = {}
        self.open: list[dict[str, Any]] = []
        self.asked: list[str] = []
        self.fail_next = 0
        self.fills: list[dict[str, Any]] = []

    def historical_orders(self, user: str) -> list[dict[str, Any]]:
        assert user == USER
        if self.fail_next:
            self.fail_next -= 1
            raise ClientError(429, None, "null", None)
        return list(self.history)

    def query_order_by_cloid(self, user: str, c: Any) -> Any:
        text = c.to_raw()
        self.asked.append(text)
        return self.statuses.get(text, {"status": "unknownOid"})

    def open_orders(self, user: str) -> list[dict[str, Any]]:
        return self.open

    def user_fills_by_time(self, user: str, start: int) -> list[dict[str, Any]]:
        return [f for f in self.fills if f["time"] >= start][:HISTORY_LIMIT]


def evidence(info: FakeInfo) -> Evidence:
    return Evidence(info, USER, source_ip=None, sleep=lambda _s: None)


def test_overlapping_polls_cover_everything_and_unlisted_cloids_were_never_placed() -> None:
    info = FakeInfo()
    ev = evidence(info)
    info.history = [row(10, "canceled", 1), row(11, "filled", 2)]
    ev.poll_history()
    info.history = [row(12, "canceled", 3), *info.history]
    answers, stats = ev.resolve([cloid(1), cloid(2), cloid(3), cloid(4)], budget_s=5,
                                cross_check=0, seed=1)
    assert stats["coverage_complete"]
    assert {c: a.status for c, a in answers.items()} == {
        cloid(1): "canceled", cloid(2): "filled", cloid(3): "canceled", cloid(4): "unknownOid"}
    assert answers[cloid(4)].source == "historicalOrders"
    assert info.asked == []


def test_a_full_answer_that_does_not_reach_back_to_the_last_poll_is_a_gap() -> None:
    info = FakeInfo()
    ev = evidence(info)
    info.history = [row(5, "canceled", 1)]
    ev.poll_history()
    info.history = [row(100 + i, "canceled", 10 + i) for i in range(HISTORY_LIMIT)][::-1]
    answers, stats = ev.resolve([cloid(1), cloid(9)], budget_s=5, cross_check=0, seed=1)
    assert stats["gaps"] == 1
    assert not stats["coverage_complete"]
    # Not listed, coverage broken and no tracked time known: asked by cloid; its unknownOid
    # may mean forgotten, so it is not judged.
    assert info.asked == [cloid(9)]
    assert cloid(9) not in answers
    assert answers[cloid(1)].status == "canceled"


def test_statuses_not_final_are_asked_by_cloid_and_the_newest_leg_counts() -> None:
    info = FakeInfo()
    ev = evidence(info)
    # A modify gave cloid 1 a new oid: the old leg is canceled, the new one open when listed.
    info.history = [row(21, "open", 1), row(20, "canceled", 1)]
    info.statuses[cloid(1)] = {"status": "order", "order": {"status": "filled"}}
    answers, _ = ev.resolve([cloid(1)], budget_s=5, cross_check=0, seed=1)
    assert info.asked == [cloid(1)]
    assert answers[cloid(1)].status == "filled"


def test_an_order_listed_then_forgotten_is_left_unjudged() -> None:
    info = FakeInfo()
    ev = evidence(info)
    info.history = [row(30, "open", 1)]
    ev.poll_history()
    info.history = []  # the exchange forgot it (bounded history): orderStatus says unknownOid
    answers, _ = ev.resolve([cloid(1)], budget_s=5, cross_check=0, seed=1)
    assert cloid(1) not in answers


def test_the_cross_check_reports_disagreements() -> None:
    info = FakeInfo()
    ev = evidence(info)
    info.history = [row(40, "canceled", 1)]
    info.statuses[cloid(1)] = {"status": "order", "order": {"status": "filled"}}
    answers, stats = ev.resolve([cloid(1)], budget_s=5, cross_check=5, seed=1)
    assert stats["cross_checked"] == 1
    assert stats["cross_check_disagreements"] == [
        f"{cloid(1)}: listed canceled, orderStatus filled"]
    assert answers[cloid(1)].status == "filled"  # the direct answer wins


def test_orders_the_venue_lists_that_nobody_saw_are_judged_too() -> None:
    info = FakeInfo()
    ev = evidence(info)
    info.history = [row(50, "filled", 7), row(51, "canceled")]  # one without a cloid
    answers, _ = ev.resolve([], budget_s=5, cross_check=0, seed=1)
    assert {c: a.status for c, a in answers.items()} == {cloid(7): "filled"}


def test_rate_limited_polls_are_retried() -> None:
    info = FakeInfo()
    ev = evidence(info)
    info.history = [row(60, "canceled", 1)]
    info.fail_next = 2
    assert ev.poll_history() == 1
    assert ev.rate_limited == 2


def test_open_orders_by_cloid() -> None:
    info = FakeInfo()
    info.open = [{"oid": 1, "cloid": cloid(3).upper().replace("0X", "0x")}, {"oid": 2}]
    cloids, count = evidence(info).open_orders()
    assert cloids == {cloid(3)}
    assert count == 2


def test_fills_are_summed_per_cloid_across_pages_without_double_counting() -> None:
    info = FakeInfo()
    # 4,500 fills over 3 pages; page boundaries repeat the boundary millisecond.
    info.fills = [{"tid": t, "time": 1000 + t // 3, "cloid": cloid(1 + t % 2), "sz": "0.001"}
                  for t in range(4500)]
    info.fills.append({"tid": 99_999, "time": 9_999, "sz": "5"})  # no cloid: not ours
    sizes, complete_from = evidence(info).fills(0)
    assert complete_from is None
    assert sizes == {cloid(1): Decimal("2.250"), cloid(2): Decimal("2.250")}


def test_fills_beyond_what_the_venue_keeps_are_marked() -> None:
    info = FakeInfo()
    info.fills = [{"tid": t, "time": 5000 + t, "cloid": cloid(1), "sz": "1"}
                  for t in range(10_000)]
    _, complete_from = evidence(info).fills(0)
    assert complete_from == 5000


def timed_row(oid: int, status: str, n: int, created_ms: int) -> dict[str, Any]:
    r = row(oid, status, n)
    r["order"]["timestamp"] = created_ms
    return r


def test_orders_tracked_around_a_gap_are_asked_and_an_unknown_oid_is_not_trusted() -> None:
    info = FakeInfo()
    clock = {"ms": 1_000_000}
    ev = Evidence(info, USER, source_ip=None, sleep=lambda _s: None, now_ms=lambda: clock["ms"])
    info.history = [timed_row(5, "canceled", 1, 999_000)]
    ev.poll_history()
    clock["ms"] = 1_100_000  # the next poll is late: its oldest order was created at 1,090,000
    info.history = [timed_row(100 + i, "canceled", 10_000 + i, 1_090_000 + i)
                    for i in range(HISTORY_LIMIT)][::-1]
    ev.poll_history()
    assert ev.gap_windows == [(1_000_000, 1_090_000)]
    tracked = {cloid(2): 1_050_000,   # inside the gap: maybe created and forgotten
               cloid(3): 900_000,     # long before the gap: never placed
               cloid(4): 1_060_000}   # inside the gap, but the venue still knows it
    info.statuses[cloid(4)] = {"status": "order", "order": {"status": "canceled"}}
    answers, stats = ev.resolve([cloid(2), cloid(3), cloid(4)], budget_s=5, cross_check=0,
                                seed=1, tracked_ms=tracked)
    assert sorted(info.asked) == [cloid(2), cloid(4)]
    assert cloid(2) not in answers  # unjudged, not a false "never placed"
    assert answers[cloid(3)].status == "unknownOid"
    assert answers[cloid(4)].status == "canceled"
    assert stats["ambiguous_forgotten"] == 1
    assert not stats["coverage_complete"]


def test_an_unknown_oid_for_an_order_with_fills_is_not_trusted() -> None:
    info = FakeInfo()
    ev = evidence(info)
    info.history = [row(7, "open", 1)]
    answers, _ = ev.resolve([cloid(1)], budget_s=5, cross_check=0, seed=1,
                            filled={cloid(1)})
    assert cloid(1) not in answers


def test_a_5xx_is_retried_at_once_and_a_429_after_a_growing_wait() -> None:
    from hyperliquid.utils.error import ServerError

    waits: list[float] = []
    info = FakeInfo()
    ev = Evidence(info, USER, source_ip=None, sleep=waits.append)
    answers: Iterator[Exception | str] = iter([
        ServerError(502, "502"), ServerError(502, "502"), ClientError(429, None, "null", None),
        ClientError(429, None, "null", None), "ok"])

    def call() -> str:
        item = next(answers)
        if isinstance(item, Exception):
            raise item
        return item

    assert ev._call(call, "test") == "ok"
    assert waits == [0.1, 0.1, 1.0, 1.5]
