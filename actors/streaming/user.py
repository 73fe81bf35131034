"""The user stream's logic: the account's order updates, fills and events → the order tracker.

One connection per account (``orderUpdates`` and ``userEvents`` do not name the user, so a
connection can only carry one; PROTOCOL §15.3). The account is the master address the orders
belong to, never the agent (API) wallet that signs them.

* After each connect the three subscriptions are sent; once all three are acknowledged the
  tracker is told `ReconcileAll`: the venue does not replay order updates missed while
  disconnected, so only a reconciliation can catch them up. No acks within ``ack_timeout_s``
  means the connection is useless: it is dropped and re-opened.
* Evidence goes to the tracker exactly as parsed, one message per order update, the fill batches
  whole (the ``isSnapshot`` batch after each subscribe included: the tracker deduplicates by
  trade id), and system cancels one by one. Funding and liquidations go to the events sink.
* A malformed frame is reported (`FeedError`) and skipped; the reconciliation after the next
  reconnect (or the tracker's own re-queries) covers what it may have carried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs

from actors.streaming.common import Recipient, positive
from actors.streaming.frames import SKIPPED, FrameCore
from actors.streaming.link import LinkConfig, StreamLink, StreamPorts
from clock import TimerHandle
from messages.account import FundingPaid, LiquidationReported, NonUserCancelReported
from messages.connection import (
    ConnectionStateChanged,
    FrameReceived,
    PingDue,
    PongDeadline,
    Reconnect,
)
from messages.streams import AckDeadline, GetStreamStats, UserStreamStats
from messages.tracking import ReconcileAll
from messages.venue import FillsReported, OrderStatusReported
from venues.hyperliquid.payloads import (
    Pong,
    SubscriptionAck,
    WsError,
    WsFrameParser,
)
from venues.hyperliquid.wire import check_address
from venues.hyperliquid.ws_client import (
    PING_FRAME,
    Subscription,
    acknowledged,
    subscribe_frame,
    user_subscriptions,
)

log = logging.getLogger(__name__)

RECONNECTED = "user stream reconnected"
CONNECTED = "user stream connected"


def _address(value: str) -> str:
    return check_address(value)


def _optional_address(value: str | None) -> str | None:
    return None if value is None else check_address(value)


@attrs.frozen(kw_only=True)
class UserStreamConfig:
    link: LinkConfig
    account_address: str = attrs.field(converter=_address)
    """The account whose orders these are, lower-cased: the master, or the vault / sub-account
    traded for (`runtime` resolves it)."""
    agent_address: str | None = attrs.field(default=None, converter=_optional_address)
    """The signer's address when it is not the account (an agent, or the master of a vault),
    when known: only to refuse a mix-up of the two."""
    feed: str = "user"
    ack_timeout_s: float = attrs.field(default=10.0, validator=positive)

    def __attrs_post_init__(self) -> None:
        if self.agent_address is not None and self.agent_address == self.account_address:
            raise ValueError(
                "the user stream subscribes the account's address, not the signer's"
            )




class UserStreamCore(FrameCore):
    """See the module docstring."""

    def __init__(
        self,
        *,
        config: UserStreamConfig,
        ports: StreamPorts,
        tracker: Recipient,
        parser: WsFrameParser | None = None,
    ) -> None:
        self.config = config
        self.feed = config.feed
        self.ports = ports
        self._tracker = tracker
        self.parser = parser if parser is not None else WsFrameParser()
        self.subscriptions: tuple[Subscription, ...] = user_subscriptions(config.account_address)
        self.link = StreamLink(
            feed=config.feed, config=config.link, ports=ports, owner=self, ping_frame=PING_FRAME
        )
        self._pending: set[Subscription] | None = None
        """Subscriptions of the current connection not yet acknowledged (None: all were)."""
        self._ack_timer: TimerHandle | None = None
        self.frames = self.ignored = self.order_updates = self.fill_batches = self.fills = 0
        self.non_user_cancels = self.account_events = self.reconciles = self.parse_errors = 0
        self._handlers: dict[type, Callable[[Any], Any]] = {
            FrameReceived: self.on_frame,
            ConnectionStateChanged: self.link.on_state,
            AckDeadline: self.on_ack_deadline,
            PingDue: self.link.on_timer,
            PongDeadline: self.link.on_timer,
            Reconnect: self.link.on_timer,
            GetStreamStats: lambda _m: self.stats(),
        }

    def start(self) -> None:
        self.link.start()

    def stop(self) -> bool:
        self._cancel_ack_timer()
        return self.link.stop()

    def handle(self, message: object) -> Any:
        handler = self._handlers.get(type(message))
        if handler is None:
            raise TypeError(f"user stream does not handle {type(message).__name__}")
        return handler(message)

    # -- link callbacks ------------------------------------------------------------------------

    def on_connected(self) -> None:
        self._pending = set(self.subscriptions)
        for subscription in self.subscriptions:
            if not self.link.send(subscribe_frame(subscription)):
                return
        post = self.ports.post
        deadline = AckDeadline(connection_id=self.link.connection_id)
        self._ack_timer = self.ports.timers.call_later(
            self.config.ack_timeout_s, lambda: post(deadline)
        )

    def on_lost(self) -> None:
        self._pending = None
        self._cancel_ack_timer()

    def _cancel_ack_timer(self) -> None:
        timer, self._ack_timer = self._ack_timer, None
        if timer is not None:
            timer.cancel()

    def on_ack_deadline(self, message: AckDeadline) -> None:
        link = self.link
        if message.connection_id != link.connection_id or not link.connected:
            return
        if self._pending:
            missing = sorted(dict(s)["type"] for s in self._pending)
            link.drop(
                f"subscriptions not acknowledged within {self.config.ack_timeout_s:g}s: "
                + ", ".join(missing)
            )

    def _on_ack(self, ack: SubscriptionAck, ts_init: int) -> None:
        found = acknowledged(ack)
        pending = self._pending
        if found is None or pending is None or found[0] != "subscribe":
            return
        pending.discard(found[1])
        if pending:
            return
        self._pending = None
        self._cancel_ack_timer()
        self.reconciles += 1
        reason = CONNECTED if self.link.connections == 1 else RECONNECTED
        log.info("%s: subscriptions acknowledged; asking the tracker to reconcile (%s)",
                 self.config.feed, reason)
        self._tracker.tell(ReconcileAll(reason=reason, ts_init=ts_init))

    # -- frames --------------------------------------------------------------------------------

    def on_frame(self, message: FrameReceived) -> None:
        event = self.parse_current(message)
        if event is SKIPPED:
            return
        tracker = self._tracker
        if isinstance(event, tuple):
            for item in event:
                if isinstance(item, OrderStatusReported):
                    self.order_updates += 1
                    tracker.tell(item)
                elif isinstance(item, NonUserCancelReported):
                    self.non_user_cancels += 1
                    tracker.tell(item)
                elif isinstance(item, FundingPaid):
                    self.account_events += 1
                    self.ports.events(item)
                else:
                    log.debug("%s: %s not used", self.config.feed, type(item).__name__)
        elif isinstance(event, FillsReported):
            self.fill_batches += 1
            self.fills += len(event.fills)
            tracker.tell(event)
        elif isinstance(event, FundingPaid | LiquidationReported):
            self.account_events += 1
            self.ports.events(event)
        elif isinstance(event, SubscriptionAck):
            self._on_ack(event, message.ts_init)  # no conflation here: the frame is the message
        elif isinstance(event, Pong):
            self.link.on_pong()
        elif isinstance(event, WsError):
            self._error(f"venue error: {event.message}")
        elif event is not None:
            log.debug("%s: frame not used: %s", self.config.feed, type(event).__name__)

    def stats(self) -> UserStreamStats:
        return UserStreamStats(
            connections=self.link.connections,
            frames=self.frames,
            ignored=self.ignored,
            order_updates=self.order_updates,
            fill_batches=self.fill_batches,
            fills=self.fills,
            non_user_cancels=self.non_user_cancels,
            account_events=self.account_events,
            reconciles=self.reconciles,
            parse_errors=self.parse_errors,
        )
