"""Bodies of the venue requests the runtime sends (``/info`` queries, WS frames)."""

from __future__ import annotations

from typing import Any

import orjson

from messages.ids import ClientOrderId

INFO_WEIGHTS = {
    "l2Book": 2, "allMids": 2, "clearinghouseState": 2, "orderStatus": 2,
    "spotClearinghouseState": 2, "exchangeStatus": 2, "userRole": 60,
}
DEFAULT_INFO_WEIGHT = 20
ITEMS_PER_EXTRA_WEIGHT = 20


def info_weight(info_type: str) -> int:
    """IP weight of an ``/info`` request before any per-item surcharge (PROTOCOL §3)."""
    return INFO_WEIGHTS.get(info_type, DEFAULT_INFO_WEIGHT)


def exchange_weight(batch_length: int) -> int:
    """IP weight of an ``/exchange`` request: 1 + floor(n / 40) (PROTOCOL §14)."""
    return 1 + batch_length // 40


def order_status(user: str, cloid: ClientOrderId) -> dict[str, Any]:
    return {"type": "orderStatus", "user": user, "oid": str(cloid)}


def open_orders(user: str) -> dict[str, Any]:
    return {"type": "openOrders", "user": user, "dex": ""}


def user_fills_by_time(user: str, start_ms: int) -> dict[str, Any]:
    return {"type": "userFillsByTime", "user": user, "startTime": start_ms, "endTime": None,
            "aggregateByTime": False}


def clearinghouse_state(user: str) -> dict[str, Any]:
    return {"type": "clearinghouseState", "user": user, "dex": ""}


def user_rate_limit(user: str) -> dict[str, Any]:
    return {"type": "userRateLimit", "user": user}


def meta() -> dict[str, Any]:
    return {"type": "meta", "dex": ""}


def spot_meta() -> dict[str, Any]:
    return {"type": "spotMeta"}


def subscribe(subscription: dict[str, Any]) -> bytes:
    return orjson.dumps({"method": "subscribe", "subscription": subscription})


def unsubscribe(subscription: dict[str, Any]) -> bytes:
    return orjson.dumps({"method": "unsubscribe", "subscription": subscription})


PING = b'{"method":"ping"}'


def post_frame(request_id: int, kind: str, payload: bytes) -> bytes:
    """A WS ``post`` frame; ``payload`` is the exact ``/exchange`` or ``/info`` body (signed
    bodies are embedded byte for byte, never re-encoded)."""
    if kind not in ("action", "info"):
        raise ValueError(f"post kind must be 'action' or 'info', not {kind!r}")
    return (b'{"method":"post","id":%d,"request":{"type":"%s","payload":' % (
        request_id, kind.encode()) + payload + b"}}")
