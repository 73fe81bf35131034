"""The simulator's matching engine, accounts and order lifecycle, driven directly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clock import ManualClock
from venues.simulator import leverage
from venues.simulator.config import DEFAULT_COINS, FeeSchedule
from venues.simulator.engine import Engine
from venues.simulator.model import (
    Errors,
    Filled,
    FillsHappened,
    OrderRequest,
    OrderUpdated,
    Rejected,
    Resting,
    Status,
    SystemCanceled,
    TradePrinted,
    Trigger,
    Waiting,
)

D = Decimal
ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
CAROL = "0x" + "c3" * 20
ETH = 1  # asset id of ETH in the default coins (szDecimals 4)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start_ns=1_750_000_000_000 * 1_000_000)


@pytest.fixture
def engine(clock: ManualClock) -> Engine:
    e = Engine(DEFAULT_COINS, FeeSchedule(), clock)
    for user in (ALICE, BOB, CAROL):
        e.fund(user, D(100_000))
    return e


def limit(is_buy: bool, px: str, sz: str, tif: str = "Gtc", **kw: object) -> OrderRequest:
    return OrderRequest(asset=ETH, is_buy=is_buy, px=D(px), sz=D(sz), tif=tif, **kw)  # type: ignore[arg-type]


def statuses(engine: Engine, oid: int) -> list[str]:
    events = engine.drain_events()
    return [e.status for e in events if isinstance(e, OrderUpdated) and e.order.oid == oid]


def test_resting_then_crossing_fills_both_sides_with_fees_and_one_trade(engine: Engine) -> None:
    maker = engine.place(ALICE, limit(False, "3000", "1"))
    assert isinstance(maker, Resting)
    taker = engine.place(BOB, limit(True, "3010", "0.4"))
    assert isinstance(taker, Filled)
    assert (taker.total_sz, taker.avg_px) == (D("0.4"), D("3000"))
    events = engine.drain_events()
    trades = [e for e in events if isinstance(e, TradePrinted)]
    assert len(trades) == 1
    assert (trades[0].px, trades[0].sz, trades[0].is_buy) == (D(3000), D("0.4"), True)
    assert (trades[0].buyer, trades[0].seller) == (BOB, ALICE)
    fills = {e.user: e.fills for e in events if isinstance(e, FillsHappened)}
    (bob_fill,), (alice_fill,) = fills[BOB], fills[ALICE]
    assert bob_fill.tid == alice_fill.tid == trades[0].tid
    assert bob_fill.hash == alice_fill.hash
    assert (bob_fill.crossed, alice_fill.crossed) == (True, False)
    assert bob_fill.fee == D("0.54")  # 1200 * 0.00045
    assert alice_fill.fee == D("0.18")  # 1200 * 0.00015
    assert (bob_fill.dir, alice_fill.dir) == ("Open Long", "Open Short")
    assert engine.accounts[BOB].szi("ETH") == D("0.4")
    assert engine.accounts[ALICE].szi("ETH") == D("-0.4")
    assert engine.accounts[BOB].balance == D(100_000) - D("0.54")
    assert engine.books["ETH"].depth(False, 5) == [(D(3000), D("0.6"), 1)]


def test_price_time_priority_and_partial_fill_walks_the_book(engine: Engine) -> None:
    first = engine.place(ALICE, limit(False, "3001", "1"))
    second = engine.place(CAROL, limit(False, "3001", "1"))
    better = engine.place(CAROL, limit(False, "3000", "0.5"))
    assert isinstance(first, Resting)
    assert isinstance(second, Resting)
    assert isinstance(better, Resting)
    engine.drain_events()
    out = engine.place(BOB, limit(True, "3001", "1.2"))
    assert isinstance(out, Filled)
    assert out.total_sz == D("1.2")
    assert out.avg_px == D("3000.58333333")  # (0.5*3000 + 0.7*3001) / 1.2
    fills = [f for e in engine.drain_events() if isinstance(e, FillsHappened) for f in e.fills
             if not f.crossed]
    assert [(f.oid, f.sz) for f in fills] == [(better.oid, D("0.5")), (first.oid, D("0.7"))]
    assert engine.books["ETH"].depth(False, 5) == [(D(3001), D("1.3"), 2)]


def test_gtc_partial_rests_remainder_and_ioc_partial_cancels_it(engine: Engine) -> None:
    engine.place(ALICE, limit(False, "3000", "0.5"))
    gtc = engine.place(BOB, limit(True, "3000", "1"))
    assert isinstance(gtc, Resting)
    assert engine.books["ETH"].depth(True, 1) == [(D(3000), D("0.5"), 1)]
    engine.place(ALICE, limit(False, "3005", "0.5"))
    ioc = engine.place(CAROL, limit(True, "3005", "2", tif="Ioc"))
    assert isinstance(ioc, Filled)
    assert ioc.total_sz == D("0.5")
    assert statuses(engine, ioc.oid)[-1] == Status.CANCELED
    assert engine.books["ETH"].best_ask() is None


@pytest.mark.parametrize(
    ("request_", "error", "status"),
    [
        (limit(True, "3000.05", "1"), Errors.TICK, Status.TICK_REJECTED),
        (limit(True, "123456.7", "1"), Errors.TICK, Status.TICK_REJECTED),
        (limit(True, "3000", "0.003"), Errors.MIN_NOTIONAL, Status.MIN_TRADE_NTL_REJECTED),
        (limit(True, "3000", "0.00001"), Errors.BAD_SIZE, Status.REJECTED),
        (limit(True, "3000", "1", tif="Ioc"), Errors.IOC_CANCEL, Status.IOC_CANCEL_REJECTED),
        (limit(True, "3000", "1", reduce_only=True), Errors.REDUCE_ONLY,
         Status.REDUCE_ONLY_REJECTED),
        (limit(True, "3000", "1000"), Errors.MARGIN, Status.PERP_MARGIN_REJECTED),
        (OrderRequest(asset=99, is_buy=True, px=D(1), sz=D(100)), "Asset 99 is out of range.",
         None),
    ],
)
def test_rejections_use_the_venue_strings_and_statuses(
    engine: Engine, request_: OrderRequest, error: str, status: str | None
) -> None:
    out = engine.place(ALICE, request_)
    assert out == Rejected(error)
    updates = [e for e in engine.drain_events() if isinstance(e, OrderUpdated)]
    assert [u.status for u in updates] == ([status] if status else [])
    assert engine.live_orders(ALICE) == []


def test_post_only_that_would_cross_reports_the_bbo(engine: Engine) -> None:
    engine.place(BOB, limit(True, "2999", "1"))
    engine.place(BOB, limit(False, "3001", "1"))
    out = engine.place(ALICE, limit(True, "3001", "1", tif="Alo"))
    assert out == Rejected("Post only order would have immediately matched, bbo was 2999.0@3001.0.")
    assert isinstance(engine.place(ALICE, limit(True, "3000", "1", tif="Alo")), Resting)


def test_positions_close_flip_and_realize_pnl(engine: Engine) -> None:
    engine.place(ALICE, limit(False, "3000", "1"))
    engine.place(BOB, limit(True, "3000", "1"))
    engine.place(ALICE, limit(True, "3100", "3"))
    engine.drain_events()
    flip = engine.place(BOB, limit(False, "3100", "3"))
    assert isinstance(flip, Filled)
    bob_fills = [f for e in engine.drain_events() if isinstance(e, FillsHappened)
                 and e.user == BOB for f in e.fills]
    assert len(bob_fills) == 1
    assert bob_fills[0].dir == "Long > Short"
    assert bob_fills[0].start_position == D(1)
    assert bob_fills[0].closed_pnl == D(100)
    assert engine.accounts[BOB].szi("ETH") == D(-2)
    assert engine.accounts[BOB].positions["ETH"].entry_px == D(3100)
    alice_fill = engine.reg.fills(ALICE)[-1]
    assert alice_fill.dir == "Short > Long"
    assert alice_fill.closed_pnl == D(-100)


def test_reduce_only_is_clamped_and_canceled_when_position_goes(engine: Engine) -> None:
    engine.place(ALICE, limit(False, "3000", "1"))
    engine.place(BOB, limit(True, "3000", "1"))
    ro = engine.place(BOB, limit(False, "3050", "5", reduce_only=True))
    assert isinstance(ro, Resting)
    assert engine.reg.find(BOB, ro.oid).sz == D(1)  # type: ignore[union-attr]
    engine.place(CAROL, limit(True, "2990", "1"))
    closing = engine.place(BOB, limit(False, "2990", "1", tif="Ioc"))
    assert isinstance(closing, Filled)
    events = engine.drain_events()
    assert any(isinstance(e, SystemCanceled) and e.oid == ro.oid for e in events)
    assert engine.reg.find(BOB, ro.oid).status == Status.REDUCE_ONLY_CANCELED  # type: ignore[union-attr]


def test_self_trade_expires_the_resting_order(engine: Engine) -> None:
    own = engine.place(ALICE, limit(False, "3000", "1"))
    other = engine.place(BOB, limit(False, "3001", "1"))
    out = engine.place(ALICE, limit(True, "3001", "1"))
    assert isinstance(own, Resting)
    assert isinstance(other, Resting)
    assert isinstance(out, Filled)
    assert engine.reg.find(ALICE, own.oid).status == Status.SELF_TRADE_CANCELED  # type: ignore[union-attr]
    assert engine.reg.fills(ALICE)[-1].oid == out.oid
    assert engine.reg.fills(BOB)[-1].oid == other.oid


def test_cancel_by_oid_and_cloid_and_missing(engine: Engine) -> None:
    cloid = "0x" + "0" * 31 + "7"
    a = engine.place(ALICE, limit(True, "2900", "1"))
    b = engine.place(ALICE, limit(True, "2901", "1", cloid=cloid))
    assert isinstance(a, Resting)
    assert isinstance(b, Resting)
    assert b.cloid == cloid
    assert engine.cancel(ALICE, ETH, a.oid)
    assert not engine.cancel(ALICE, ETH, a.oid)
    assert not engine.cancel(BOB, ETH, cloid)  # not Bob's order
    assert not engine.cancel(ALICE, 0, cloid)  # wrong asset
    assert engine.cancel(ALICE, ETH, cloid)
    assert engine.live_orders(ALICE) == []
    assert engine.place(ALICE, limit(True, "2901", "1", cloid=cloid)) == Rejected(
        Errors.DUPLICATE_CLOID
    )


def test_history_eviction_never_forgets_an_order_still_alive(
    engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With more resting orders than the history keeps, a new order (remembered before it
    rests) and a waiting trigger order must stay reachable by oid; finished ones go."""
    from venues.simulator import registry

    monkeypatch.setattr(engine.reg, "_history_cap", 3)
    monkeypatch.setattr(registry, "EVICT_BATCH", 1)
    done = engine.place(ALICE, limit(True, "2800", "1"))
    assert isinstance(done, Resting)
    assert engine.cancel(ALICE, ETH, done.oid)  # finished: may be forgotten
    resting = [engine.place(ALICE, limit(True, str(2900 + i), "1")) for i in range(4)]
    waiting = engine.place(ALICE, limit(False, "2000", "1", reduce_only=True,
                                        trigger=Trigger(trigger_px=D(2000), is_market=True,
                                                        tpsl="sl")))
    newest = engine.place(ALICE, limit(True, "2950", "1"))
    for outcome in (*resting, waiting, newest):
        assert isinstance(outcome, Resting)  # a trigger order answers "resting" too
        assert engine.cancel(ALICE, ETH, outcome.oid), f"order {outcome.oid} was forgotten"
    assert engine.reg.find(ALICE, done.oid) is None


