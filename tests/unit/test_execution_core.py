"""Execution's logic: normalisation and risk, transports, answers, budgets, reconciliation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest

from actors.gating.normalize import RiskConfig
from messages import (
    CancelAnswered,
    ClientOrderId,
    OrderSide,
    OrderType,
    SubmitAnswered,
    SubmitOrder,
    SubmitOutcome,
    TimeInForce,
)
from messages.connection import ConnectionStateChanged, ResponseReceived
from messages.enums import RequestKind
from messages.execution import RenewDeadman, RequestExpired
from messages.signing import ScheduleCancel
from messages.tracking import OrderDenied, ReconcileRequested, RequestSent
from messages.venue import FillsReported, OpenOrdersReported, OrderStatusReported, RequestFailed
from tests.support.execution import ACCOUNT, Rig
from tests.support.execution import answer as _answer
from tests.support.execution import order as _order
from tests.support.execution import signed as _signed


def test_limit_orders_are_rounded_passively() -> None:
    rig = Rig()
    rig.gate.submit(_order())
    (out,) = rig.tracker
    assert isinstance(out, SubmitOrder)
    assert out.amount == Decimal("0.00123")  # sizes round down
    assert out.price == Decimal("65432")  # 5 significant figures, a buy rounds down
    rig.gate.submit(_order(side=OrderSide.SELL, client_order_id=ClientOrderId.derive("ex", 2)))
    assert rig.tracker[-1].price == Decimal("65433")  # a sell rounds up


def test_an_order_already_valid_for_the_market_passes_unchanged() -> None:
    rig = Rig()
    valid = _order(amount=Decimal("0.00123"), price=Decimal("65432"))
    rig.gate.submit(valid)
    assert rig.tracker[-1] is valid
    # Equal but written differently ("65432.0"): normalised to the canonical form.
    padded = _order(amount=Decimal("0.00123"), price=Decimal("65432.0"),
                    client_order_id=ClientOrderId.derive("ex", 5))
    rig.gate.submit(padded)
    out = rig.tracker[-1]
    assert out is not padded
    assert str(out.price) == "65432"


def test_market_orders_use_the_mid_and_slippage() -> None:
    rig = Rig()
    rig.gate.submit(_order(order_type=OrderType.MARKET, price=None, amount=Decimal("0.01")))
    denied = rig.tracker[-1]
    assert isinstance(denied, OrderDenied)
    assert "fresh price" in denied.reason
    rig.quote("BTC-USD", "60000", "60010")
    rig.gate.submit(_order(order_type=OrderType.MARKET, price=None, amount=Decimal("0.01"),
                           client_order_id=ClientOrderId.derive("ex", 3)))
    out = rig.tracker[-1]
    assert isinstance(out, SubmitOrder)
    assert out.price is not None
    assert Decimal("60005") < out.price <= Decimal("60005") * Decimal("1.05")
    assert out.effective_time_in_force is TimeInForce.IOC


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (_order(trading_pair="DOGE-USD"), "unknown trading pair"),
        (_order(amount=Decimal("0.0001")), "below the minimum"),
        (_order(amount=Decimal("0.000001")), "rounds to zero"),
        (_order(amount=Decimal("100")), "above the limit"),
    ],
)
def test_denials_become_order_denied(order: SubmitOrder, reason: str) -> None:
    rig = Rig()
    rig.gate.submit(order)
    (out,) = rig.tracker
    assert isinstance(out, OrderDenied)
    assert reason in out.reason


def test_price_band_and_halt() -> None:
    rig = Rig()
    rig.quote("BTC-USD", "60000", "60010")
    rig.gate.submit(_order(price=Decimal("80000")))
    assert "from the mid" in rig.tracker[-1].reason
    from messages.gate import SetTradingState

    rig.gate.set_trading_state(SetTradingState(halted=True, reason="operator", ts_init=0))
    rig.gate.submit(_order(price=Decimal("60000"), client_order_id=ClientOrderId.derive("x", 1)))
    assert "halted" in rig.tracker[-1].reason


def test_submit_throttle_per_strategy() -> None:
    rig = Rig(risk=RiskConfig(max_submits_per_s=2))
    for n in range(6):
        rig.gate.submit(_order(client_order_id=ClientOrderId.derive("t", n)))
    denied = [o for o in rig.tracker if isinstance(o, OrderDenied)]
    assert len(denied) == 2
    assert "rate" in denied[0].reason


def test_signed_actions_go_over_ws_and_are_reported_sent() -> None:
    rig = Rig()
    rig.core.signed(_signed())
    assert len(rig.ws) == 1
    assert rig.ws[0][1] == "action"
    sent = rig.tracker[-1]
    assert isinstance(sent, RequestSent)
    assert sent.kind is RequestKind.SUBMIT
    assert any(isinstance(m, RequestExpired) for _, m in rig.later)


def test_http_fallback_when_ws_is_down() -> None:
    rig = Rig(ws_up=False)
    rig.core.signed(_signed())
    assert rig.http[0][1] == "/exchange"
    assert not rig.ws


def test_order_answers_become_evidence() -> None:
    rig = Rig()
    action = _signed(n=2)
    rig.core.signed(action)
    _answer(rig, action.request_id, {"status": "ok", "response": {"type": "order", "data": {
        "statuses": [{"resting": {"oid": 5}}, {"error": "Order must have minimum value of $10."}]
    }}})
    answers = [o for o in rig.tracker if isinstance(o, SubmitAnswered)]
    assert [a.outcome for a in answers] == [SubmitOutcome.RESTING, SubmitOutcome.REJECTED]
    assert answers[0].exchange_order_id == 5
    assert "minimum value" in answers[1].error


def test_cancel_answers() -> None:
    rig = Rig()
    action = _signed(RequestKind.CANCEL)
    rig.core.signed(action)
    _answer(rig, action.request_id, {"status": "ok", "response": {"type": "cancel", "data": {
        "statuses": ["success"]}}})
    assert isinstance(rig.tracker[-1], CancelAnswered)
    assert rig.tracker[-1].success


@pytest.mark.parametrize(
    ("status", "written", "payload", "definitive"),
    [
        (200, True, {"status": "err", "response": "L1 error: bad"}, True),
        (422, True, None, True),
        (502, True, None, False),
        (0, False, None, True),
        (0, True, None, False),
    ],
)
def test_failures_are_definitive_only_when_the_venue_certainly_did_nothing(
    status: int, written: bool, payload: Any, definitive: bool
) -> None:
    rig = Rig()
    action = _signed()
    rig.core.signed(action)
    _answer(rig, action.request_id, payload, status=status, written=written, error="boom")
    failed = rig.tracker[-1]
    assert isinstance(failed, RequestFailed)
    assert failed.definitive is definitive


def test_no_answer_in_time_is_not_a_failure_and_late_answers_still_count() -> None:
    rig = Rig()
    action = _signed()
    rig.core.signed(action)
    rig.core.expired(RequestExpired(request_id=action.request_id, ts_init=0))
    failed = rig.tracker[-1]
    assert isinstance(failed, RequestFailed)
    assert not failed.definitive
    _answer(rig, action.request_id, {"status": "ok", "response": {"type": "order", "data": {
        "statuses": [{"resting": {"oid": 9}}]}}})
    assert isinstance(rig.tracker[-1], SubmitAnswered)


def test_ws_loss_resends_identical_bytes_over_http_and_reads_duplicate_nonce_as_unknown() -> (
    None
):
    rig = Rig()
    action = _signed()
    rig.core.signed(action)
    rig.ws_up = False
    rig.core.connection_changed(ConnectionStateChanged(connection="ws", connected=False,
                                                       reason="dropped", ts_init=0))
    assert rig.http == [(action.request_id, "/exchange", action.body)]
    _answer(rig, action.request_id, {"status": "err",
                                     "response": f"Invalid nonce: duplicate nonce {action.nonce}"})
    failed = rig.tracker[-1]
    assert isinstance(failed, RequestFailed)
    assert not failed.definitive


def test_reconciliation_queries_and_their_answers() -> None:
    rig = Rig()
    cloid = ClientOrderId.derive("ex", 1)
    rig.core.reconcile(ReconcileRequested(client_order_ids=(cloid,), open_orders=True,
                                          fills_since_ms=1000, reason="test", ts_init=0))
    bodies = {orjson.loads(b)["type"]: (i, orjson.loads(b)) for i, _, b in rig.ws}
    assert set(bodies) == {"orderStatus", "openOrders", "userFillsByTime"}
    assert bodies["orderStatus"][1]["oid"] == cloid
    assert bodies["orderStatus"][1]["user"] == ACCOUNT
    _answer(rig, bodies["orderStatus"][0], {"status": "unknownOid"})
    _answer(rig, bodies["openOrders"][0], [{"coin": "BTC", "side": "B", "limitPx": "60000.0",
                                            "sz": "0.1", "oid": 3, "timestamp": 1,
                                            "origSz": "0.1", "cloid": str(cloid)}])
    _answer(rig, bodies["userFillsByTime"][0], [])
    kinds = [type(o).__name__ for o in rig.tracker]
    assert kinds == ["OrderNotFoundReported", "OpenOrdersReported", "FillsReported"]
    open_orders = rig.tracker[1]
    assert isinstance(open_orders, OpenOrdersReported)
    report = open_orders.orders[0]
    assert isinstance(report, OrderStatusReported)
    assert report.client_order_id == cloid
    assert report.trading_pair == "BTC-USD"
    assert isinstance(rig.tracker[2], FillsReported)


def test_malformed_answers_are_reconciled_not_guessed() -> None:
    rig = Rig()
    action = _signed()
    rig.core.signed(action)
    rig.core.response(ResponseReceived(request_id=action.request_id, transport="http",
                                       status=200, body=b"<html>", error="", written=True,
                                       ts_init=0))
    failed = rig.tracker[-1]
    assert isinstance(failed, RequestFailed)
    assert not failed.definitive


def test_deadman_switch_is_renewed() -> None:
    rig = Rig(deadman=30)
    rig.core.renew_deadman(RenewDeadman(ts_init=0))
    schedule = rig.signer[-1]
    assert isinstance(schedule, ScheduleCancel)
    assert schedule.time_ms == rig.clock.ns // 1_000_000 + 30_000
    assert any(isinstance(m, RenewDeadman) for _, m in rig.later)
    rig.core.clear_deadman()
    assert rig.signer[-1].time_ms is None


def _tracked(cloid: ClientOrderId) -> Any:
    from messages.enums import OrderState, OrderType, TimeInForce
    from messages.tracking import TrackedOrder

    return TrackedOrder(
        client_order_id=cloid, exchange_order_id=None, trading_pair="BTC-USD",
        side=OrderSide.BUY, order_type=OrderType.LIMIT, time_in_force=TimeInForce.GTC,
        price=Decimal("60000"), trigger_price=None, amount=Decimal("0.01"),
        filled_amount=Decimal(0), reduce_only=False, state=OrderState.OPEN, strategy_id="s",
        external=False, fills=(), created_ns=0, updated_ns=0)


def test_a_restarted_execution_normalizes_modifies_of_orders_open_before_it() -> None:
    """A new incarnation forgot every submit: a modify of an open order waits for the
    tracker's list of open orders, then is normalized like any other — never forwarded
    unchecked (an absurd price would reach the signer)."""
    from messages.commands import ModifyOrder
    from messages.tracking import CommandRejected, OpenOrdersSnapshot

    rig = Rig()
    cloid, stranger = ClientOrderId.derive("open", 1), ClientOrderId.derive("open", 2)
    rig.gate.modify(ModifyOrder(client_order_id=cloid, price=Decimal("60000.123456"),
                                strategy_id="s"))
    rig.gate.modify(ModifyOrder(client_order_id=cloid, price=Decimal("1E+30"),
                                strategy_id="s"))
    assert rig.tracker == []  # held until the tracker says what is open
    stale = OpenOrdersSnapshot(orders=(_tracked(cloid),), ts_init=rig.clock.ns - 1)
    rig.gate.open_orders_known(stale)  # asked for by the previous incarnation
    assert rig.tracker == []
    rig.gate.open_orders_known(attrs.evolve(stale, ts_init=rig.clock.ns))
    (forwarded,) = rig.tracker
    assert isinstance(forwarded, ModifyOrder)
    assert forwarded.price == Decimal("60000")  # 5 significant figures, rounded passively
    rejected = [e for e in rig.events if isinstance(e, CommandRejected)]
    assert len(rejected) == 1
    assert "price" in rejected[0].reason
    rig.gate.modify(ModifyOrder(client_order_id=stranger, price=Decimal("1"), strategy_id="s"))
    assert len(rig.tracker) == 1
    assert "unknown order" in rig.events[-1].reason
