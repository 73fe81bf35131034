"""Conformance: every frame the simulator streams parses with the runtime's `WsFrameParser`.

A raw websocket-client connection (as the runtime's streams open it) subscribes with the bodies
of ``venues.hyperliquid.requests``; every frame received is parsed, and each channel must give
the message type the runtime's streams expect, with the venue's content.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest
import websocket

from messages import (
    BestBidOffer,
    BookSnapshot,
    EvidenceSource,
    FillsReported,
    LiquiditySide,
    MidsUpdated,
    NonUserCancelReported,
    OrderSide,
    OrderStatusReported,
    OrderType,
    SubmitOrder,
    SubmitOutcome,
    TimeInForce,
    TradeReceived,
    VenueOrderStatus,
)
from messages.signing import SignOrders
from tests.conformance_support import (
    TIMEOUT,
    VenueRig,
    cancel_target,
    limit,
    passive_price,
    rig_for,
)
from venues.hyperliquid import requests
from venues.hyperliquid.payloads import (
    PayloadError,
    Pong,
    PostActionAnswer,
    PostErrorAnswer,
    PostInfoAnswer,
    StatusesResponse,
    SubscriptionAck,
    UnhandledFrame,
    WsError,
    WsEvent,
    WsFrameParser,
)
from venues.hyperliquid.payloads.common import freeze
from venues.hyperliquid.payloads.exchange import Resting
from venues.simulator import DEMO_ADDRESS, RunningSimulator

BUY, SELL = OrderSide.BUY, OrderSide.SELL
USER_SUBSCRIPTIONS = (
    {"type": "orderUpdates", "user": DEMO_ADDRESS},
    {"type": "userFills", "user": DEMO_ADDRESS},
    {"type": "userEvents", "user": DEMO_ADDRESS},
)
MARKET_SUBSCRIPTIONS = (
    {"type": "l2Book", "coin": "ETH"},
    {"type": "trades", "coin": "ETH"},
    {"type": "bbo", "coin": "ETH"},
    {"type": "allMids"},
)


class Stream:
    """One raw connection; every frame is parsed as it arrives and kept with its channel."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=TIMEOUT, skip_utf8_validation=True)
        self.parser = WsFrameParser()
        self.frames: list[tuple[str, WsEvent]] = []
        greeting = self.ws.recv()
        assert self.parser.parse(greeting, 0) is None  # the text greeting parses to nothing

    def close(self) -> None:
        self.ws.close(timeout=1)

    def send(self, frame: bytes) -> None:
        self.ws.send(frame)

    def _receive(self, deadline: float) -> None:
        self.ws.settimeout(max(0.01, deadline - time.monotonic()))
        raw = self.ws.recv()
        assert raw, "the simulator closed the stream"
        channel = orjson.loads(raw)["channel"]
        try:
            event = self.parser.parse(raw, time.time_ns())
        except PayloadError as exc:
            raise AssertionError(f"unparseable {channel} frame: {exc}: {raw[:300]!r}") from None
        assert event is not None
        assert not isinstance(event, UnhandledFrame), raw[:300]
        self.frames.append((channel, event))

    def until(self, channel: str, count: int = 1) -> list[Any]:
        """Read until ``count`` frames of ``channel`` have arrived in all; return them."""
        deadline = time.monotonic() + TIMEOUT
        while len(self.of(channel)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} {channel} frames within {TIMEOUT}s")
            self._receive(deadline)
        return self.of(channel)

    def wait(self, condition: Callable[[], object], what: str) -> None:
        """Read frames until ``condition()`` holds."""
        deadline = time.monotonic() + TIMEOUT
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not seen within {TIMEOUT}s")
            self._receive(deadline)

    def of(self, channel: str) -> list[Any]:
        return [event for c, event in self.frames if c == channel]

    def subscribe(self, subscription: dict[str, Any]) -> SubscriptionAck:
        acks = len(self.of("subscriptionResponse"))
        self.send(requests.subscribe(subscription))
        ack = self.until("subscriptionResponse", acks + 1)[-1]
        assert isinstance(ack, SubscriptionAck)
        return ack