def test_modify_replaces_with_a_new_oid_and_keeps_the_cloid(engine: Engine) -> None:
    cloid = "0x" + "ab" * 16
    first = engine.place(ALICE, limit(True, "2900", "1", cloid=cloid))
    assert isinstance(first, Resting)
    bad = engine.modify(ALICE, first.oid, limit(True, "2900.01", "1", cloid=cloid))
    assert bad == Rejected(Errors.TICK)
    assert engine.reg.find(ALICE, first.oid).status == Status.OPEN  # type: ignore[union-attr]
    out = engine.modify(ALICE, cloid, limit(True, "2950", "2", cloid=cloid))
    assert isinstance(out, Resting)
    assert out.oid != first.oid
    assert engine.reg.find(ALICE, first.oid).status == Status.CANCELED  # type: ignore[union-attr]
    assert engine.reg.find(ALICE, cloid).oid == out.oid  # type: ignore[union-attr]
    assert engine.modify(ALICE, first.oid, limit(True, "2950", "2")) == Rejected(
        "Cannot modify canceled or filled order"
    )


def test_stop_loss_triggers_on_mark_and_executes(engine: Engine) -> None:
    engine.place(ALICE, limit(False, "3000", "1"))
    engine.place(BOB, limit(True, "3000", "1"))  # Bob long 1 @ 3000
    engine.place(CAROL, limit(True, "2990", "2"))
    engine.place(CAROL, limit(False, "3010", "2"))  # mark 3000
    sl = engine.place(BOB, OrderRequest(
        asset=ETH, is_buy=False, px=D(2900), sz=D(1), reduce_only=True, tif=None,
        trigger=Trigger(is_market=True, trigger_px=D(2995), tpsl="sl"),
    ))
    assert isinstance(sl, Resting)
    assert engine.reg.find(BOB, sl.oid).trigger_condition() == "Price below 2995.0"  # type: ignore[union-attr]
    engine.drain_events()
    engine.cancel(CAROL, ETH, engine.live_orders(CAROL)[1].oid)  # mark: last trade 3000
    assert engine.reg.find(BOB, sl.oid).status == Status.OPEN  # type: ignore[union-attr]
    engine.place(CAROL, limit(False, "2994", "2"))  # mid 2992 <= 2995: fires
    assert statuses(engine, sl.oid) == [Status.TRIGGERED, Status.FILLED]
    assert engine.accounts[BOB].szi("ETH") == 0
    assert engine.reg.fills(BOB)[-1].dir == "Close Long"


