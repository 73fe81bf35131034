"""Conformance: execution's reconciliation queries against the simulator.

The bodies come from ``venues.hyperliquid.requests`` (what `ExecutionCore.reconcile` sends), go
over the runtime's HTTP or WS ``post`` transport, and the answers are parsed with the payload
functions execution uses: every venue status must map to the lifecycle status the tracker needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from messages import (
    ClientOrderId,
    EvidenceSource,
    LiquiditySide,
    OrderNotFoundReported,
    OrderSide,
    OrderStatusReported,
    SubmitOrder,
    SubmitOutcome,
    TimeInForce,
    VenueOrderStatus,
)
from tests.conformance_support import (
    VIAS,
    VenueRig,
    Via,
    cancel_target,
    limit,
    passive_price,
    rig_for,
)
from venues.hyperliquid import payloads, requests
from venues.simulator import DEMO_ADDRESS, RunningSimulator
from venues.simulator.model import usd

BUY, SELL = OrderSide.BUY, OrderSide.SELL


@pytest.fixture
def rig(sim: RunningSimulator) -> Iterator[VenueRig]:
    yield from rig_for(sim, "conformance-queries")


def _status(rig: VenueRig, order: SubmitOrder, via: Via) -> OrderStatusReported:
    report = rig.order_status(order.client_order_id, via)
    assert isinstance(report, OrderStatusReported), report
    assert report.client_order_id == order.client_order_id
    assert report.trading_pair == order.trading_pair
    assert report.side is order.side
    assert report.source is EvidenceSource.QUERY
    venue = rig.venue_order(order.client_order_id)
    assert report.exchange_order_id == venue.oid
    assert report.ts_event == venue.status_ts * 1_000_000
    return report


@pytest.mark.parametrize("via", VIAS)
def test_order_status_maps_open_filled_canceled_and_rejected(rig: VenueRig, via: Via) -> None:
    book = rig.book("ETH-USD")
    bid, ask = book.bids[0].price, book.asks[0].price
    below = passive_price(rig, book, BUY, "0.002")

    resting = limit(rig.cloid(), BUY, "0.01", below)
    filled = limit(rig.cloid(), BUY, "0.01", ask, tif=TimeInForce.IOC)
    canceled = limit(rig.cloid(), SELL, "0.01", passive_price(rig, book, SELL, "0.002"))
    ioc_missed = limit(rig.cloid(), BUY, "0.01", below, tif=TimeInForce.IOC)
    too_small = limit(rig.cloid(), BUY, "0.001", below)
    reduce_only = limit(rig.cloid(), BUY, "0.05", ask, tif=TimeInForce.IOC, reduce_only=True)
    alo_crossing = limit(rig.cloid(), SELL, "0.01", bid, tif=TimeInForce.ALO)
    for order in (resting, filled, canceled, ioc_missed, too_small, reduce_only, alo_crossing):
        rig.place(order, via)
    assert rig.cancel([cancel_target(canceled)], via)[0].success

    report = _status(rig, resting, via)
    assert (report.status, report.raw_status) == (VenueOrderStatus.OPEN, "open")
    assert report.price == below
    assert report.original_amount == report.remaining_amount == Decimal("0.01")

    report = _status(rig, filled, via)
    assert (report.status, report.raw_status) == (VenueOrderStatus.FILLED, "filled")
    assert report.remaining_amount == 0
    assert report.original_amount == Decimal("0.01")

    report = _status(rig, canceled, via)
    assert (report.status, report.raw_status) == (VenueOrderStatus.CANCELLED, "canceled")
    assert report.remaining_amount == Decimal("0.01")

    for order, raw in ((ioc_missed, "iocCancelRejected"), (too_small, "minTradeNtlRejected"),
                       (reduce_only, "reduceOnlyRejected"), (alo_crossing, "badAloPxRejected")):
        report = _status(rig, order, via)
        assert (report.status, report.raw_status) == (VenueOrderStatus.REJECTED, raw)

    unknown = ClientOrderId.derive("never-sent", 1)
    assert rig.order_status(unknown, via) == OrderNotFoundReported(client_order_id=unknown,
                                                                   ts_init=0)


@pytest.mark.parametrize("via", VIAS)
def test_open_orders_lists_every_live_order_with_its_cloid(rig: VenueRig, via: Via) -> None:
    book = rig.book("ETH-USD")
    ours = [limit(rig.cloid(), BUY, "0.01", passive_price(rig, book, BUY, "0.003")),
            limit(rig.cloid(), SELL, "0.02", passive_price(rig, book, SELL, "0.003")),
            limit(rig.cloid(), BUY, "0.5", passive_price(rig, rig.book("SOL-USD"), BUY, "0.01"),
                  pair="SOL-USD")]
    gone = limit(rig.cloid(), BUY, "0.01", passive_price(rig, book, BUY, "0.004"))
    for order in (*ours, gone):
        assert rig.place(order, via).outcome is SubmitOutcome.RESTING
    assert rig.cancel([cancel_target(gone)], via)[0].success
    external_px = passive_price(rig, book, BUY, "0.005")
    external_oid = rig.place_external("ETH-USD", BUY, Decimal("0.01"), external_px)

    result = payloads.parse_open_orders(rig.query(requests.open_orders(DEMO_ADDRESS), via), 7)
    report = result.report
    assert report.ts_init == 7
    by_cloid = {r.client_order_id: r for r in report.orders}
    assert set(by_cloid) == {o.client_order_id for o in ours} | {None}
    for order in ours:
        r = by_cloid[order.client_order_id]
        assert r.exchange_order_id == rig.venue_order(order.client_order_id).oid
        assert (r.status, r.raw_status) == (VenueOrderStatus.OPEN, "open")
        assert (r.trading_pair, r.side, r.price) == (order.trading_pair, order.side, order.price)
        assert r.remaining_amount == r.original_amount == order.amount
    adopted = by_cloid[None]
    assert adopted.exchange_order_id == external_oid
    assert (adopted.trading_pair, adopted.side, adopted.price) == ("ETH-USD", BUY, external_px)


@pytest.mark.parametrize("via", VIAS)
def test_user_fills_by_time_carries_trade_ids_sides_and_prices(rig: VenueRig, via: Via) -> None:
    start = rig.sim_ms()
    book = rig.book("ETH-USD")
    take = book.asks[0].size + Decimal("0.01")  # two levels: two fills, two trade ids
    buy = limit(rig.cloid(), BUY, take, book.asks[1].price, tif=TimeInForce.IOC)
    sell = limit(rig.cloid(), SELL, "0.01", book.bids[0].price, tif=TimeInForce.IOC)
    assert rig.place(buy, via).outcome is SubmitOutcome.FILLED
    assert rig.place(sell, via).outcome is SubmitOutcome.FILLED

    result = payloads.parse_user_fills(
        rig.query(requests.user_fills_by_time(DEMO_ADDRESS, start), via), 9,
        name="userFillsByTime")
    report = result.report
    assert report.is_snapshot
    venue = rig.sim.call(lambda core: core.engine.reg.fills(DEMO_ADDRESS))
    assert len(report.fills) == len(venue) == 3
    for fill, v in zip(report.fills, venue, strict=True):
        assert fill.trade_id == v.tid
        assert fill.exchange_order_id == v.oid
        assert fill.price == v.px
        assert fill.amount == v.sz
        assert fill.fee == v.fee == usd(v.px * v.sz * Decimal("0.00045"))
        assert fill.fee_asset == "USDC"
        assert fill.liquidity is LiquiditySide.TAKER
        assert fill.source is EvidenceSource.QUERY
        assert fill.ts_event == v.time * 1_000_000
        assert fill.tx_hash == v.hash
    assert [(f.client_order_id, f.side, f.price, f.amount) for f in report.fills] == [
        (buy.client_order_id, BUY, book.asks[0].price, book.asks[0].size),
        (buy.client_order_id, BUY, book.asks[1].price, Decimal("0.01")),
        (sell.client_order_id, SELL, book.bids[0].price, Decimal("0.01")),
    ]
    assert len({f.trade_id for f in report.fills}) == 3
    assert [f.direction for f in report.fills] == ["Open Long", "Open Long", "Close Long"]
    assert report.fills[2].start_position == take

    later = payloads.parse_user_fills(
        rig.query(requests.user_fills_by_time(DEMO_ADDRESS, start + 1), via), 0,
        name="userFillsByTime")
    assert later.report.fills == ()