@pytest.fixture
def rig(sim: RunningSimulator) -> Iterator[VenueRig]:
    yield from rig_for(sim, "conformance-streams")


@pytest.fixture
def stream(sim: RunningSimulator) -> Iterator[Stream]:
    client = Stream(sim.ws_url)
    try:
        yield client
    finally:
        client.close()


def _expected_types(stream: Stream) -> None:
    """Every channel gave the message type the runtime's streams dispatch on."""
    expected: dict[str, type | tuple[type, ...]] = {
        "subscriptionResponse": SubscriptionAck, "l2Book": BookSnapshot, "bbo": BestBidOffer,
        "allMids": MidsUpdated, "userFills": FillsReported, "pong": Pong, "error": WsError,
        "post": (PostInfoAnswer, PostActionAnswer, PostErrorAnswer),
    }
    tuples = {"trades": TradeReceived, "orderUpdates": OrderStatusReported}
    for channel, event in stream.frames:
        if channel in tuples:
            assert isinstance(event, tuple)
            assert event
            assert all(isinstance(e, tuples[channel]) for e in event), (channel, event)
        elif channel == "user":
            ok = isinstance(event, FillsReported) or (
                isinstance(event, tuple) and all(isinstance(e, NonUserCancelReported)
                                                 for e in event))
            assert ok, event
        else:
            assert isinstance(event, expected[channel]), (channel, event)


def test_subscriptions_acks_snapshots_pong_and_unsubscribe(
    rig: VenueRig, stream: Stream
) -> None:
    for subscription in (*MARKET_SUBSCRIPTIONS, *USER_SUBSCRIPTIONS):
        ack = stream.subscribe(subscription)
        assert ack.method == "subscribe"
        assert ack.subscription == freeze(subscription)

    (book,) = stream.until("l2Book")
    venue = rig.book("ETH-USD")
    assert book.trading_pair == "ETH-USD"
    assert book.bids == venue.bids
    assert book.asks == venue.asks
    assert 1 <= len(book.bids) <= 20
    assert [lv.price for lv in book.bids] == sorted((lv.price for lv in book.bids), reverse=True)
    assert [lv.price for lv in book.asks] == sorted(lv.price for lv in book.asks)
    assert book.ts_event == rig.sim_ms() * 1_000_000

    (bbo,) = stream.until("bbo")
    assert (bbo.trading_pair, bbo.bid, bbo.ask) == ("ETH-USD", book.bids[0], book.asks[0])
    (mids,) = stream.until("allMids")
    assert dict(mids.mids)["ETH-USD"] == book.mid
    assert [pair for pair, _ in mids.mids] == list(rig.markets.pairs())
    (snapshot,) = stream.until("userFills")
    assert snapshot.is_snapshot
    assert snapshot.fills == ()

    stream.send(requests.PING)
    assert stream.until("pong") == [Pong()]

    stream.send(requests.unsubscribe({"type": "trades", "coin": "ETH"}))
    ack = stream.until("subscriptionResponse", 8)[-1]
    assert ack.method == "unsubscribe"
    assert rig.sim.call(lambda core: core.hub.subscriber_count(("trades", "ETH"))) == 0
    _expected_types(stream)