def test_normal_tpsl_children_wait_for_the_parent_then_one_cancels_the_other(
    engine: Engine,
) -> None:
    def child(tpsl: str, trigger_px: str) -> OrderRequest:
        return OrderRequest(
            asset=ETH, is_buy=False, px=D(trigger_px), sz=D(1), reduce_only=True, tif=None,
            trigger=Trigger(is_market=False, trigger_px=D(trigger_px), tpsl=tpsl),
        )

    out = engine.place_batch(
        BOB, [limit(True, "3000", "1"), child("tp", "3100"), child("sl", "2900")], "normalTpsl"
    )
    assert isinstance(out[0], Resting)
    assert out[1:] == [Waiting("waitingForFill"), Waiting("waitingForFill")]
    parent = engine.reg.find(BOB, out[0].oid)
    assert parent is not None
    tp, sl = parent.children
    assert engine.triggers.armed("ETH") == []
    engine.place(ALICE, limit(False, "3000", "1"))  # fills the parent
    assert {o.oid for o in engine.triggers.armed("ETH")} == {tp.oid, sl.oid}
    engine.place(ALICE, limit(True, "3099", "1"))
    engine.place(ALICE, limit(True, "3150", "1"))
    engine.place(CAROL, limit(False, "3200", "1"))  # mid 3175 >= 3100: tp fires
    assert tp.status == Status.FILLED  # a sell limit at 3100 meets Alice's 3150 bid
    assert sl.status == Status.SIBLING_FILLED_CANCELED


