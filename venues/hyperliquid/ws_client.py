"""Hyperliquid's WebSocket client vocabulary for the stream actors (PROTOCOL §15).

Subscription objects, the frames the client sends, matching of ``subscriptionResponse`` acks,
and the raw-frame peek the reader thread uses to conflate books without parsing them.

Frames come from `venues.hyperliquid.requests`; this module holds the rest of the WS client's
venue knowledge, so the stream actors (`actors.streaming`) never spell a payload key.
"""

from __future__ import annotations

from typing import Final, TypeAlias

from messages.enums import MarketChannel
from venues.hyperliquid import requests
from venues.hyperliquid.models import JsonObject
from venues.hyperliquid.payloads import SubscriptionAck
from venues.hyperliquid.wire import check_address

Subscription: TypeAlias = tuple[tuple[str, str], ...]
"""A subscription object as hashable ``(key, value)`` pairs in canonical order."""

ConflationKey: TypeAlias = tuple[bytes, bytes]

PING_FRAME: Final = requests.PING

_MARKET_TYPES: Final = {
    MarketChannel.BOOK: "l2Book",
    MarketChannel.TRADES: "trades",
    MarketChannel.BBO: "bbo",
}
_USER_TYPES: Final = ("orderUpdates", "userFills", "userEvents")
_KEY_ORDER: Final = ("type", "coin", "user")

# Frames as the venue renders them: channel first, then data with coin first. A frame rendered
# differently is simply not conflated (it is still parsed and applied), so the peek is safe.
_BOOK_HEAD: Final = b'{"channel":"l2Book","data":{"coin":"'
_BBO_HEAD: Final = b'{"channel":"bbo","data":{"coin":"'
_MAX_COIN: Final = 64


def market_subscription(channel: MarketChannel, coin: str) -> Subscription:
    return (("type", _MARKET_TYPES[channel]), ("coin", coin))


def user_subscriptions(user: str) -> tuple[Subscription, ...]:
    """orderUpdates, userFills and userEvents (data channel ``user``) of one account."""
    address = check_address(user)
    return tuple((("type", kind), ("user", address)) for kind in _USER_TYPES)


def subscribe_frame(subscription: Subscription) -> bytes:
    return requests.subscribe(dict(subscription))


def unsubscribe_frame(subscription: Subscription) -> bytes:
    """Unsubscribing needs exactly the object that was subscribed."""
    return requests.unsubscribe(dict(subscription))


def acknowledged(ack: SubscriptionAck) -> tuple[str, Subscription] | None:
    """``(method, subscription)`` an ack confirms, keyed like ours (type + coin/user).

    The server may echo the subscription normalised or with extra defaults (``nSigFigs``...), so
    acks are matched on the type and the key parameters only (PROTOCOL §15.2).
    """
    found = _canonical(ack.subscription)
    if found is None:
        return None
    return ack.method, found


def _canonical(obj: JsonObject) -> Subscription | None:
    values: dict[str, str] = {}
    for key, value in obj.items:
        if key in _KEY_ORDER and isinstance(value, str):
            values[key] = value.lower() if key == "user" else value
    if "type" not in values:
        return None
    return tuple((k, values[k]) for k in _KEY_ORDER if k in values)


def conflation_key(data: bytes) -> ConflationKey | None:
    """``(b"l2Book" | b"bbo", coin)`` for book and bbo frames, None for everything else.

    Runs on the reader thread for every frame, so it only looks at the first bytes.
    """
    if data.startswith(_BOOK_HEAD):
        start, kind = len(_BOOK_HEAD), b"l2Book"
    elif data.startswith(_BBO_HEAD):
        start, kind = len(_BBO_HEAD), b"bbo"
    else:
        return None
    end = data.find(b'"', start, start + _MAX_COIN)
    if end <= start:
        return None
    return kind, data[start:end]