def test_trading_streams_books_trades_orders_and_fills(rig: VenueRig, stream: Stream) -> None:
    for subscription in (*MARKET_SUBSCRIPTIONS, *USER_SUBSCRIPTIONS):
        stream.subscribe(subscription)
    stream.until("userFills")
    before = stream.until("l2Book")[0]
    ask = before.asks[0]

    resting = limit(rig.cloid(), BUY, "0.01", passive_price(rig, before, BUY, "0.002"))
    assert rig.place(resting, "ws").outcome is SubmitOutcome.RESTING
    taker = limit(rig.cloid(), BUY, ask.size, ask.price, tif=TimeInForce.IOC)  # clears a level
    answer = rig.place(taker, "http")
    assert answer.outcome is SubmitOutcome.FILLED

    # The resting order: an orderUpdates 'open', then a new book with it in the bids.
    updates = stream.until("orderUpdates", 2)
    (opened,) = updates[0]
    assert (opened.client_order_id, opened.status, opened.raw_status) == (
        resting.client_order_id, VenueOrderStatus.OPEN, "open")
    assert opened.source is EvidenceSource.STREAM
    assert (opened.price, opened.remaining_amount, opened.original_amount) == (
        resting.price, Decimal("0.01"), Decimal("0.01"))
    (taken,) = updates[1]
    assert (taken.client_order_id, taken.status, taken.raw_status) == (
        taker.client_order_id, VenueOrderStatus.FILLED, "filled")
    assert taken.exchange_order_id == answer.exchange_order_id
    assert taken.remaining_amount == 0

    (trades,) = stream.until("trades")
    (trade,) = trades
    assert (trade.trading_pair, trade.side, trade.price, trade.size) == (
        "ETH-USD", BUY, ask.price, ask.size)
    assert trade.buyer == DEMO_ADDRESS
    assert trade.seller != DEMO_ADDRESS

    fills = stream.until("userFills", 2)[1]
    assert not fills.is_snapshot
    (fill,) = fills.fills
    assert (fill.client_order_id, fill.exchange_order_id, fill.trade_id) == (
        taker.client_order_id, answer.exchange_order_id, trade.trade_id)
    assert (fill.side, fill.price, fill.amount, fill.liquidity) == (
        BUY, ask.price, ask.size, LiquiditySide.TAKER)
    assert fill.source is EvidenceSource.STREAM
    (event,) = stream.until("user")
    assert isinstance(event, FillsReported)
    assert not event.is_snapshot
    assert [attrs.evolve(f, ts_init=0) for f in event.fills] == [
        attrs.evolve(f, ts_init=0) for f in fills.fills]

    books = stream.until("l2Book", 3)
    assert resting.price in [lv.price for lv in books[1].bids]
    assert books[2].asks[0].price > ask.price  # the level was taken
    bbos = stream.until("bbo", 3)
    assert bbos[-1].ask == books[2].asks[0]

    # A trigger order that is due at once: 'open', then 'triggered', then 'filled'.
    mid = books[2].mid
    assert mid is not None
    trigger_px = rig.markets.by_pair("ETH-USD").round_price(
        mid * Decimal("0.99"), is_buy=True, aggressive=False)
    stop = rig.normalizer("ETH-USD").submit(SubmitOrder(
        client_order_id=rig.cloid(), trading_pair="ETH-USD", side=BUY,
        order_type=OrderType.STOP_MARKET, amount=Decimal("0.01"), trigger_price=trigger_px))
    assert isinstance(stop, SubmitOrder)
    assert rig.place(stop, "ws").outcome is SubmitOutcome.RESTING
    statuses = [(r.raw_status, r.status) for batch in stream.until("orderUpdates", 3)[2:]
                for r in batch if r.client_order_id == stop.client_order_id]
    assert statuses == [("open", VenueOrderStatus.OPEN),
                        ("triggered", VenueOrderStatus.TRIGGERED),
                        ("filled", VenueOrderStatus.FILLED)]
    _expected_types(stream)


