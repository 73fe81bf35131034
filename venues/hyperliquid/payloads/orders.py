"""Orders: ``openOrders``, ``frontendOpenOrders``, ``orderStatus``, ``historicalOrders`` and the
``orderUpdates`` stream entries, parsed into `OrderStatusReported` plus the venue's detail.

Decisions:

* ``openOrders`` entries carry no status string; they are reported ``OPEN`` with ``raw_status``
  ``"open"`` and ``ts_event`` = the order's placement ``timestamp``.
* For entries with a status (``historicalOrders``, ``orderStatus``, ``orderUpdates``)
  ``ts_event`` is ``statusTimestamp``: the time of the status, which is what the tracker orders
  evidence by.
* TP/SL ``children`` stay inside the parent's `VenueOrder`; they are not reported separately
  (``frontendOpenOrders`` also lists them at top level, where they are reported).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from messages.enums import EvidenceSource, VenueOrderStatus
from messages.ids import ClientOrderId, ExchangeOrderId
from messages.venue import OpenOrdersReported, OrderNotFoundReported, OrderStatusReported
from venues.hyperliquid.models import ABSENT, OpenOrders, OrderRecord, OrderUnknown, VenueOrder
from venues.hyperliquid.payloads.common import (
    DEFAULT_COINS,
    SIDE_TO_WIRE,
    CoinMapper,
    PayloadError,
    Reader,
    expect_list,
    fmt_decimal,
    ms_to_ns,
    ns_to_ms,
    opt,
    put,
    put_extra,
)
from venues.hyperliquid.payloads.statuses import order_status


def parse_venue_order(obj: object, where: str = "order") -> VenueOrder:
    r = Reader(obj, where)
    children = r.optional("children", r.array)
    if children is not ABSENT:
        children = tuple(
            parse_venue_order(child, f"{where}.children[{i}]") for i, child in enumerate(children)
        )
    return VenueOrder(
        coin=r.text("coin"),
        side=r.side("side"),
        limit_px=r.dec("limitPx"),
        sz=r.dec("sz"),
        oid=r.integer("oid"),
        timestamp=r.integer("timestamp"),
        trigger_condition=r.optional("triggerCondition", r.text),
        is_trigger=r.optional("isTrigger", r.flag),
        trigger_px=r.optional("triggerPx", r.dec),
        children=children,
        is_position_tpsl=r.optional("isPositionTpsl", r.flag),
        reduce_only=r.optional("reduceOnly", r.flag),
        order_type=r.optional("orderType", r.text),
        orig_sz=r.optional("origSz", r.dec),
        tif=r.optional("tif", r.text, nullable=True),
        cloid=r.optional("cloid", r.cloid, nullable=True),
        extra=r.extra(),
    )


def render_venue_order(order: VenueOrder) -> dict[str, Any]:
    out: dict[str, Any] = {
        "coin": order.coin,
        "side": SIDE_TO_WIRE[order.side],
        "limitPx": fmt_decimal(order.limit_px),
        "sz": fmt_decimal(order.sz),
        "oid": order.oid,
        "timestamp": order.timestamp,
    }
    orig_sz = opt(order.orig_sz, fmt_decimal)
    if order.is_frontend:
        put(out, "triggerCondition", order.trigger_condition)
        put(out, "isTrigger", order.is_trigger)
        put(out, "triggerPx", opt(order.trigger_px, fmt_decimal))
        put(out, "children", opt(order.children, lambda cs: [render_venue_order(c) for c in cs]))
        put(out, "isPositionTpsl", order.is_position_tpsl)
        put(out, "reduceOnly", order.reduce_only)
        put(out, "orderType", order.order_type)
        put(out, "origSz", orig_sz)
        put(out, "tif", order.tif)
        put(out, "cloid", opt(order.cloid, str))
    else:
        # The basic shape (openOrders, orderUpdates) lists these after the common fields.
        put(out, "triggerCondition", order.trigger_condition)
        put(out, "triggerPx", opt(order.trigger_px, fmt_decimal))
        put(out, "children", opt(order.children, lambda cs: [render_venue_order(c) for c in cs]))
        put(out, "isPositionTpsl", order.is_position_tpsl)
        put(out, "orderType", order.order_type)
        put(out, "origSz", orig_sz)
        put(out, "tif", order.tif)
        put(out, "cloid", opt(order.cloid, str))
        put(out, "reduceOnly", order.reduce_only)
    return put_extra(out, order.extra)


def _report(
    order: VenueOrder,
    status: VenueOrderStatus,
    raw_status: str,
    ts_event: int,
    source: EvidenceSource,
    ts_init: int,
    coins: CoinMapper,
) -> OrderStatusReported:
    cloid = order.cloid if isinstance(order.cloid, ClientOrderId) else None
    orig = order.orig_sz if order.orig_sz is not ABSENT else None
    try:
        pair = coins.to_pair(order.coin)
    except PayloadError as exc:
        raise PayloadError(f"order {order.oid}: {exc}") from None
    return OrderStatusReported(
        client_order_id=cloid,
        exchange_order_id=ExchangeOrderId(order.oid),
        trading_pair=pair,
        side=order.side,
        status=status,
        raw_status=raw_status,
        price=order.limit_px,
        original_amount=orig,
        remaining_amount=order.sz,
        source=source,
        ts_event=ts_event,
        ts_init=ts_init,
    )


def parse_open_orders(
    payload: object, ts_init: int, *, coins: CoinMapper = DEFAULT_COINS, name: str = "openOrders"
) -> OpenOrders:
    """``openOrders`` or ``frontendOpenOrders`` → every order reported OPEN (source QUERY)."""
    items = expect_list(payload, name)
    orders = tuple(parse_venue_order(o, f"{name}[{i}]") for i, o in enumerate(items))
    reports = tuple(
        _report(
            o, VenueOrderStatus.OPEN, "open", ms_to_ns(o.timestamp),
            EvidenceSource.QUERY, ts_init, coins,
        )
        for o in orders
    )
    return OpenOrders(orders=orders, report=OpenOrdersReported(orders=reports, ts_init=ts_init))


def parse_frontend_open_orders(
    payload: object, ts_init: int, *, coins: CoinMapper = DEFAULT_COINS
) -> OpenOrders:
    return parse_open_orders(payload, ts_init, coins=coins, name="frontendOpenOrders")


def render_open_orders(orders: OpenOrders) -> list[dict[str, Any]]:
    return [render_venue_order(o) for o in orders.orders]


def parse_order_record(
    obj: object,
    ts_init: int,
    *,
    where: str = "order",
    source: EvidenceSource = EvidenceSource.QUERY,
    coins: CoinMapper = DEFAULT_COINS,
) -> OrderRecord:
    """``{"order": {...}, "status": str, "statusTimestamp": ms}``."""
    r = Reader(obj, where)
    order = parse_venue_order(r.raw("order"), f"{where}.order")
    raw_status = r.text("status")
    stamp = r.integer("statusTimestamp")
    report = _report(
        order, order_status(raw_status), raw_status, ms_to_ns(stamp), source, ts_init, coins
    )
    return OrderRecord(
        order=order, status=raw_status, status_timestamp=stamp, report=report, extra=r.extra()
    )


def render_order_record(record: OrderRecord) -> dict[str, Any]:
    out = {
        "order": render_venue_order(record.order),
        "status": record.status,
        "statusTimestamp": record.status_timestamp,
    }
    return put_extra(out, record.extra)


def parse_historical_orders(
    payload: object, ts_init: int, *, coins: CoinMapper = DEFAULT_COINS
) -> tuple[OrderRecord, ...]:
    items = expect_list(payload, "historicalOrders")
    return tuple(
        parse_order_record(o, ts_init, where=f"historicalOrders[{i}]", coins=coins)
        for i, o in enumerate(items)
    )


def render_historical_orders(records: Sequence[OrderRecord]) -> list[dict[str, Any]]:
    return [render_order_record(r) for r in records]


def parse_order_status(
    payload: object,
    ts_init: int,
    *,
    client_order_id: ClientOrderId | None = None,
    coins: CoinMapper = DEFAULT_COINS,
) -> OrderRecord | OrderUnknown:
    """``orderStatus`` → the order's record, or `OrderUnknown` for ``unknownOid``.

    ``client_order_id`` is the cloid the query asked for (the answer does not repeat it); when
    given, a miss carries an `OrderNotFoundReported` for the tracker.
    """
    r = Reader(payload, "orderStatus")
    status = r.text("status")
    if status == "unknownOid":
        if r.extra().items:
            raise PayloadError("orderStatus: unknownOid answer with unexpected keys")
        report = None
        if client_order_id is not None:
            report = OrderNotFoundReported(client_order_id=client_order_id, ts_init=ts_init)
        return OrderUnknown(report=report)
    if status != "order":
        raise PayloadError(f"orderStatus.status: expected 'order' or 'unknownOid', got {status!r}")
    record = parse_order_record(r.raw("order"), ts_init, where="orderStatus.order", coins=coins)
    if r.extra().items:
        raise PayloadError("orderStatus: unexpected keys beside 'status' and 'order'")
    return record


def render_order_status(result: OrderRecord | OrderUnknown) -> dict[str, Any]:
    if isinstance(result, OrderUnknown):
        return {"status": "unknownOid"}
    return {"status": "order", "order": render_order_record(result)}


# --- orderUpdates stream (runtime messages) --------------------------------------------------


def parse_order_updates(
    data: object, ts_init: int, *, coins: CoinMapper = DEFAULT_COINS
) -> tuple[OrderStatusReported, ...]:
    """The ``orderUpdates`` channel's data (a list of WsOrder) → reports with source STREAM."""
    items = expect_list(data, "orderUpdates")
    return tuple(
        parse_order_record(
            o, ts_init, where=f"orderUpdates[{i}]", source=EvidenceSource.STREAM, coins=coins
        ).report
        for i, o in enumerate(items)
    )


def render_order_update(
    report: OrderStatusReported, *, coins: CoinMapper = DEFAULT_COINS
) -> dict[str, Any]:
    """A WsOrder for a report (placement time is not in the report: ``statusTimestamp`` is used)."""
    stamp = ns_to_ms(report.ts_event)
    order: dict[str, Any] = {
        "coin": coins.to_coin(report.trading_pair),
        "side": SIDE_TO_WIRE[report.side],
        "limitPx": fmt_decimal(report.price),
        "sz": fmt_decimal(report.remaining_amount),
        "oid": int(report.exchange_order_id),
        "timestamp": stamp,
    }
    if report.original_amount is not None:
        order["origSz"] = fmt_decimal(report.original_amount)
    if report.client_order_id is not None:
        order["cloid"] = str(report.client_order_id)
    return {"order": order, "status": report.raw_status, "statusTimestamp": stamp}
