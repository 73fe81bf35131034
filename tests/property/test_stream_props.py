"""Properties of the stream logic: book monotonicity and crossing, subscription bookkeeping
(a state machine against a model), and conflation under any interleaving of reader and actor."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from actors.streaming.link import LinkConfig, StreamPorts
from actors.streaming.market import MarketStreamConfig, MarketStreamCore, SubscriptionStore
from clock import ManualClock
from messages.commands import SubscribeMarket, UnsubscribeMarket
from messages.connection import FrameReceived
from messages.enums import MarketChannel
from messages.feed import BookCrossed
from messages.market import BookSnapshot, GetBook, TradeReceived
from supervision.policy import Backoff
from tests.support.streams import FakeConnector, Inbox
from venues.hyperliquid.ws_client import conflation_key

MS = 1_000_000
COINS = ("BTC", "ETH")
SUBSCRIBERS = ("a", "b", "c")
CHANNELS = tuple(MarketChannel)


def book(coin: str, ms: int, crossed: bool = False) -> bytes:
    bid, ask = ("101.0", "100.0") if crossed else ("100.0", "101.0")
    return orjson.dumps({"channel": "l2Book", "data": {"coin": coin, "time": ms, "levels": [
        [{"px": bid, "sz": "1", "n": 1}], [{"px": ask, "sz": "1", "n": 1}]]}})


def trade(coin: str, tid: int) -> bytes:
    return orjson.dumps({"channel": "trades", "data": [{
        "coin": coin, "side": "A", "px": "100.5", "sz": "1", "hash": "0x0", "time": 1,
        "tid": tid, "users": ["0x1", "0x2"]}]})


class Recorder:
    def __init__(self) -> None:
        self.got: list[Any] = []

    def tell(self, message: Any) -> None:
        self.got.append(message)


class Rig:
    def __init__(self, *, conflate: bool, store: SubscriptionStore | None = None) -> None:
        self.clock = ManualClock()
        self.inbox = Inbox()
        self.events: list[object] = []
        self.connector = FakeConnector()
        self.subscribers = {sid: Recorder() for sid in SUBSCRIBERS}
        self.core = MarketStreamCore(
            config=MarketStreamConfig(inline=False,
                link=LinkConfig(url="ws://x", backoff=Backoff(min_s=1, max_s=1,
                                                              random_factor=0)),
                conflate=conflate, stale_after_s=1e6,
            ),
            ports=StreamPorts(clock=self.clock, timers=self.clock, post=self.inbox.post,
                              guard=lambda: None, events=self.events.append,
                              connector=self.connector, rng=random.Random(0)),
            recipient_of=self.subscribers.get,
            store=store,
        )
        self.core.start()
        self.connector.latest.open()
        self.pump()

    def pump(self) -> None:
        self.inbox.pump(self.core.handle)

    def step(self) -> bool:
        if not self.inbox.queue:
            return False
        self.core.handle(self.inbox.queue.popleft())
        return True


frames = st.lists(st.tuples(st.sampled_from(COINS), st.integers(0, 20), st.booleans()),
                  max_size=40)


@settings(max_examples=150)
@given(frames)
def test_books_are_monotonic_and_crossed_books_never_tradable(
    sequence: list[tuple[str, int, bool]],
) -> None:
    rig = Rig(conflate=False)
    for coin in COINS:
        rig.core.handle(SubscribeMarket(trading_pair=f"{coin}-USD", subscriber_id="a",
                                        channels=(MarketChannel.BOOK,)))
    for coin, ms, crossed in sequence:
        rig.connector.latest.frame(book(coin, ms, crossed))
    rig.pump()
    # The model: a frame is accepted when it is not older than the last accepted one.
    last: dict[str, int] = {}
    latest: dict[str, tuple[int, bool]] = {}
    forwarded: list[tuple[str, int]] = []
    episodes = 0
    in_crossing: dict[str, bool] = defaultdict(bool)
    for coin, ms, crossed in sequence:
        if coin in last and ms < last[coin]:
            continue
        last[coin] = ms
        latest[coin] = (ms, crossed)
        if crossed:
            episodes += not in_crossing[coin]
            in_crossing[coin] = True
        else:
            in_crossing[coin] = False
            forwarded.append((coin, ms))
    got = [(b.trading_pair.split("-")[0], b.ts_event // MS) for b in rig.subscribers["a"].got]
    assert got == forwarded
    assert all(not b.is_crossed for b in rig.subscribers["a"].got)
    assert len([e for e in rig.events if isinstance(e, BookCrossed)]) == episodes
    for coin in COINS:
        answer = rig.core.handle(GetBook(trading_pair=f"{coin}-USD"))
        if coin not in latest or latest[coin][1]:
            assert answer is None
        else:
            assert isinstance(answer, BookSnapshot)
            assert answer.ts_event == latest[coin][0] * MS


class Subscriptions(RuleBasedStateMachine):
    """Venue subscriptions always equal the (pair, channel)s someone wants, across reconnects
    and restarts (a new core on the same store)."""

    def __init__(self) -> None:
        super().__init__()
        self.store = SubscriptionStore()
        self.rig = Rig(conflate=True, store=self.store)
        self.model: dict[tuple[str, MarketChannel], set[str]] = defaultdict(set)
        self.venue: set[tuple[str, str]] = set()
        self.seen = 0

    def _replay(self) -> None:
        transport = self.rig.connector.latest
        for frame in transport.sent_json()[self.seen:]:
            sub = frame["subscription"]
            key = (sub["type"], sub["coin"])
            if frame["method"] == "subscribe":
                assert key not in self.venue, f"subscribed twice: {key}"
                self.venue.add(key)
            else:
                assert key in self.venue, f"unsubscribed without a subscription: {key}"
                self.venue.discard(key)
        self.seen = len(transport.sent)

    @rule(coin=st.sampled_from(COINS), sid=st.sampled_from(SUBSCRIBERS),
          channels=st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True))
    def subscribe(self, coin: str, sid: str, channels: list[MarketChannel]) -> None:
        self.rig.core.handle(SubscribeMarket(trading_pair=f"{coin}-USD", subscriber_id=sid,
                                             channels=tuple(channels)))
        for channel in channels:
            self.model[(f"{coin}-USD", channel)].add(sid)

    @rule(coin=st.sampled_from(COINS), sid=st.sampled_from(SUBSCRIBERS),
          channels=st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True))
    def unsubscribe(self, coin: str, sid: str, channels: list[MarketChannel]) -> None:
        self.rig.core.handle(UnsubscribeMarket(trading_pair=f"{coin}-USD", subscriber_id=sid,
                                               channels=tuple(channels)))
        for channel in channels:
            self.model[(f"{coin}-USD", channel)].discard(sid)

    @rule()
    def reconnect(self) -> None:
        self._replay()
        self.rig.connector.latest.lost()
        self.rig.pump()
        self.rig.clock.advance(1)
        self.rig.pump()
        assert len(self.rig.connector.transports) >= 2
        self.rig.connector.latest.open()
        self.rig.pump()
        self.venue, self.seen = set(), 0

    @rule()
    def restart(self) -> None:
        self.rig.core.stop()
        self.rig = Rig(conflate=True, store=self.store)
        self.venue, self.seen = set(), 0

    @invariant()
    def venue_matches_the_model(self) -> None:
        self._replay()
        wanted = {
            ({MarketChannel.BOOK: "l2Book", MarketChannel.TRADES: "trades",
              MarketChannel.BBO: "bbo"}[channel], pair.split("-")[0])
            for (pair, channel), sids in self.model.items() if sids
        }
        assert self.venue == wanted


TestSubscriptions = Subscriptions.TestCase
TestSubscriptions.settings = settings(max_examples=60, stateful_step_count=25)


steps = st.lists(
    st.one_of(
        st.tuples(st.just("book"), st.sampled_from(COINS)),
        st.tuples(st.just("trade"), st.sampled_from(COINS)),
        st.tuples(st.just("handle"), st.just("")),
    ),
    max_size=80,
)


@settings(max_examples=150)
@given(steps)
def test_conflation_under_any_interleaving(schedule: list[tuple[str, str]]) -> None:
    rig = Rig(conflate=True)
    for coin in COINS:
        rig.core.handle(SubscribeMarket(trading_pair=f"{coin}-USD", subscriber_id="a",
                                        channels=(MarketChannel.BOOK, MarketChannel.TRADES)))
    transport = rig.connector.latest
    clock_ms: dict[str, int] = defaultdict(int)
    tid = 0
    sent_trades: list[int] = []
    for action, coin in schedule:
        if action == "book":
            clock_ms[coin] += 1
            transport.frame(book(coin, clock_ms[coin]))
        elif action == "trade":
            tid += 1
            sent_trades.append(tid)
            transport.frame(trade(coin, tid))
        else:
            rig.step()
        queued = Counter(
            conflation_key(m.data) for m in rig.inbox.queue if isinstance(m, FrameReceived)
        )
        assert all(n <= 1 for key, n in queued.items() if key is not None), (
            "at most one queued book message per coin, whatever the backlog"
        )
    rig.pump()
    got = rig.subscribers["a"].got
    for coin in COINS:
        times = [b.ts_event // MS for b in got
                 if isinstance(b, BookSnapshot) and b.trading_pair == f"{coin}-USD"]
        assert times == sorted(set(times)), "books go forward, never twice"
        if clock_ms[coin]:
            assert times[-1] == clock_ms[coin], "the newest book always arrives"
    assert [t.trade_id for t in got if isinstance(t, TradeReceived)] == sent_trades
    books = sum(clock_ms.values())
    delivered = len([b for b in got if isinstance(b, BookSnapshot)])
    assert delivered + rig.core.link.conflated == books
