"""MarketStreamCore without threads: subscriptions, books, crossed/stale detection, conflation."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import orjson
import pytest

from actors.streaming.common import market_data_key
from actors.streaming.link import LinkConfig, StreamPorts
from actors.streaming.market import MarketStreamConfig, MarketStreamCore, SubscriptionStore
from clock import ManualClock
from messages.commands import SubscribeMarket, UnsubscribeMarket
from messages.enums import MarketChannel, OrderSide
from messages.feed import BookCrossed, FeedError, FeedStale
from messages.ids import TradeId
from messages.market import BestBidOffer, BookSnapshot, GetBook, PriceLevel, TradeReceived
from messages.streams import GetStreamStats, MarketStreamStats
from supervision.errors import MailboxFullError
from supervision.policy import Backoff
from tests.support.streams import FakeConnector, Inbox
from venues.hyperliquid.payloads import (
    DEFAULT_COINS,
    render_ws_bbo,
    render_ws_book,
    render_ws_trades,
)

BOOK, TRADES, BBO = MarketChannel.BOOK, MarketChannel.TRADES, MarketChannel.BBO
MS = 1_000_000


class Recorder:
    def __init__(self) -> None:
        self.got: list[Any] = []
        self.full = False

    def tell(self, message: Any) -> None:
        if self.full:
            raise MailboxFullError("full")
        self.got.append(message)

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.got if isinstance(m, kind)]


def level(px: str, sz: str = "1.0", n: int = 1) -> PriceLevel:
    return PriceLevel(price=Decimal(px), size=Decimal(sz), orders=n)


def book_frame(coin: str, ms: int, bid: str = "100.0", ask: str = "101.0") -> bytes:
    book = BookSnapshot(
        trading_pair=f"{coin}-USD", bids=(level(bid), level(str(Decimal(bid) - 1))),
        asks=(level(ask), level(str(Decimal(ask) + 1))), ts_event=ms * MS, ts_init=0,
    )
    return orjson.dumps(render_ws_book(book, DEFAULT_COINS))


def bbo_frame(coin: str, ms: int, bid: str = "100.0", ask: str = "101.0") -> bytes:
    bbo = BestBidOffer(trading_pair=f"{coin}-USD", bid=level(bid), ask=level(ask),
                       ts_event=ms * MS, ts_init=0)
    return orjson.dumps(render_ws_bbo(bbo, DEFAULT_COINS))


def trades_frame(coin: str, ms: int, *tids: int) -> bytes:
    trades = [
        TradeReceived(trading_pair=f"{coin}-USD", side=OrderSide.BUY, price=Decimal("100.5"),
                      size=Decimal("0.1"), trade_id=TradeId(tid), tx_hash="0x" + "0" * 64,
                      buyer="0x" + "1" * 40, seller="0x" + "2" * 40, ts_event=ms * MS,
                      ts_init=0)
        for tid in tids
    ]
    return orjson.dumps(render_ws_trades(trades, DEFAULT_COINS))


class Rig:
    def __init__(self, *, conflate: bool = True, store: SubscriptionStore | None = None) -> None:
        self.clock = ManualClock()
        self.inbox = Inbox()
        self.events: list[object] = []
        self.connector = FakeConnector()
        self.subscribers = {"a": Recorder(), "b": Recorder()}
        ports = StreamPorts(
            clock=self.clock, timers=self.clock, post=self.inbox.post, guard=lambda: None,
            events=self.events.append, connector=self.connector, rng=random.Random(1),
        )
        self.core = MarketStreamCore(
            config=MarketStreamConfig(inline=False,
                link=LinkConfig(url="ws://x/ws", backoff=Backoff(min_s=1, max_s=1,
                                                                 random_factor=0)),
                stale_after_s=10, stale_check_interval_s=1, conflate=conflate,
            ),
            ports=ports,
            recipient_of=self.subscribers.get,
            store=store,
        )

    def start(self, connect: bool = True) -> Rig:
        self.core.start()
        if connect:
            self.connect()
        return self

    def connect(self) -> None:
        self.connector.latest.open()
        self.pump()

    def pump(self) -> None:
        self.inbox.pump(self.core.handle)

    def tell(self, message: object) -> Any:
        answer = self.core.handle(message)
        self.pump()
        return answer

    def frames(self, *frames: bytes) -> None:
        for frame in frames:
            self.connector.latest.frame(frame)
        self.pump()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.pump()

    def stats(self) -> MarketStreamStats:
        stats = self.core.handle(GetStreamStats())
        assert isinstance(stats, MarketStreamStats)
        return stats

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def a(self) -> Recorder:
        return self.subscribers["a"]

    @property
    def b(self) -> Recorder:
        return self.subscribers["b"]


def sub(pair: str, sid: str, *channels: MarketChannel) -> SubscribeMarket:
    return SubscribeMarket(trading_pair=pair, subscriber_id=sid,
                           channels=channels or (BOOK, TRADES, BBO))


def unsub(pair: str, sid: str, *channels: MarketChannel) -> UnsubscribeMarket:
    return UnsubscribeMarket(trading_pair=pair, subscriber_id=sid,
                             channels=channels or (BOOK, TRADES, BBO))


def test_a_venue_subscription_per_pair_and_channel_while_anyone_wants_it() -> None:
    rig = Rig().start()
    rig.tell(sub("BTC-USD", "a"))
    rig.tell(sub("BTC-USD", "b", BOOK))
    transport = rig.connector.latest
    assert transport.subscriptions() == [
        {"type": "l2Book", "coin": "BTC"}, {"type": "trades", "coin": "BTC"},
        {"type": "bbo", "coin": "BTC"},
    ]
    rig.tell(unsub("BTC-USD", "a"))
    assert transport.subscriptions("unsubscribe") == [
        {"type": "trades", "coin": "BTC"}, {"type": "bbo", "coin": "BTC"},
    ]
    rig.tell(unsub("BTC-USD", "a"))  # twice: nothing more to do
    rig.tell(unsub("BTC-USD", "b", BOOK))
    assert transport.subscriptions("unsubscribe")[-1] == {"type": "l2Book", "coin": "BTC"}
    assert rig.stats().venue_subscriptions == 0


def test_everything_is_resubscribed_after_a_reconnect() -> None:
    rig = Rig().start(connect=False)
    rig.tell(sub("BTC-USD", "a", BOOK))
    rig.tell(sub("ETH-USD", "b", TRADES, BBO))
    assert rig.connector.latest.sent == []  # not connected yet: sent on connect
    rig.connect()
    expected = [{"type": "l2Book", "coin": "BTC"}, {"type": "trades", "coin": "ETH"},
                {"type": "bbo", "coin": "ETH"}]
    assert rig.connector.latest.subscriptions() == expected
    rig.connector.latest.lost()
    rig.pump()
    rig.advance(1)
    rig.connect()
    assert len(rig.connector.transports) == 2
    assert rig.connector.latest.subscriptions() == expected


def test_fan_out_follows_each_subscribers_channels() -> None:
    rig = Rig().start()
    rig.tell(sub("BTC-USD", "a", BOOK))
    rig.tell(sub("BTC-USD", "b", TRADES, BBO))
    rig.frames(book_frame("BTC", 1), trades_frame("BTC", 2, 11, 12), bbo_frame("BTC", 3))
    assert [type(m) for m in rig.a.got] == [BookSnapshot]
    assert [type(m) for m in rig.b.got] == [TradeReceived, TradeReceived, BestBidOffer]
    assert [t.trade_id for t in rig.b.of(TradeReceived)] == [11, 12]


def test_books_are_time_monotonic_per_pair() -> None:
    rig = Rig(conflate=False).start()
    rig.tell(sub("BTC-USD", "a", BOOK))
    rig.frames(book_frame("BTC", 5), book_frame("BTC", 3), book_frame("BTC", 5, bid="99.0"),
               book_frame("BTC", 7))
    assert [b.ts_event // MS for b in rig.a.got] == [5, 5, 7]
    latest = rig.tell(GetBook(trading_pair="BTC-USD"))
    assert isinstance(latest, BookSnapshot)
    assert latest.ts_event == 7 * MS
    assert rig.stats().out_of_order == 1


def test_crossed_books_are_reported_once_per_episode_and_never_tradable() -> None:
    rig = Rig(conflate=False).start()
    rig.tell(sub("BTC-USD", "a", BOOK))
    rig.frames(book_frame("BTC", 1))
    rig.frames(book_frame("BTC", 2, bid="101.0", ask="101.0"),
               book_frame("BTC", 3, bid="102.0", ask="101.0"))
    assert rig.tell(GetBook(trading_pair="BTC-USD")) is None
    assert [b.ts_event // MS for b in rig.a.got] == [1]
    assert [e.ts_event // MS for e in rig.of(BookCrossed)] == [2]
    rig.frames(book_frame("BTC", 4), book_frame("BTC", 5, bid="103.0", ask="101.0"))
    assert [e.ts_event // MS for e in rig.of(BookCrossed)] == [2, 5]
    assert [b.ts_event // MS for b in rig.a.got] == [1, 4]
    assert rig.stats().crossed == 3


def test_a_crossed_bbo_is_not_forwarded() -> None:
    rig = Rig(conflate=False).start()
    rig.tell(sub("ETH-USD", "b", BBO))
    rig.frames(bbo_frame("ETH", 1), bbo_frame("ETH", 2, bid="102.0"), bbo_frame("ETH", 1))
    assert [b.ts_event // MS for b in rig.b.got] == [1]
    assert len(rig.of(BookCrossed)) == 1
    assert rig.stats().out_of_order == 1


def test_stale_pairs_are_reported_and_resubscribed() -> None:
    rig = Rig().start()
    rig.tell(sub("BTC-USD", "a", BOOK, BBO))
    rig.tell(sub("ETH-USD", "a", BOOK))
    rig.tell(sub("SOL-USD", "b", TRADES))  # no book: never checked for staleness
    transport = rig.connector.latest
    for second in range(1, 12):
        rig.frames(book_frame("ETH", second))
        rig.advance(1)
    [stale] = rig.of(FeedStale)
    assert stale.trading_pair == "BTC-USD"
    assert stale.age_ns > 10 * 10**9
    assert transport.subscriptions("unsubscribe") == [
        {"type": "l2Book", "coin": "BTC"}, {"type": "bbo", "coin": "BTC"},
    ]
    assert transport.subscriptions()[-2:] == [
        {"type": "l2Book", "coin": "BTC"}, {"type": "bbo", "coin": "BTC"},
    ]
    rig.advance(5)
    assert len(rig.of(FeedStale)) == 1  # the clock restarts at the resubscription
    rig.frames(book_frame("BTC", 20), book_frame("ETH", 20))
    rig.advance(8)
    assert len(rig.of(FeedStale)) == 1
    rig.advance(4)
    assert {e.trading_pair for e in rig.of(FeedStale)} == {"BTC-USD", "ETH-USD"}


def test_no_staleness_while_disconnected() -> None:
    rig = Rig().start()
    rig.tell(sub("BTC-USD", "a", BOOK))
    rig.connector.latest.lost()
    rig.pump()
    for _ in range(30):  # the reconnect attempt (after 1 s) hangs: never connected
        rig.advance(1)
    assert len(rig.connector.transports) == 2
    assert not rig.of(FeedStale)
    rig.connect()
    rig.advance(10)
    assert not rig.of(FeedStale)  # the clock restarted at the connection
    rig.advance(1.5)
    assert [e.trading_pair for e in rig.of(FeedStale)] == ["BTC-USD"]


def test_a_backlog_parses_only_the_newest_book_per_coin_and_every_trade() -> None:
    rig = Rig().start()
    rig.tell(sub("BTC-USD", "a"))
    rig.tell(sub("ETH-USD", "a", BOOK))
    transport = rig.connector.latest
    # The actor is busy: the reader thread keeps receiving.
    for ms in range(1, 51):
        transport.frame(book_frame("BTC", ms))
        transport.frame(book_frame("ETH", ms))
        transport.frame(bbo_frame("BTC", ms))
        if ms % 5 == 0:
            transport.frame(trades_frame("BTC", ms, ms))
    queued = len(rig.inbox)
    assert queued == 3 + 10  # one message per conflation slot, every trade frame
    rig.pump()
    books = rig.a.of(BookSnapshot)
    assert sorted(b.ts_event // MS for b in books) == [50, 50]
    assert [b.ts_event // MS for b in rig.a.of(BestBidOffer)] == [50]
    assert [t.trade_id for t in rig.a.of(TradeReceived)] == list(range(5, 51, 5))
    stats = rig.stats()
    assert stats.conflated == 3 * 49
    assert stats.frames == queued


def test_without_conflation_every_frame_is_parsed() -> None:
    rig = Rig(conflate=False).start()
    rig.tell(sub("BTC-USD", "a", BOOK))
    for ms in range(1, 21):
        rig.connector.latest.frame(book_frame("BTC", ms))
    rig.pump()
    assert [b.ts_event // MS for b in rig.a.got] == list(range(1, 21))
    assert rig.stats().conflated == 0


def test_a_new_subscriber_gets_the_latest_state_at_once() -> None:
    rig = Rig().start()
    rig.tell(sub("BTC-USD", "a", BOOK, BBO))
    rig.frames(book_frame("BTC", 1), bbo_frame("BTC", 1))
    rig.tell(sub("BTC-USD", "b", BOOK, BBO, TRADES))
    assert [type(m) for m in rig.b.got] == [BookSnapshot, BestBidOffer]


def test_unknown_subscribers_are_refused_with_an_error_event() -> None:
    rig = Rig().start()
    rig.tell(sub("BTC-USD", "nobody"))
    assert rig.connector.latest.sent == []
    assert "unknown subscriber 'nobody'" in rig.of(FeedError)[0].reason


def test_an_anonymous_subscription_keeps_the_book_for_queries() -> None:
    rig = Rig().start()
    rig.tell(sub("BTC-USD", "", BOOK))
    rig.frames(book_frame("BTC", 4))
    book = rig.tell(GetBook(trading_pair="BTC-USD"))
    assert isinstance(book, BookSnapshot)
    assert book.best_bid == level("100.0")
    assert rig.tell(GetBook(trading_pair="ETH-USD")) is None


def test_bad_frames_are_reported_and_skipped() -> None:
    rig = Rig().start()
    rig.tell(sub("BTC-USD", "a", BOOK))
    rig.frames(b"Websocket connection established.", b'{"channel":"l2Book","data":{}}',
               b"not json", b'{"channel":"error","data":"Already subscribed"}',
               book_frame("BTC", 1))
    reasons = [e.reason for e in rig.of(FeedError)]
    assert len(reasons) == 3
    assert reasons[2] == "venue error: Already subscribed"
    assert len(rig.a.got) == 1
    assert rig.stats().parse_errors == 2


def test_late_frames_after_the_last_subscriber_left_are_dropped() -> None:
    rig = Rig().start()
    rig.tell(sub("BTC-USD", "a", BOOK))
    rig.tell(unsub("BTC-USD", "a", BOOK))
    rig.frames(book_frame("BTC", 1))
    assert rig.a.got == []
    assert rig.tell(GetBook(trading_pair="BTC-USD")) is None


def test_a_full_subscriber_mailbox_does_not_stall_the_others() -> None:
    rig = Rig().start()
    rig.tell(sub("BTC-USD", "a", BOOK))
    rig.tell(sub("BTC-USD", "b", BOOK))
    rig.a.full = True
    rig.frames(book_frame("BTC", 1))
    assert len(rig.b.got) == 1
    assert rig.stats().fanout_failures == 1


def test_unknown_messages_are_bugs() -> None:
    rig = Rig()
    with pytest.raises(TypeError, match="does not handle"):
        rig.core.handle(object())


def test_market_data_key_conflates_state_only() -> None:
    book = orjson.loads(book_frame("BTC", 1))
    assert book["channel"] == "l2Book"
    snapshot = BookSnapshot(trading_pair="BTC-USD", bids=(), asks=(), ts_event=1, ts_init=1)
    bbo = BestBidOffer(trading_pair="BTC-USD", bid=None, ask=None, ts_event=1, ts_init=1)
    assert market_data_key(snapshot) == (BookSnapshot, "BTC-USD")
    assert market_data_key(bbo) == (BestBidOffer, "BTC-USD")
    assert market_data_key(bbo) != market_data_key(snapshot)
    trade = TradeReceived(trading_pair="BTC-USD", side=OrderSide.SELL, price=Decimal(1),
                          size=Decimal(1), trade_id=TradeId(1), tx_hash="", buyer="",
                          seller="", ts_event=1, ts_init=1)
    assert market_data_key(trade) is None
    assert market_data_key(sub("BTC-USD", "a")) is None


def test_a_restarted_stream_restores_its_subscriptions_from_the_store() -> None:
    store = SubscriptionStore()
    first = Rig(store=store).start()
    first.tell(sub("BTC-USD", "a", BOOK, TRADES))
    first.tell(sub("BTC-USD", "b", BOOK))
    first.tell(sub("ETH-USD", "b"))
    first.tell(unsub("ETH-USD", "b", TRADES))
    first.tell(unsub("BTC-USD", "a", TRADES))
    assert [(c.trading_pair, c.subscriber_id, c.channels) for c in store.commands()] == [
        ("BTC-USD", "a", (BOOK,)), ("BTC-USD", "b", (BOOK,)), ("ETH-USD", "b", (BOOK, BBO)),
    ]
    second = Rig(store=store).start()  # the next incarnation: nobody re-subscribes
    assert second.connector.latest.subscriptions() == [
        {"type": "l2Book", "coin": "BTC"}, {"type": "l2Book", "coin": "ETH"},
        {"type": "bbo", "coin": "ETH"},
    ]
    second.frames(book_frame("BTC", 1), bbo_frame("ETH", 1))
    assert [type(m) for m in second.a.got] == [BookSnapshot]
    assert [type(m) for m in second.b.got] == [BookSnapshot, BestBidOffer]
