"""`UserStream`: the account's WebSocket connection (orderUpdates, userFills, userEvents).

Accepts
    `GetStreamStats` (ask → `UserStreamStats`) and its own plumbing: `FrameReceived` /
    `ConnectionStateChanged` from its reader thread, timer messages (`AckDeadline`, `PingDue`,
    `PongDeadline`, `Reconnect`).
Emits
    to the order tracker: every `OrderStatusReported` (one per order update), every
    `FillsReported` batch as received (the ``is_snapshot`` batch after each subscribe included:
    the tracker deduplicates), every `NonUserCancelReported`, and `ReconcileAll` after each
    (re)connect once the three subscriptions are acknowledged (reason ``"user stream
    connected"`` the first time, ``"user stream reconnected"`` after that): the venue does not
    replay order updates missed while disconnected;
    to the event sinks: `FeedConnected`, `FeedLost`, `FeedError`, `FundingPaid`,
    `LiquidationReported`.
Peers
    `UserStreamPeers`: the paths of the order tracker and the event sinks, resolved to stable
    handles at start.
Fails
    Disconnects, missed pongs, unacknowledged subscriptions and failed attempts reconnect with
    back-off. Malformed frames are reported (`FeedError`) and skipped. An unknown message type
    raises; an exhausted back-off raises `FeedUnavailableError`; a write from a replaced
    incarnation raises `FencedError`; a tracker mailbox that stays full raises
    `MailboxFullError` (evidence is never dropped: the restart reconnects and the tracker
    reconciles).

Wiring::

    ChildSpec(id=paths.USER_STREAM, backoff=Backoff(min_s=0.5, max_s=30),
              factory=lambda ctx: UserStream(
                  ctx, config=UserStreamConfig(link=LinkConfig(url=ws_url),
                                               account_address=account, agent_address=agent),
                  peers=UserStreamPeers(event_sinks=(paths.PUBLISHER, paths.MONITOR))))
"""

from __future__ import annotations

import random
from typing import Any

import attrs

from actors import paths
from actors.streaming.link import actor_ports
from actors.streaming.user import UserStreamConfig, UserStreamCore
from supervision.actor import SupervisedActor
from supervision.handle import Handle
from supervision.spec import ChildContext
from venues.hyperliquid.payloads import WsFrameParser
from venues.hyperliquid.ws_connection import Connector


@attrs.frozen(kw_only=True)
class UserStreamPeers:
    """Paths of the actors the user stream tells (resolved to stable handles at start)."""

    tracker: str = paths.ORDER_TRACKER
    """Receives the account's evidence and ReconcileAll."""
    event_sinks: tuple[str, ...] = ()
    """Receive the feed and account events (the publisher, the monitor)."""


class UserStream(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        *,
        config: UserStreamConfig,
        peers: UserStreamPeers = UserStreamPeers(),
        connector: Connector | None = None,
        parser: WsFrameParser | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(ctx)
        self._config = config
        self.peers = peers
        self._connector = connector
        self._parser = parser
        self._rng = rng
        self._sinks: tuple[Handle, ...] = ()
        self.core: UserStreamCore | None = None

    def on_started(self) -> None:
        lookup = self.ctx.lookup
        tracker = lookup(self.peers.tracker)
        self._sinks = tuple(lookup(p) for p in self.peers.event_sinks)
        ports = actor_ports(self.ctx, events=self._emit, connector=self._connector,
                            rng=self._rng)
        self.core = UserStreamCore(
            config=self._config, ports=ports, tracker=tracker, parser=self._parser
        )
        self.core.start()

    def handle(self, message: Any) -> Any:
        core = self.core
        assert core is not None
        return core.handle(message)

    def on_stopping(self) -> None:
        if self.core is not None:
            self.core.stop()

    def _emit(self, event: object) -> None:
        for sink in self._sinks:
            sink.tell(event)
