"""The market stream over a real socket on 127.0.0.1: the reader thread, ping/pong, venue
disconnects, back-off reconnects, resubscription, restarts and thread hygiene."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from actors.market_stream import MarketStream, MarketStreamPeers
from actors.streaming import (
    LinkConfig,
    MarketStreamConfig,
    Recipient,
    SubscriptionStore,
    market_data_key,
)
from messages.commands import SubscribeMarket
from messages.enums import MarketChannel
from messages.feed import FeedConnected, FeedLost
from messages.market import BestBidOffer, BookSnapshot, GetBook, TradeReceived
from messages.streams import GetStreamStats, MarketStreamStats
from supervision import (
    Backoff,
    ChildContext,
    ChildSpec,
    Overflow,
    SupervisionTree,
    SupervisorSpec,
)
from tests.helpers import eventually, wait_for_item
from tests.support.streams import LocalWsServer
from tests.support.supervision import Collector, EventRecorder

MS = 1_000_000


def book(coin: str, ms: int, bid: str = "100.0", ask: str = "101.0") -> bytes:
    return orjson.dumps({"channel": "l2Book", "data": {"coin": coin, "time": ms, "levels": [
        [{"px": bid, "sz": "1.5", "n": 2}], [{"px": ask, "sz": "0.5", "n": 1}]]}})


def trades(coin: str, ms: int, tid: int) -> bytes:
    return orjson.dumps({"channel": "trades", "data": [{
        "coin": coin, "side": "B", "px": "100.5", "sz": "0.1", "hash": "0x00", "time": ms,
        "tid": tid, "users": ["0x1", "0x2"]}]})


def bbo(coin: str, ms: int) -> bytes:
    return orjson.dumps({"channel": "bbo", "data": {"coin": coin, "time": ms, "bbo": [
        {"px": "100.0", "sz": "1", "n": 1}, {"px": "101.0", "sz": "1", "n": 1}]}})


def reader_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ws-reader-")]


class Rig:
    def __init__(self, server: LocalWsServer, *, ping_interval_s: float = 30.0,
                 pong_timeout_s: float = 10.0,
                 extra: Callable[[str], Recipient | None] | None = None,
                 inline: bool = True) -> None:
        self.server = server
        self.events = EventRecorder()
        self.delivered = EventRecorder()
        self.store = SubscriptionStore()
        self.incarnations: list[MarketStream] = []
        config = MarketStreamConfig(inline=inline, link=LinkConfig(
            url=server.url, ping_interval_s=ping_interval_s, pong_timeout_s=pong_timeout_s,
            connect_timeout_s=5, backoff=Backoff(min_s=0.05, max_s=0.2), join_timeout_s=5,
        ))

        class WithExtras(MarketStream):
            """Also reaches the test's own recipients, which are not actors (they block or fail
            inside a delivery, on the delivering thread)."""

            def subscriber(self, subscriber_id: str) -> Recipient | None:
                if extra is not None and (found := extra(subscriber_id)) is not None:
                    return found
                return super().subscriber(subscriber_id)

        def market(ctx: ChildContext) -> MarketStream:
            actor = WithExtras(ctx, config=config, subscriptions=self.store,
                               peers=MarketStreamPeers(event_sinks=("events",)))
            self.incarnations.append(actor)
            return actor

        self.tree = SupervisionTree(SupervisorSpec(id="root", intensity=10, children=[
            ChildSpec(id="events", factory=lambda ctx: Collector(ctx, self.events)),
            ChildSpec(id="collector", factory=lambda ctx: Collector(ctx, self.delivered),
                      overflow=Overflow.LATEST_WINS, key=market_data_key),
            ChildSpec(id="market", factory=market),
        ])).start()
        self.market = self.tree.handle("market")

    def connected(self, connection: int, count: int = 1) -> FeedConnected:
        found = self.events.wait_for(FeedConnected, lambda e: e.connection == connection,
                                     count=count)
        return found[-1]

    def stats(self) -> MarketStreamStats:
        stats = self.market.ask(GetStreamStats(), timeout=5)
        assert isinstance(stats, MarketStreamStats)
        return stats

    def close(self) -> None:
        self.tree.stop()


@pytest.fixture
def server() -> Iterator[LocalWsServer]:
    with LocalWsServer() as srv:
        yield srv


@pytest.fixture
def rig(server: LocalWsServer) -> Iterator[Rig]:
    rig = Rig(server)
    yield rig
    rig.close()


def test_subscribe_and_receive_books_trades_and_bbo(rig: Rig, server: LocalWsServer) -> None:
    rig.connected(1)
    rig.market.tell(SubscribeMarket(trading_pair="BTC-USD", subscriber_id="collector"))
    conn = server.wait_for_connections(1)
    subs = server.wait_received(conn, "subscribe", 3)
    assert [s["subscription"]["type"] for s in subs] == ["l2Book", "trades", "bbo"]
    server.push(conn, book("BTC", 1), trades("BTC", 2, 7), bbo("BTC", 3), book("BTC", 4))
    rig.delivered.wait_for(BookSnapshot, lambda b: b.ts_event == 4 * MS)
    [trade] = rig.delivered.wait_for(TradeReceived)
    assert trade.trade_id == 7
    rig.delivered.wait_for(BestBidOffer)
    latest = rig.market.ask(GetBook(trading_pair="BTC-USD"), timeout=5)
    assert isinstance(latest, BookSnapshot)
    assert latest.ts_event == 4 * MS
    assert str(latest.bids[0].price) == "100.0"


def test_a_venue_disconnect_reconnects_with_backoff_and_resubscribes(
    rig: Rig, server: LocalWsServer
) -> None:
    rig.connected(1)
    rig.market.tell(SubscribeMarket(trading_pair="ETH-USD", subscriber_id="collector",
                                    channels=(MarketChannel.BOOK,)))
    first = server.wait_for_connections(1)
    server.wait_received(first, "subscribe", 1)
    server.close(first, code=1001)
    [lost] = rig.events.wait_for(FeedLost)
    assert "closed by the peer" in lost.reason
    second = server.wait_for_connections(2)
    assert server.wait_received(second, "subscribe", 1)[0]["subscription"] == {
        "type": "l2Book", "coin": "ETH"}
    reconnected = rig.connected(2)
    assert reconnected.ts_init - lost.ts_init >= 0.05 * 1e9  # at least the minimum back-off
    server.push(second, book("ETH", 10))
    rig.delivered.wait_for(BookSnapshot, lambda b: b.ts_event == 10 * MS)
    # A network failure without a close frame is handled the same way.
    server.abort(second)
    rig.events.wait_for(FeedLost, count=2)
    third = server.wait_for_connections(3)
    server.wait_received(third, "subscribe", 1)
    rig.connected(3)
    assert rig.stats().connections == 3
    eventually(lambda: len(reader_threads()) == 1, timeout=5)


def test_pings_are_answered_and_keep_the_connection(server: LocalWsServer) -> None:
    rig = Rig(server, ping_interval_s=0.05, pong_timeout_s=0.5)
    try:
        rig.connected(1)
        conn = server.wait_for_connections(1)
        server.wait_received(conn, "ping", 4)
        assert rig.events.of(FeedLost) == []
        assert len(server.connections) == 1
    finally:
        rig.close()


def test_a_missing_pong_forces_a_reconnect() -> None:
    with LocalWsServer(answer_pings=False) as server:
        rig = Rig(server, ping_interval_s=0.1, pong_timeout_s=0.1)
        try:
            rig.connected(1)
            [lost] = rig.events.wait_for(FeedLost)
            assert lost.reason == "no pong within 0.1s"
            first = server.connection(1)
            server.wait_for_connections(2)
            rig.connected(2)
            server.wait_for(lambda: not first.open)
        finally:
            rig.close()


def test_stopping_leaves_no_reader_thread(server: LocalWsServer) -> None:
    rig = Rig(server)
    try:
        rig.connected(1)
        # The client saw its handshake complete before the server registered the connection:
        # wait for it (indexing server.connections here failed ~1 run in 25 under load).
        server.close(server.connection(1))
        rig.connected(2)
        assert reader_threads()
    finally:
        rig.close()  # even when failing: a running rig would leak readers into later tests
    assert reader_threads() == []
    server.wait_for(lambda: not any(c.open for c in server.connections))


class Blocking:
    """A subscriber whose first delivery holds the delivering thread until released."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def tell(self, message: Any) -> None:
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(10)


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "mailbox"])
def test_a_restart_reconnects_restores_subscriptions_and_ignores_old_frames(
    server: LocalWsServer, inline: bool,
) -> None:
    """The reader is held inside a delivery while its incarnation crashes. Inline (the
    default), the old reader drops everything it reads afterwards; through the mailbox, the
    old connection's frames still queued are ignored by the next incarnation. Either way the
    next incarnation reconnects, resubscribes and delivers only the new connection's data."""
    blocker = Blocking()
    rig = Rig(server, extra=lambda sid: blocker if sid == "blocker" else None, inline=inline)
    try:
        rig.connected(1)
        rig.market.tell(SubscribeMarket(trading_pair="BTC-USD", subscriber_id="blocker",
                                        channels=(MarketChannel.BOOK,)))
        rig.market.tell(SubscribeMarket(trading_pair="BTC-USD", subscriber_id="collector",
                                        channels=(MarketChannel.TRADES,)))
        first = server.wait_for_connections(1)
        server.wait_received(first, "subscribe", 2)
        server.push(first, book("BTC", 1))
        assert blocker.entered.wait(5)  # the delivering thread is held
        server.push(first, *(trades("BTC", 2, tid) for tid in range(10)))
        if not inline:
            eventually(lambda: rig.market.pending() >= 10, timeout=5)
        assert rig.tree.crash("market")
        if inline:
            # The actor's own thread is free: let it retire the incarnation (its fence) before
            # the held reader goes on reading the trades.
            old = wait_for_item(lambda: rig.incarnations, 0)
            eventually(lambda: not old.fence.is_current, timeout=5)
        blocker.release.set()
        # Incarnation 2: a new connection, the same subscriptions, old frames ignored.
        second = server.wait_for_connections(2)
        assert [s["subscription"]["type"] for s in server.wait_received(second, "subscribe", 2)] \
            == ["l2Book", "trades"]
        assert rig.market.incarnation == 2
        rig.events.wait_for(FeedConnected, count=2)
        if not inline:
            assert rig.stats().ignored >= 10
        server.push(second, trades("BTC", 3, 99))
        [trade] = rig.delivered.wait_for(TradeReceived)
        assert trade.trade_id == 99, "a trade of the replaced connection was delivered"
        server.wait_for(lambda: not first.open)
    finally:
        blocker.release.set()
        rig.close()
    assert reader_threads() == []


def test_a_bug_on_the_reader_thread_crashes_the_incarnation_which_recovers(
    server: LocalWsServer,
) -> None:
    class Exploding:
        def __init__(self) -> None:
            self.calls = 0

        def tell(self, message: Any) -> None:
            self.calls += 1
            if self.calls == 1:
                raise ZeroDivisionError("subscriber bug")

    exploding = Exploding()
    rig = Rig(server, extra=lambda sid: exploding if sid == "exploding" else None)
    try:
        rig.connected(1)
        rig.market.tell(SubscribeMarket(trading_pair="BTC-USD", subscriber_id="exploding",
                                        channels=(MarketChannel.BOOK,)))
        first = server.wait_for_connections(1)
        server.wait_received(first, "subscribe", 1)
        server.push(first, book("BTC", 1))
        eventually(lambda: rig.tree.counters("market").failures == 1, timeout=10)
        second = server.wait_for_connections(2)
        server.wait_received(second, "subscribe", 1)
        server.push(second, book("BTC", 2))
        eventually(lambda: exploding.calls >= 2, timeout=10)
        assert rig.market.incarnation == 2
    finally:
        rig.close()
    assert reader_threads() == []
