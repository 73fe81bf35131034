"""`MarketStream`: the one WebSocket connection for all market data.

Accepts
    `SubscribeMarket` / `UnsubscribeMarket` (``subscriber_id`` names a handle in the
    ``directory``; an empty id keeps the data for `GetBook` without fan-out),
    `GetBook` (ask → the latest tradable `BookSnapshot` of the pair, or None),
    `GetStreamStats` (ask → `MarketStreamStats`),
    and its own plumbing: `FrameReceived` / `ConnectionStateChanged` from its reader thread,
    timer messages (`StaleCheck`, `PingDue`, `PongDeadline`, `Reconnect`).
Emits
    to each subscriber: `BookSnapshot`, `BestBidOffer`, `TradeReceived` of the pairs and channels
    it subscribed (subscribers' mailboxes should be LATEST_WINS keyed by `market_data_key`);
    to the events sink: `FeedConnected` (with the connection count), `FeedLost`, `FeedStale`,
    `BookCrossed`, `FeedError`.
Fails
    Routine disconnects, missed pongs and failed connection attempts are not failures: the stream
    reconnects with back-off and re-subscribes everything. Malformed frames are reported
    (`FeedError`) and skipped. An unknown message type raises (a wiring bug); an exhausted
    back-off (``Backoff.max_restarts``) raises `FeedUnavailableError`; a write from a replaced
    incarnation raises `FencedError`. On a restart the next incarnation opens a new connection,
    ignores frames of the old one still in the mailbox and restores the subscriptions from the
    ``subscriptions`` store — pass the same `SubscriptionStore` to every incarnation (create it
    outside the ChildSpec factory), or subscribers must subscribe again after a restart.

Its own mailbox takes the reader thread's frames: books and bbo are conflated per coin before
they are queued, so the default bounded BLOCK mailbox is fine (when it is full the reader waits,
which is TCP back-pressure; if it stays full for the block timeout the reader gives the
connection up and the stream replaces it).

Wiring::

    store = SubscriptionStore()
    ChildSpec(id="market_stream", backoff=Backoff(min_s=0.5, max_s=30),
              factory=lambda ctx: MarketStream(ctx, config=config, directory=directory,
                                               events=events, subscriptions=store))
"""

from __future__ import annotations

import random
from typing import Any

from actors.streaming.common import Directory
from actors.streaming.connection import Connector
from actors.streaming.link import actor_ports
from actors.streaming.market import MarketStreamConfig, MarketStreamCore, SubscriptionStore
from supervision.actor import SupervisedActor
from supervision.spec import ChildContext, EventSink
from venues.hyperliquid.payloads import CoinMapper


class MarketStream(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        *,
        config: MarketStreamConfig,
        directory: Directory,
        events: EventSink | None = None,
        connector: Connector | None = None,
        coins: CoinMapper | None = None,
        rng: random.Random | None = None,
        subscriptions: SubscriptionStore | None = None,
    ) -> None:
        super().__init__(ctx)
        self._store = subscriptions
        self._config = config
        self._directory = directory
        self._events = events
        self._connector = connector
        self._coins = coins
        self._rng = rng
        self.core: MarketStreamCore | None = None

    def on_started(self) -> None:
        ports = actor_ports(self.ctx, events=self._events, connector=self._connector,
                            rng=self._rng)
        self.core = MarketStreamCore(
            config=self._config, ports=ports, directory=self._directory, coins=self._coins,
            store=self._store,
        )
        self.core.start()

    def handle(self, message: Any) -> Any:
        core = self.core
        assert core is not None
        return core.handle(message)

    def on_stopping(self) -> None:
        if self.core is not None:
            self.core.stop()
