"""Hyperliquid stream vocabulary: subscription frames, ack matching, the conflation peek."""

from __future__ import annotations

import orjson
import pytest

from messages.enums import MarketChannel
from venues.hyperliquid.payloads import SubscriptionAck, WsFrameParser
from venues.hyperliquid.ws_client import (
    PING_FRAME,
    acknowledged,
    conflation_key,
    market_subscription,
    subscribe_frame,
    unsubscribe_frame,
    user_subscriptions,
)

USER = "0x" + "AB" * 20


def test_market_subscription_frames_are_the_documented_objects() -> None:
    book = market_subscription(MarketChannel.BOOK, "BTC")
    assert orjson.loads(subscribe_frame(book)) == {
        "method": "subscribe", "subscription": {"type": "l2Book", "coin": "BTC"}
    }
    trades = market_subscription(MarketChannel.TRADES, "@107")
    assert orjson.loads(unsubscribe_frame(trades)) == {
        "method": "unsubscribe", "subscription": {"type": "trades", "coin": "@107"}
    }
    assert dict(market_subscription(MarketChannel.BBO, "ETH")) == {"type": "bbo", "coin": "ETH"}
    assert orjson.loads(PING_FRAME) == {"method": "ping"}


def test_user_subscriptions_use_the_lower_cased_account() -> None:
    subs = [dict(s) for s in user_subscriptions(USER)]
    assert subs == [
        {"type": "orderUpdates", "user": USER.lower()},
        {"type": "userFills", "user": USER.lower()},
        {"type": "userEvents", "user": USER.lower()},
    ]
    with pytest.raises(ValueError, match="40 hex"):
        user_subscriptions("0x1234")


def _ack(method: str, subscription: dict[str, object]) -> SubscriptionAck:
    frame = {"channel": "subscriptionResponse",
             "data": {"method": method, "subscription": subscription}}
    ack = WsFrameParser().parse(orjson.dumps(frame), 0)
    assert isinstance(ack, SubscriptionAck)
    return ack


def test_acks_match_on_type_and_key_parameters_only() -> None:
    sub = market_subscription(MarketChannel.BOOK, "BTC")
    echoed = _ack("subscribe", {"type": "l2Book", "coin": "BTC", "nSigFigs": None,
                                "mantissa": None})
    assert acknowledged(echoed) == ("subscribe", sub)
    user = user_subscriptions(USER)[1]
    assert acknowledged(_ack("unsubscribe", {"type": "userFills", "user": USER})) == (
        "unsubscribe", user
    )
    assert acknowledged(_ack("subscribe", {"coin": "BTC"})) is None


@pytest.mark.parametrize(
    ("frame", "key"),
    [
        (b'{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[],[]]}}',
         (b"l2Book", b"BTC")),
        (b'{"channel":"bbo","data":{"coin":"xyz:TEST","time":1,"bbo":[null,null]}}',
         (b"bbo", b"xyz:TEST")),
        (b'{"channel":"trades","data":[{"coin":"BTC"}]}', None),
        (b'{"channel":"l2Book","data":{"time":1,"coin":"BTC","levels":[[],[]]}}', None),
        (b'{"channel":"l2Book","data":{"coin":"', None),
        (b"Websocket connection established.", None),
        (b"", None),
    ],
)
def test_conflation_key_peeks_only_book_and_bbo_frames(frame: bytes,
                                                       key: tuple[bytes, bytes] | None) -> None:
    assert conflation_key(frame) == key