def test_cancels_and_system_cancels_on_the_user_streams(rig: VenueRig, stream: Stream) -> None:
    for subscription in USER_SUBSCRIPTIONS:
        stream.subscribe(subscription)
    stream.until("userFills")
    book = rig.book("ETH-USD")
    bid, ask = book.bids[0].price, book.asks[0].price

    parked = limit(rig.cloid(), SELL, "0.01", passive_price(rig, book, SELL, "0.003"))
    assert rig.place(parked, "ws").outcome is SubmitOutcome.RESTING
    assert rig.cancel([cancel_target(parked)], "ws")[0].success
    updates = [r for batch in stream.until("orderUpdates", 2) for r in batch]
    assert [(r.client_order_id, r.raw_status, r.status) for r in updates] == [
        (parked.client_order_id, "open", VenueOrderStatus.OPEN),
        (parked.client_order_id, "canceled", VenueOrderStatus.CANCELLED)]

    # A reduce-only order left over when the position closes: the venue cancels it
    # (reduceOnlyCanceled) and says so on the user events channel (nonUserCancel).
    assert rig.place(limit(rig.cloid(), BUY, "0.02", ask, tif=TimeInForce.IOC), "ws").outcome \
        is SubmitOutcome.FILLED
    leftover = limit(rig.cloid(), SELL, "0.02", passive_price(rig, book, SELL, "0.01"),
                     reduce_only=True)
    leftover_answer = rig.place(leftover, "ws")
    assert leftover_answer.outcome is SubmitOutcome.RESTING
    assert rig.place(limit(rig.cloid(), SELL, "0.02", bid, tif=TimeInForce.IOC), "ws").outcome \
        is SubmitOutcome.FILLED
    def leftover_updates() -> list[tuple[str, VenueOrderStatus]]:
        return [(r.raw_status, r.status) for batch in stream.of("orderUpdates") for r in batch
                if r.client_order_id == leftover.client_order_id]

    def system_cancels() -> list[NonUserCancelReported]:
        return [e for event in stream.of("user") if isinstance(event, tuple) for e in event]

    stream.wait(lambda: len(leftover_updates()) == 2 and system_cancels(), "reduceOnlyCanceled")
    assert leftover_updates() == [
        ("open", VenueOrderStatus.OPEN), ("reduceOnlyCanceled", VenueOrderStatus.CANCELLED)]
    (gone,) = system_cancels()
    assert gone.exchange_order_id == leftover_answer.exchange_order_id
    assert gone.trading_pair == "ETH-USD"
    fills = [event for event in stream.of("user") if isinstance(event, FillsReported)]
    assert [f.direction for event in fills for f in event.fills] == ["Open Long", "Close Long"]
    _expected_types(stream)


def test_post_answers_and_errors_parse_on_a_stream_connection(
    rig: VenueRig, stream: Stream
) -> None:
    stream.send(requests.post_frame(
        1, "info", orjson.dumps({"type": "l2Book", "coin": "ETH"})))
    (info,) = stream.until("post")
    assert isinstance(info, PostInfoAnswer)
    assert (info.request_id, info.info_type) == (1, "l2Book")
    assert isinstance(info.data, BookSnapshot)
    venue = rig.book("ETH-USD")
    assert (info.data.bids, info.data.asks) == (venue.bids, venue.asks)

    order = limit(rig.cloid(), SELL, "0.01", passive_price(rig, venue, SELL, "0.002"))
    action = rig.sign_one(SignOrders(orders=(order,), expires_after_ms=None, ts_init=0))
    stream.send(requests.post_frame(action.request_id, "action", action.body))
    answer = stream.until("post", 2)[1]
    assert isinstance(answer, PostActionAnswer)
    assert answer.request_id == action.request_id
    assert isinstance(answer.response, StatusesResponse)
    (resting,) = answer.response.statuses
    assert isinstance(resting, Resting)
    assert (resting.oid, resting.cloid) == (rig.venue_order(order.client_order_id).oid,
                                            order.client_order_id)

    stream.send(requests.post_frame(3, "info", b'{"type":"nope"}'))
    refused = stream.until("post", 3)[2]
    assert isinstance(refused, PostErrorAnswer)
    assert refused.request_id == 3
    assert refused.message.startswith("422 Unprocessable Entity: Failed to deserialize")

    stream.subscribe({"type": "bbo", "coin": "ETH"})
    stream.send(requests.subscribe({"type": "bbo", "coin": "ETH"}))
    (error,) = stream.until("error")
    assert error == WsError(message='Already subscribed: {"type":"bbo","coin":"ETH"}')
    _expected_types(stream)
