"""PublisherCore: topics, the seed JSON body, per-topic sequences, epochs, optional topics,
heartbeats and replayed bodies."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgpack
import orjson
import pytest

from actors.publishing import PublisherConfig, PublisherCore
from actors.publishing.core import body_encoder, replayed_frames
from messages.account import FundingPaid
from messages.enums import LiquiditySide, OrderSide, OrderState, OrderType
from messages.feed import BookCrossed, FeedConnected, FeedError
from messages.ids import ClientOrderId, ExchangeOrderId, TradeId
from messages.json_events import encode_order_event_json
from messages.market import BestBidOffer, BookSnapshot, PriceLevel, TradeReceived
from messages.orders import (
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderFailed,
    OrderFilled,
    OrderSubmitted,
)
from messages.supervision import ChildRestarted

EPOCH = 1_700_000_000_123_456_789
CLOID = ClientOrderId.derive("mm", 1)


def fields(state: OrderState, filled: str = "0", seq: int = 1) -> dict[str, Any]:
    return {
        "client_order_id": CLOID, "exchange_order_id": ExchangeOrderId(77),
        "trading_pair": "ETH-USD", "side": OrderSide.SELL, "order_type": OrderType.LIMIT,
        "price": Decimal("1891.40"), "amount": Decimal("0.02"), "filled_amount": Decimal(filled),
        "order_state": state, "strategy_id": "mm", "sequence": seq,
        "ts_event": 1_700_000_000_000_000_000, "ts_init": 1_700_000_000_000_000_001,
    }


def fill(state: OrderState = OrderState.FILLED, filled: str = "0.02") -> OrderFilled:
    return OrderFilled(**fields(state, filled), fill_price=Decimal("1891.4"),
                       fill_amount=Decimal("0.02"), fee=Decimal("0.0113"), fee_asset="USDC",
                       trade_id=TradeId(118906512037719), liquidity=LiquiditySide.MAKER)


def core(**config: Any) -> PublisherCore:
    return PublisherCore(PublisherConfig(**config), epoch=EPOCH)


def publish(c: PublisherCore, message: object) -> tuple[str, dict[str, Any]]:
    frames = c.encode(message)
    assert frames is not None
    topic, body = frames
    return topic.decode(), orjson.loads(body)


def test_order_event_bodies_are_the_seed_format_plus_sequence_and_epoch() -> None:
    c = core()
    event = fill()
    topic, body = publish(c, event)
    assert topic == "orders.hyperliquid.filled"
    seed = orjson.loads(encode_order_event_json(event, 1))
    assert body == dict(seed, epoch=EPOCH)
    assert body["event_type"] == "order_filled"
    assert body["sequence"] == 1
    assert body["timestamp"] == 1_700_000_000_000_000_000
    data = body["data"]
    assert data["client_order_id"] == CLOID
    assert data["exchange_order_id"] == "77"
    assert (data["price"], data["amount"], data["filled_amount"]) == ("1891.40", "0.02", "0.02")
    assert (data["order_type"], data["order_state"]) == ("LIMIT", "FILLED")
    assert data["trade_id"] == "118906512037719"


@pytest.mark.parametrize(
    ("event", "suffix"),
    [
        (OrderAccepted(**fields(OrderState.OPEN)), "created"),
        (fill(), "filled"),
        (fill(OrderState.PARTIALLY_FILLED, "0.01"), "partial_fill"),
        (OrderCancelled(**fields(OrderState.CANCELLED), reason="canceled"), "cancelled"),
        (OrderFailed(**fields(OrderState.FAILED), reason="risk"), "failed"),
        (OrderSubmitted(**fields(OrderState.SUBMITTED)), "update"),
    ],
)
def test_the_six_topics(event: OrderEvent, suffix: str) -> None:
    topic, _ = publish(core(), event)
    assert topic == f"orders.hyperliquid.{suffix}"


def test_sequences_count_per_topic_from_one() -> None:
    c = core()
    topics = [publish(c, e) for e in (
        OrderAccepted(**fields(OrderState.OPEN)), fill(), OrderAccepted(**fields(OrderState.OPEN)),
        OrderSubmitted(**fields(OrderState.SUBMITTED)), fill(), fill(),
    )]
    assert [(t.rsplit(".", 1)[1], b["sequence"]) for t, b in topics] == [
        ("created", 1), ("filled", 1), ("created", 2), ("update", 1), ("filled", 2),
        ("filled", 3),
    ]
    assert c.sequence("orders.hyperliquid.filled") == 3
    restarted = PublisherCore(PublisherConfig(), epoch=EPOCH + 1)
    _, body = publish(restarted, fill())
    assert (body["sequence"], body["epoch"]) == (1, EPOCH + 1)


def test_msgpack_carries_the_same_body() -> None:
    json_core, msgpack_core = core(), core(format="msgpack")
    event = fill()
    _, json_body = publish(json_core, event)
    frames = msgpack_core.encode(event)
    assert frames is not None
    assert frames[0] == b"orders.hyperliquid.filled"
    assert msgpack.unpackb(frames[1]) == json_body


def test_market_topics_are_off_by_default() -> None:
    book = BookSnapshot(trading_pair="BTC-USD",
                        bids=(PriceLevel(price=Decimal("100.5"), size=Decimal(2), orders=3),),
                        asks=(), ts_event=5, ts_init=6)
    c = core()
    assert c.encode(book) is None
    assert c.skipped == 1
    on = core(market_data=True)
    topic, body = publish(on, book)
    assert topic == "market.hyperliquid.book.BTC-USD"
    assert body["event_type"] == "book"
    assert body["data"] == {"trading_pair": "BTC-USD", "bids": [["100.5", "2", 3]], "asks": [],
                            "ts_event": 5, "ts_init": 6}
    bbo = BestBidOffer(trading_pair="BTC-USD", bid=None, ask=book.bids[0], ts_event=7, ts_init=8)
    topic, body = publish(on, bbo)
    assert topic == "market.hyperliquid.bbo.BTC-USD"
    assert (body["data"]["bid"], body["data"]["ask"]) == (None, ["100.5", "2", 3])
    trade = TradeReceived(trading_pair="ETH-USD", side=OrderSide.BUY, price=Decimal("3000.5"),
                          size=Decimal("0.1"), trade_id=TradeId(9), tx_hash="0xh", buyer="0xb",
                          seller="0xs", ts_event=9, ts_init=10)
    topic, body = publish(on, trade)
    assert topic == "market.hyperliquid.trades.ETH-USD"
    assert body["data"]["price"] == "3000.5"
    assert body["data"]["trade_id"] == "9"
    assert body["sequence"] == 1


def test_runtime_topics() -> None:
    c = core(runtime_events=True)
    topic, body = publish(c, FeedConnected(feed="market", url="ws://x", connection=2, ts_init=3))
    assert topic == "runtime.feed.connected"
    assert body["data"] == {"feed": "market", "url": "ws://x", "connection": 2, "ts_init": 3}
    assert body["timestamp"] == 3
    assert publish(c, BookCrossed(trading_pair="BTC-USD", ts_event=4, ts_init=5))[0] == (
        "runtime.feed.book_crossed")
    assert publish(c, FeedError(feed="user", reason="x", ts_init=1))[0] == "runtime.feed.error"
    restarted = ChildRestarted(supervisor="root", child_id="market_stream", incarnation=2,
                               delay_ns=0, handed_over=3, ts_init=9)
    topic, body = publish(c, restarted)
    assert topic == "runtime.supervision.child_restarted"
    assert body["data"]["handed_over"] == 3
    assert core().encode(restarted) is None
    funding = FundingPaid(trading_pair="ETH-USD", amount=Decimal("-1.5"), rate=Decimal("1E-4"),
                          position_size=Decimal(2), ts_event=7, ts_init=8)
    topic, body = publish(c, funding)
    assert topic == "runtime.account.funding_paid"
    assert body["data"]["amount"] == "-1.5"
    assert body["timestamp"] == 7


def test_unknown_messages_are_bugs() -> None:
    with pytest.raises(TypeError, match="does not publish"):
        core().encode(object())


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="format"):
        PublisherConfig(format="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sndhwm"):
        PublisherConfig(sndhwm=-1)


def test_heartbeats_carry_the_last_event_sequence_and_the_log_position() -> None:
    c = core()
    topic, body = c.heartbeat(123, None)
    assert topic == b"sync.orders.hyperliquid"
    assert not topic.startswith(b"orders.hyperliquid.")  # not one of the six order topics
    assert orjson.loads(body) == {
        "event_type": "heartbeat", "timestamp": 123, "sequence": 1, "epoch": EPOCH,
        "last_sequence": 0, "log_sequence": None, "replay": False}
    publish(c, fill())  # event_sequence 1
    publish(c, OrderAccepted(**fields(OrderState.OPEN, seq=7)))
    _, body = c.heartbeat(124, 9)
    beat = orjson.loads(body)
    assert (beat["sequence"], beat["last_sequence"], beat["log_sequence"], beat["replay"]) == (
        2, 7, 9, True)
    assert c.published == 2  # heartbeats are not counted as published events
    assert c.heartbeats == 2


def test_replayed_bodies_are_the_live_body_flagged() -> None:
    event = fill()
    live_topic, live = publish(core(), event)
    topic, raw = replayed_frames(event, venue="hyperliquid", epoch=EPOCH + 5,
                                 dumps=body_encoder("json"))
    assert topic.decode() == live_topic
    assert orjson.loads(raw) == dict(live, sequence=None, epoch=EPOCH + 5, replayed=True)
    _, packed = replayed_frames(event, venue="hyperliquid", epoch=1,
                                dumps=body_encoder("msgpack"))
    assert msgpack.unpackb(packed)["replayed"] is True


def test_replay_settings_validation() -> None:
    config = PublisherConfig()
    assert (config.event_log_dir, config.replay_endpoint, config.heartbeat_s) == (
        None, "tcp://127.0.0.1:5557", 1.0)
    with pytest.raises(ValueError, match="heartbeat_s"):
        PublisherConfig(heartbeat_s=0)
    with pytest.raises(ValueError, match="bind_timeout_s"):
        PublisherConfig(bind_timeout_s=-1)
