"""`MarketStream`: the one WebSocket connection for all market data.

Accepts
    `SubscribeMarket` / `UnsubscribeMarket` (``subscriber_id`` names the subscriber: the
    actor's path in the tree, by default — see ``subscriber_path``; an empty id keeps the data
    for `GetBook` without fan-out),
    `GetBook` (ask → the latest tradable `BookSnapshot` of the pair, or None),
    `GetStreamStats` (ask → `MarketStreamStats`),
    and its own plumbing: `FrameReceived` / `ConnectionStateChanged` from its reader thread,
    timer messages (`StaleCheck`, `PingDue`, `PongDeadline`, `Reconnect`).
Emits
    to each subscriber: `BookSnapshot`, `BestBidOffer`, `TradeReceived` of the pairs and channels
    it subscribed (subscribers' mailboxes should be LATEST_WINS keyed by `market_data_key`);
    to the event sinks: `FeedConnected` (with the connection count), `FeedLost`, `FeedStale`,
    `BookCrossed`, `FeedError`.
Peers
    `MarketStreamPeers`: the paths of the event sinks, resolved to stable handles at start; a
    subscriber's path (``subscriber_path`` of its id) is resolved when it subscribes, since
    subscribers come and go (an id that names no actor in the tree is refused with a
    `FeedError`).
Fails
    Routine disconnects, missed pongs and failed connection attempts are not failures: the stream
    reconnects with back-off and re-subscribes everything. Malformed frames are reported
    (`FeedError`) and skipped. An unknown message type raises (a wiring bug); an exhausted
    back-off (``Backoff.max_restarts``) raises `FeedUnavailableError`; a write from a replaced
    incarnation raises `FencedError`. On a restart the next incarnation opens a new connection,
    ignores frames of the old one still in the mailbox and restores the subscriptions from the
    ``subscriptions`` store — pass the same `SubscriptionStore` to every incarnation (create it
    outside the ChildSpec factory), or subscribers must subscribe again after a restart.

Frames are handled on the reader thread (``MarketStreamConfig.inline``, the default): it parses
each frame and fans it out itself while holding the actor's lock, which the actor's thread
holds for every other message — so the core is never run by two threads at once, and a book
reaches a strategy with one thread hand-off instead of two. A frame the reader thread fails to
handle (a bug; malformed frames are `FeedError` events) becomes `FrameHandlingFailed` in the
mailbox, which crashes the incarnation like a failed handler. With ``inline=False`` the reader
tells the actor `FrameReceived` instead; books and bbo are then conflated per coin before they
are queued, so the default bounded BLOCK mailbox is fine (when it is full the reader waits,
which is TCP back-pressure; if it stays full for the block timeout the reader gives the
connection up and the stream replaces it).

Wiring::

    store = SubscriptionStore()
    ChildSpec(id=paths.MARKET_STREAM, backoff=Backoff(min_s=0.5, max_s=30),
              factory=lambda ctx: MarketStream(
                  ctx, config=config, subscriptions=store,
                  peers=MarketStreamPeers(event_sinks=(paths.PUBLISHER, paths.MONITOR))))
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

import attrs

from actors.streaming.common import Recipient
from actors.streaming.link import actor_ports
from actors.streaming.market import MarketStreamConfig, MarketStreamCore, SubscriptionStore
from messages.connection import FrameHandlingFailed, FrameReceived
from supervision.actor import SupervisedActor
from supervision.handle import Handle
from supervision.spec import ChildContext
from venues.hyperliquid.payloads import CoinMapper
from venues.hyperliquid.ws_connection import Connector

log = logging.getLogger(__name__)


def own_path(subscriber_id: str) -> str | None:
    """Subscribers subscribe under their own path in the tree (``subscriber_id=child_id``)."""
    return subscriber_id


@attrs.frozen(kw_only=True)
class MarketStreamPeers:
    """Paths of the actors the market stream tells: the event sinks (resolved to stable handles
    at start) and its subscribers (resolved when they subscribe, since they come and go)."""

    event_sinks: tuple[str, ...] = ()
    """Receive the feed events (the publisher, the monitor)."""
    subscriber_path: Callable[[str], str | None] = own_path
    """Where the subscriber with this id lives in the tree (None: unknown)."""


class MarketStream(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        *,
        config: MarketStreamConfig,
        peers: MarketStreamPeers = MarketStreamPeers(),
        connector: Connector | None = None,
        coins: CoinMapper | None = None,
        rng: random.Random | None = None,
        subscriptions: SubscriptionStore | None = None,
    ) -> None:
        super().__init__(ctx)
        self._store = subscriptions
        self._config = config
        self.peers = peers
        self._sinks: tuple[Handle, ...] = ()
        self._connector = connector
        self._coins = coins
        self._rng = rng
        self.core: MarketStreamCore | None = None
        self._lock = threading.Lock()
        """Held while the core runs: by this actor's thread for each message, by the reader
        thread for each frame it handles inline."""
        self._inline_open = False

    def on_started(self) -> None:
        self._sinks = tuple(self.ctx.lookup(p) for p in self.peers.event_sinks)
        ports = actor_ports(self.ctx, events=self._emit, connector=self._connector,
                            rng=self._rng)
        if self._config.inline:
            ports = attrs.evolve(ports, post=self._from_reader)
            self._inline_open = True
        self.core = MarketStreamCore(
            config=self._config, ports=ports, recipient_of=self.subscriber, coins=self._coins,
            store=self._store,
        )
        with self._lock:
            self.core.start()

    def handle(self, message: Any) -> Any:
        core = self.core
        assert core is not None
        if type(message) is FrameHandlingFailed:
            raise RuntimeError(f"{message.connection}: frame handling failed on the reader "
                               f"thread: {message.error}")
        with self._lock:
            return core.handle(message)

    def on_stopping(self) -> None:
        with self._lock:
            self._inline_open = False  # the reader thread handles no frame from now on
        if self.core is not None:
            self.core.stop()  # joins the reader threads: not under the lock they wait for

    def subscriber(self, subscriber_id: str) -> Recipient | None:
        """The stable handle of the subscriber with this id (None: no such actor)."""
        path = self.peers.subscriber_path(subscriber_id)
        if path is None:
            return None
        try:
            return self.ctx.lookup(path)
        except KeyError:
            return None

    def _emit(self, event: object) -> None:
        for sink in self._sinks:
            sink.tell(event)

    def _from_reader(self, message: object) -> None:
        """``post`` of the core's ports: frames are handled here, on the reader thread; every
        other message (connection state, timers) goes to the mailbox as usual."""
        if type(message) is not FrameReceived:
            self.self_handle.tell(message)
            return
        core = self.core
        with self._lock:
            if not self._inline_open or core is None or not self.fence.is_current:
                return  # stopping, or a replaced incarnation's reader
            try:
                core.on_frame(message)
            except Exception as exc:
                # A bug, not bad input (malformed frames are FeedError events): crash this
                # incarnation through its mailbox, as a failed handler would.
                log.exception("%s: frame handling failed on the reader thread", self.child_id)
                self._inline_open = False
                self.self_handle.tell(FrameHandlingFailed(
                    connection=message.connection, error=f"{type(exc).__name__}: {exc}",
                    ts_init=self.clock.time_ns()))
