"""The load strategy's logic (`LoadCore`), driven without threads: pacing by the stepped
schedule, what each kind of order becomes, cancels once open, modify then cancel, refusals
counted; and its `[load]` configuration."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from actors.load_generator import Cancel, LoadCore, LoadSettings, Modify, Place
from messages.enums import OrderSide, OrderState, OrderType, TimeInForce
from messages.ids import ClientOrderId
from messages.orders import (
    OrderAccepted,
    OrderCancelled,
    OrderCancelRejected,
    OrderEvent,
    OrderFailed,
    OrderFilled,
    OrderModified,
    OrderPendingCancel,
)
from messages.tracking import CommandRejected
from runtime.config import ConfigError, from_dict, load_settings

S = 1_000_000_000
T0 = 1_700_000_000 * S
BID, ASK = Decimal(99_990), Decimal(100_010)


def settings(**changes: Any) -> LoadSettings:
    base: dict[str, Any] = {"trading_pair": "BTC-USD", "schedule": ((10.0, 2.0), (50.0, 1.0)),
                            "cross_fraction": 0.0, "modify_fraction": 0.0}
    base.update(changes)
    return LoadSettings(**base)


def core(**changes: Any) -> LoadCore:
    c = LoadCore(settings(**changes), seed="test")
    c.start(T0)
    c.touch(BID, ASK)
    return c


def run(c: LoadCore, until_ns: int, step_ns: int = S // 100) -> list[Place]:
    """Tick every 10 ms up to ``until_ns``; every place is registered as sent."""
    placed: list[Place] = []
    now = T0
    n = 0
    while now < until_ns:
        now += step_ns
        for action in c.tick(now):
            if isinstance(action, Place):
                n += 1
                c.placed(ClientOrderId.derive("t", n), action, now)
                placed.append(action)
    return placed


def event(cls: type[OrderEvent], cloid: ClientOrderId, state: OrderState,
          **extra: Any) -> Any:
    fields: dict[str, Any] = {
        "client_order_id": cloid, "exchange_order_id": None, "trading_pair": "BTC-USD",
        "side": OrderSide.BUY, "order_type": OrderType.LIMIT_MAKER, "price": BID,
        "amount": Decimal("0.0002"), "filled_amount": Decimal(0), "order_state": state,
        "strategy_id": "load", "sequence": 1, "ts_event": T0, "ts_init": T0}
    fields.update(extra)
    return cls(**fields)


def test_submits_follow_the_stepped_rate_then_stop() -> None:
    c = core()
    placed = run(c, T0 + 4 * S)
    # 10/s for 2 s, then 50/s for 1 s, then nothing.
    assert len(placed) == 70
    assert [s.offered for s in c.steps] == [20, 50]
    assert c.step_at(T0 + 3 * S) is None


def test_a_stalled_timer_makes_up_at_most_one_second() -> None:
    c = core(schedule=((20.0, 60.0),))
    assert len(c.tick(T0 + 10 * S)) == 20


def test_a_schedule_anchored_in_the_past_resumes_where_it_is() -> None:
    c = LoadCore(settings(start_at_ns=T0 - 2 * S), seed="x")
    c.start(T0)
    c.touch(BID, ASK)
    assert c.step_at(T0) == 1
    assert len(run(c, T0 + S)) == 50


def test_without_a_touch_nothing_is_sent_and_it_is_counted() -> None:
    c = LoadCore(settings(), seed="x")
    c.start(T0)
    assert c.tick(T0 + S) == []
    assert c.steps[0].no_book == 10


def test_resting_orders_rest_behind_the_touch_and_crossing_orders_cross() -> None:
    c = core(cross_fraction=0.5, rest_distance_bps=Decimal(100))
    placed = run(c, T0 + 2 * S)
    rest = [p for p in placed if p.kind == "rest"]
    cross = [p for p in placed if p.kind == "cross"]
    assert rest
    assert cross
    for p in rest:
        assert p.order_type is OrderType.LIMIT_MAKER
        assert p.time_in_force is TimeInForce.ALO
        assert (p.price < BID) if p.side is OrderSide.BUY else (p.price > ASK)
        assert p.price * Decimal("1.1") > ASK
        assert p.price * Decimal("0.9") < BID
    for p in cross:
        assert p.time_in_force is TimeInForce.IOC
        assert (p.price > ASK) if p.side is OrderSide.BUY else (p.price < BID)
    for p in placed:
        assert p.amount * (BID + ASK) / 2 >= Decimal("19.99")
    # Sides alternate, so fills of the crossing orders keep the position near flat.
    sides = [p.side for p in cross]
    assert abs(sides.count(OrderSide.BUY) - sides.count(OrderSide.SELL)) <= 1


def test_a_resting_order_is_cancelled_once_open_and_only_once() -> None:
    c = core()
    assert len(run(c, T0 + S // 10)) == 2  # at 0 and 0.1 s
    cloid = ClientOrderId.derive("t", 1)
    assert c.on_event(event(OrderAccepted, cloid, OrderState.OPEN), T0) == [
        Cancel(client_order_id=cloid)]
    assert c.on_event(event(OrderPendingCancel, cloid, OrderState.PENDING_CANCEL), T0) == []
    assert c.on_event(event(OrderFilled, cloid, OrderState.PARTIALLY_FILLED,
                            **_fill()), T0) == []
    assert c.steps[0].accepted == 1
    assert c.on_event(event(OrderCancelled, cloid, OrderState.CANCELLED, reason="x"), T0) == []
    assert c.live == 1  # the second order


def test_a_refused_cancel_of_a_live_order_is_retried_a_bounded_number_of_times() -> None:
    c = core()
    run(c, T0 + S // 10)
    cloid = ClientOrderId.derive("t", 1)
    c.on_event(event(OrderAccepted, cloid, OrderState.OPEN), T0)
    rejected = event(OrderCancelRejected, cloid, OrderState.OPEN, reason="busy")
    assert c.on_event(rejected, T0) == [Cancel(client_order_id=cloid)]
    assert c.on_event(rejected, T0) == [Cancel(client_order_id=cloid)]
    assert c.on_event(rejected, T0) == []


def test_a_modify_order_is_moved_to_the_touch_once_then_cancelled_after_the_hold() -> None:
    c = core(modify_fraction=1.0, modify_hold_s=1.0)
    placed = run(c, T0 + S // 10)
    assert placed[0].kind == "modify"
    cloid = ClientOrderId.derive("t", 1)
    opened = T0 + S // 5
    assert c.on_event(event(OrderAccepted, cloid, OrderState.OPEN), opened) == [
        Modify(client_order_id=cloid, price=BID)]
    modified = event(OrderModified, cloid, OrderState.OPEN, previous_exchange_order_id=None)
    assert c.on_event(modified, opened) == []
    assert Cancel(client_order_id=cloid) not in c.tick(opened + S // 2)
    assert Cancel(client_order_id=cloid) in c.tick(opened + S)
    assert Cancel(client_order_id=cloid) not in c.tick(opened + 2 * S)


def test_a_modify_whose_answer_is_lost_is_still_cancelled() -> None:
    c = core(modify_fraction=1.0, modify_hold_s=0.5)
    run(c, T0 + S // 10)
    cloid = ClientOrderId.derive("t", 1)
    c.on_event(event(OrderAccepted, cloid, OrderState.OPEN), T0)
    assert Cancel(client_order_id=cloid) in c.tick(T0 + S)


def test_a_modified_order_that_fills_needs_no_cancel() -> None:
    c = core(modify_fraction=1.0, modify_hold_s=0.5)
    run(c, T0 + S // 10)
    cloid = ClientOrderId.derive("t", 1)
    c.on_event(event(OrderAccepted, cloid, OrderState.OPEN), T0)
    c.on_event(event(OrderFilled, cloid, OrderState.FILLED, **_fill()), T0)
    assert c.steps[0].filled == 1
    assert Cancel(client_order_id=cloid) not in c.tick(T0 + S)


def test_failures_and_refusals_are_counted_not_raised() -> None:
    c = core()
    run(c, T0 + S // 5)
    first, second = ClientOrderId.derive("t", 1), ClientOrderId.derive("t", 2)
    assert c.on_event(event(OrderFailed, first, OrderState.FAILED,
                            reason="Invalid nonce: nonce too low"), T0) == []
    c.on_rejected(CommandRejected(command="SubmitOrder", client_order_id=second,
                                  strategy_id="load", reason="backlog", ts_init=T0))
    c.on_rejected(CommandRejected(command="CancelOrder", client_order_id=None,
                                  strategy_id="load", reason="unknown order", ts_init=T0))
    assert c.steps[0].failed == 1
    assert c.steps[0].refused == 1
    assert c.command_rejections == 2
    assert c.failure_reasons == {"Invalid nonce: nonce too low": 1}
    # Events about orders it never placed are ignored.
    stranger = ClientOrderId.derive("other", 1)
    assert c.on_event(event(OrderAccepted, stranger, OrderState.OPEN), T0) == []


def test_orders_of_an_earlier_incarnation_are_cancelled() -> None:
    c = core()
    cloid = ClientOrderId.derive("old", 1)
    assert c.adopt_for_cancel(cloid, OrderSide.SELL) == [Cancel(client_order_id=cloid)]


def test_steps_over_before_a_restart_are_not_reported_again() -> None:
    c = LoadCore(settings(start_at_ns=T0 - 5 * S // 2), seed="x")
    c.start(T0)
    assert c.report_due(T0) == []  # step 1 ended before this start
    assert c.report_due(T0 + S) == [1]


def test_finished_steps_are_reported_once() -> None:
    c = core()
    assert c.report_due(T0 + S) == []
    assert c.report_due(T0 + 5 * S // 2) == [0]
    assert c.report_due(T0 + 10 * S) == [1]
    assert c.report_due(T0 + 11 * S) == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"schedule": ()}, "schedule must list at least one"),
    ({"schedule": ((-1.0, 5.0),)}, "submits per second must be >= 0"),
    ({"schedule": ((1.0, 0.0),)}, "seconds > 0"),
    ({"order_notional": Decimal(5)}, "order_notional must be >= 10"),
    ({"rest_distance_bps": Decimal(1500)}, "rest_distance_bps must be > 0 and < 1000"),
    ({"cross_fraction": 1.5}, "cross_fraction must be between 0 and 1"),
    ({"cross_fraction": 0.6, "modify_fraction": 0.6}, "must not exceed 1"),
    ({"modify_hold_s": "1"}, "modify_hold_s must be a number"),
])
def test_bad_settings_name_the_setting(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings(**changes)


def test_the_load_table_configures_the_strategy() -> None:
    config = from_dict({"strategy": {"kind": "load", "id": "load", "trading_pair": "ETH-USD"},
                        "load": {"schedule": [[10, 30], [200, 60]], "order_notional": 15,
                                 "cross_fraction": 0.2, "start_at": 1_700_000_000}})
    s = load_settings(config)
    assert s.trading_pair == "ETH-USD"
    assert s.schedule == ((10.0, 30.0), (200.0, 60.0))
    assert s.order_notional == Decimal(15)
    assert s.cross_fraction == 0.2
    assert s.start_at_ns == 1_700_000_000 * S


@pytest.mark.parametrize(("load", "message"), [
    ({"schedule": "fast"}, r"\[load\] schedule must be a list"),
    ({"schedule": [[10]]}, r"\[load\] schedule must be a list"),
    ({"order_notional": 1}, r"\[load\] order_notional must be >= 10"),
    ({"rest_distance_bps": 0}, r"\[load\] rest_distance_bps"),
    ({"modify_fraction": 2}, r"\[load\] modify_fraction must be between 0 and 1"),
    ({"rate": 5}, r"\[load\] unknown setting 'rate'"),
])
def test_a_bad_load_table_is_a_configuration_error(load: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict({"strategy": {"kind": "load"}, "load": load})


def _fill() -> dict[str, Any]:
    from messages.enums import LiquiditySide
    from messages.ids import TradeId

    return {"fill_price": BID, "fill_amount": Decimal("0.0001"), "fee": Decimal(0),
            "fee_asset": "USDC", "trade_id": TradeId(1), "liquidity": LiquiditySide.MAKER}
