"""Real recorded venue payloads drive the order tracker through the venue layer."""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal

import attrs

from actors.order_tracking.config import TrackerConfig
from messages import (
    ClientOrderId,
    ExchangeOrderId,
    FillReported,
    FillsReported,
    OrderSide,
    OrderState,
    OrderType,
    SubmitAnswered,
    SubmitOrder,
    SubmitOutcome,
)
from messages.enums import RequestKind
from messages.tracking import RequestSent
from tests.helpers import load_recorded
from tests.tracker_support import Harness
from venues.hyperliquid import payloads


def _track(h: Harness, n: int, pair: str, side: OrderSide, amount: Decimal, oid: int,
           price: Decimal = Decimal(1), rests: bool = True) -> ClientOrderId:
    cloid = ClientOrderId.derive("recorded", n)
    h.send(SubmitOrder(client_order_id=cloid, trading_pair=pair, side=side,
                       order_type=OrderType.LIMIT, amount=amount, price=price))
    h.send(RequestSent(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), nonce=n,
                       expires_after_ms=None, ts_init=h.now))
    if rests:
        h.send(SubmitAnswered(client_order_id=cloid, outcome=SubmitOutcome.RESTING,
                              exchange_order_id=ExchangeOrderId(oid), filled_amount=None,
                              average_price=None, error="", ts_init=h.now))
    return cloid


def test_recorded_user_fills_complete_their_orders_in_any_order() -> None:
    raw = load_recorded("http_info_userFills__test_get_user_fills_0.json")
    fills = payloads.parse_user_fills(raw, 0).report.fills
    assert len(fills) == 500
    by_oid: dict[int, list[FillReported]] = defaultdict(list)
    for fill in fills:
        by_oid[int(fill.exchange_order_id)].append(fill)
    h = Harness(TrackerConfig(retention_s=10**9))
    orders = {}
    for n, (oid, group) in enumerate(sorted(by_oid.items())):
        first = group[0]
        total = sum((f.amount for f in group), Decimal(0))
        orders[oid] = _track(h, n, first.trading_pair, first.side, total, oid)
    shuffled = list(fills) * 2  # every fill delivered twice
    random.Random(7).shuffle(shuffled)
    for start in range(0, len(shuffled), 37):
        h.send(FillsReported(fills=tuple(shuffled[start:start + 37]), is_snapshot=True,
                             ts_init=h.now))
    for oid, cloid in orders.items():
        view = h.core.get(cloid)
        assert view is not None
        assert view.state is OrderState.FILLED
        assert view.filled_amount == view.amount
        assert len(view.fills) == len(by_oid[oid])
        assert {f.trade_id for f in view.fills} == {f.trade_id for f in by_oid[oid]}


def test_recorded_open_orders_are_adopted_and_historical_statuses_end_orders() -> None:
    raw = load_recorded("http_info_openOrders__test_get_open_orders_0.json")
    report = payloads.parse_open_orders(raw, 0).report
    assert len(report.orders) == 196
    h = Harness(TrackerConfig(external_orders="adopt"))
    h.send(report)
    assert len(h.core.open_orders()) == 196
    for view in h.core.open_orders():
        assert view.external
        assert view.state is OrderState.OPEN

    historical = payloads.parse_historical_orders(
        load_recorded("http_info_historicalOrders__test_historical_orders_0.json"), 0)
    h2 = Harness()
    tracked = {}
    for n, record in enumerate(historical):
        status = record.report
        tracked[int(status.exchange_order_id)] = (_track(
            h2, n, status.trading_pair, status.side,
            status.original_amount or Decimal(1), int(status.exchange_order_id),
            rests=not status.raw_status.endswith("Rejected"),
        ), status.raw_status)
    for record in historical:
        # Our orders always carry a cloid, which the venue echoes; the recording has none.
        cloid = tracked[int(record.report.exchange_order_id)][0]
        h2.send(attrs.evolve(record.report, client_order_id=cloid))
    for cloid, raw_status in tracked.values():
        status_view = h2.core.get(cloid)
        assert status_view is not None
        expected = OrderState.FAILED if raw_status.endswith("Rejected") else OrderState.CANCELLED
        assert status_view.state is expected, raw_status
