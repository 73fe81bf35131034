"""The seed's public order-event contract: ZeroMQ topics and the JSON body.

Topics: ``orders.<venue>.created | filled | partial_fill | cancelled | failed | update``.
Body::

    {"event_type": "order_filled", "timestamp": <ns>, "sequence": <per-topic number>,
     "data": {"client_order_id", "exchange_order_id", "trading_pair", "order_type", "price",
              "amount", "filled_amount", "order_state", ...extra fields}}

Decimals are rendered as strings (never floats), the exchange order id as a string or null.
Extra ``data`` fields: ``side``, ``strategy_id``, ``event_sequence`` (the tracker's event number)
and, by event, ``fill_price``, ``fill_amount``, ``fee``, ``fee_asset``, ``trade_id``,
``liquidity``, ``late``, ``reason``, ``previous_exchange_order_id``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from messages import orders
from messages.enums import OrderState

TOPIC_PREFIX = "orders"
DEFAULT_VENUE = "hyperliquid"

CREATED = "created"
FILLED = "filled"
PARTIAL_FILL = "partial_fill"
CANCELLED = "cancelled"
FAILED = "failed"
UPDATE = "update"
TOPIC_SUFFIXES = (CREATED, FILLED, PARTIAL_FILL, CANCELLED, FAILED, UPDATE)

_UPDATE_EVENT_TYPES: dict[type, str] = {
    orders.OrderTracked: "order_tracked",
    orders.OrderSubmitted: "order_submitted",
    orders.OrderPendingCancel: "order_pending_cancel",
    orders.OrderCancelRejected: "order_cancel_rejected",
    orders.OrderStatusUnknown: "order_status_unknown",
    orders.OrderModified: "order_modified",
    orders.OrderModifyRejected: "order_modify_rejected",
    orders.OrderAnomalyDetected: "order_anomaly_detected",
    orders.OrderAdopted: "order_adopted",
}


def topic_suffix(event: orders.OrderEvent) -> str:
    """Which of the six topics an order event belongs to."""
    if isinstance(event, orders.OrderFilled):
        if event.late or event.order_state is not OrderState.FILLED:
            return PARTIAL_FILL if not event.late else UPDATE
        return FILLED
    if isinstance(event, orders.OrderAccepted):
        return CREATED
    if isinstance(event, orders.OrderCancelled):
        return CANCELLED
    if isinstance(event, orders.OrderFailed):
        return FAILED
    return UPDATE


def order_topic(event: orders.OrderEvent, venue: str = DEFAULT_VENUE) -> str:
    return f"{TOPIC_PREFIX}.{venue}.{topic_suffix(event)}"


def event_type(event: orders.OrderEvent) -> str:
    suffix = topic_suffix(event)
    if isinstance(event, orders.OrderFilled) and event.late:
        return "order_late_fill"
    if suffix != UPDATE:
        return "order_" + suffix
    try:
        return _UPDATE_EVENT_TYPES[type(event)]
    except KeyError:
        raise TypeError(f"no event type for {type(event).__name__}") from None


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def order_event_body(event: orders.OrderEvent, sequence: int) -> dict[str, Any]:
    """The JSON-ready body (also what the msgpack option carries)."""
    data: dict[str, Any] = {
        "client_order_id": str(event.client_order_id),
        "exchange_order_id": (
            None if event.exchange_order_id is None else str(event.exchange_order_id)
        ),
        "trading_pair": event.trading_pair,
        "order_type": event.order_type.value,
        "price": _dec(event.price),
        "amount": str(event.amount),
        "filled_amount": str(event.filled_amount),
        "order_state": event.order_state.value,
        "side": event.side.value,
        "strategy_id": event.strategy_id,
        "event_sequence": event.sequence,
    }
    if isinstance(event, orders.OrderFilled):
        data["fill_price"] = str(event.fill_price)
        data["fill_amount"] = str(event.fill_amount)
        data["fee"] = str(event.fee)
        data["fee_asset"] = event.fee_asset
        data["trade_id"] = str(event.trade_id)
        data["liquidity"] = event.liquidity.value
        data["late"] = event.late
    reason = getattr(event, "reason", None)
    if isinstance(reason, str):
        data["reason"] = reason
    if isinstance(event, orders.OrderModified):
        prev = event.previous_exchange_order_id
        data["previous_exchange_order_id"] = None if prev is None else str(prev)
    return {
        "event_type": event_type(event),
        "timestamp": event.ts_event or event.ts_init,
        "sequence": sequence,
        "data": data,
    }


def encode_order_event_json(event: orders.OrderEvent, sequence: int) -> bytes:
    """The seed's JSON body for one order event, as UTF-8 bytes."""
    return orjson.dumps(order_event_body(event, sequence))