def test_scheduled_cancel_fires_after_its_time(engine: Engine, clock: ManualClock) -> None:
    now = engine.now_ms()
    assert engine.schedule_cancel(ALICE, now + 1000) is not None
    engine.place(ALICE, limit(True, "2900", "1"))
    engine.place(ALICE, limit(True, "2901", "1"))
    assert engine.schedule_cancel(ALICE, now + 10_000) is None
    clock.advance(9)
    engine.tick()
    assert len(engine.live_orders(ALICE)) == 2
    clock.advance(1)
    engine.tick()
    assert engine.live_orders(ALICE) == []
    assert {o.status for o in engine.reg.history(ALICE)} == {Status.SCHEDULED_CANCEL}
    assert engine.scheduled.deadline(ALICE) is None


def test_leverage_and_isolated_margin(engine: Engine) -> None:
    assert leverage.update_leverage(engine, ALICE, ETH, is_cross=True, leverage=26) == (
        "Invalid leverage value"
    )
    assert leverage.update_leverage(engine, ALICE, ETH, is_cross=False, leverage=5) is None
    engine.place(BOB, limit(False, "3000", "1"))
    engine.place(ALICE, limit(True, "3000", "1"))
    margin = engine.margin(ALICE)
    assert margin.position_margin(engine.accounts[ALICE].positions["ETH"]) == D(600)
    assert leverage.update_leverage(engine, ALICE, ETH, is_cross=True, leverage=5) == (
        "Cannot switch leverage type with open position."
    )
    assert leverage.update_isolated_margin(engine, ALICE, ETH, 50_000_000) is None
    assert engine.margin(ALICE).position_margin(engine.accounts[ALICE].positions["ETH"]) == D(650)
    assert leverage.update_isolated_margin(engine, ALICE, ETH, -60_000_000) == (
        "Insufficient isolated margin to remove"
    )
    assert leverage.update_isolated_margin(engine, BOB, ETH, 1) == (
        "Cannot update margin for cross position"
    )


def test_the_history_cap_is_configurable() -> None:
    from clock import ManualClock
    from venues.simulator.config import SimulatorConfig, config_from_dict
    from venues.simulator.core import SimulatorCore

    config = config_from_dict({"history_cap": 100_000, "flow": {"enabled": False}})
    assert config.history_cap == 100_000
    with pytest.raises(ValueError, match="history_cap"):
        SimulatorConfig(history_cap=10)
    clock = ManualClock()
    core = SimulatorCore(config, clock, clock, transport_clock=clock)
    assert core.engine.reg._history_cap == 100_000
