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
    to the events sink: `FeedConnected`, `FeedLost`, `FeedError`, `FundingPaid`,
    `LiquidationReported`.
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
                  tracker=ctx.lookup(paths.ORDER_TRACKER), events=events))
"""

from __future__ import annotations

import random
from typing import Any

from actors.streaming.common import Recipient
from actors.streaming.link import actor_ports
from actors.streaming.user import UserStreamConfig, UserStreamCore
from supervision.actor import SupervisedActor
from supervision.spec import ChildContext, EventSink
from venues.hyperliquid.payloads import WsFrameParser
from venues.hyperliquid.ws_connection import Connector


class UserStream(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        *,
        config: UserStreamConfig,
        tracker: Recipient,
        events: EventSink | None = None,
        connector: Connector | None = None,
        parser: WsFrameParser | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(ctx)
        self._config = config
        self._tracker = tracker
        self._events = events
        self._connector = connector
        self._parser = parser
        self._rng = rng
        self.core: UserStreamCore | None = None

    def on_started(self) -> None:
        ports = actor_ports(self.ctx, events=self._events, connector=self._connector,
                            rng=self._rng)
        self.core = UserStreamCore(
            config=self._config, ports=ports, tracker=self._tracker, parser=self._parser
        )
        self.core.start()

    def handle(self, message: Any) -> Any:
        core = self.core
        assert core is not None
        return core.handle(message)

    def on_stopping(self) -> None:
        if self.core is not None:
            self.core.stop()
