"""The lifecycle every WebSocket link shares: connect, ping/pong, reconnect with back-off.

Both streams and execution's ``post`` channel run one. `StreamLink` is plain logic: it runs on
its actor's thread, opens connections (`venues.hyperliquid.ws_connection`) through an injected
`Connector`, schedules its timers on injected `Timers` (each timer tells the actor a message that
the actor hands back to `StreamLink.on_timer`), and reports to its owner (the market or user
stream logic, the execution actor) through `LinkOwner`. Tests drive it with a fake connector and
a `ManualClock`.

Lifecycle of one link::

    IDLE --start--> CONNECTING --connected--> CONNECTED --lost / no pong / drop--> BACKING_OFF
                       |                                                              |
                       +--connect failed--> BACKING_OFF --Reconnect timer--> CONNECTING

Every attempt gets a fresh connection id (above ``id_base``, which the actor derives from its
fence epoch so that ids never repeat across incarnations); frames and state changes of any
other attempt are ignored. Routine disconnects never raise: the back-off (a
`supervision.policy.Backoff`, reset after a connection that stayed up ``reset_after``) schedules
the next attempt. Only an exhausted back-off (``max_restarts``) raises `FeedUnavailableError`,
handing the decision to the supervisor.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Callable

import attrs

from actors.streaming.common import positive
from clock import Clock, TimerHandle, Timers
from messages.connection import (
    ConnectionStateChanged,
    FrameReceived,
    PingDue,
    PongDeadline,
    Reconnect,
)
from messages.feed import FeedConnected, FeedError, FeedLost
from supervision.policy import Backoff, BackoffTracker
from supervision.spec import ChildContext
from venues.hyperliquid.ws_connection import (
    DEFAULT_MAX_FRAME_BYTES,
    ConflationKeyFn,
    ConnectionRequest,
    Connector,
    FrameSlots,
    Transport,
    TransportError,
    websocket_connector,
)

log = logging.getLogger(__name__)

EventSink = Callable[[object], None]


def _default_backoff() -> Backoff:
    return Backoff(min_s=0.5, max_s=30.0)


@attrs.frozen(kw_only=True)
class LinkConfig:
    """One stream's connection settings."""

    url: str
    ping_interval_s: float = attrs.field(default=30.0, validator=positive)
    """Below the venue's 60 s idle timeout (PROTOCOL §15.1); sent whatever the traffic."""
    pong_timeout_s: float = attrs.field(default=10.0, validator=positive)
    """No pong this long after a ping: the connection is dropped and re-opened."""
    connect_timeout_s: float = attrs.field(default=10.0, validator=positive)
    backoff: Backoff = attrs.field(factory=_default_backoff)
    join_timeout_s: float = attrs.field(default=2.0, validator=positive)
    """How long stopping waits for reader threads to exit."""
    max_frame_bytes: int = attrs.field(default=DEFAULT_MAX_FRAME_BYTES,
                                       validator=attrs.validators.ge(1))
    """Largest message accepted from the venue; a larger one is reported as a `FeedError`
    and the connection is re-opened with back-off."""


LinkTimer = Reconnect | PingDue | PongDeadline
"""The link's timer messages (`messages.connection`): the actor tells them to itself and hands
them back to `StreamLink.on_timer`."""


class FeedUnavailableError(RuntimeError):
    """The back-off's ``max_restarts`` consecutive attempts failed: the supervisor decides."""


@attrs.frozen(kw_only=True)
class StreamPorts:
    """What a stream's logic is given by its actor (or by a test)."""

    clock: Clock
    timers: Timers
    post: Callable[[object], None]
    """Tells the owning actor (timers and the reader thread use it): its stable handle's tell."""
    guard: Callable[[], None]
    """Called before every write to the socket: the incarnation's ``fence.check``."""
    events: EventSink
    """Feed events (FeedConnected, FeedLost, FeedError, ...)."""
    connector: Connector
    rng: random.Random = attrs.field(factory=random.Random)
    id_base: int = 0
    """Connection ids of this incarnation are ``id_base + 1, + 2, ...``."""


def actor_ports(
    ctx: ChildContext,
    *,
    events: EventSink,
    connector: Connector | None,
    rng: random.Random | None,
) -> StreamPorts:
    """The ports of a stream actor's incarnation: its clock, timers, own handle and fence; a
    connection id space of its own (the fence epoch), so frames of an earlier incarnation still
    in the mailbox are recognised and ignored."""
    return StreamPorts(
        clock=ctx.clock,
        timers=ctx.timers,
        post=ctx.self_handle.tell,
        guard=ctx.fence.check,
        events=events,
        connector=connector if connector is not None else websocket_connector(),
        rng=rng if rng is not None else random.Random(),  # noqa: S311 - back-off jitter
        id_base=ctx.fence.epoch << 32,
    )


class LinkOwner:
    """Callbacks of the logic that owns a link (the default does nothing)."""

    def on_connected(self) -> None:
        """The connection is open: send subscriptions (``link.send``)."""

    def on_lost(self) -> None:
        """The connection ended (``link.lost_reason`` says why); a reconnect is scheduled."""


class LinkState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKING_OFF = "backing_off"
    STOPPED = "stopped"


class StreamLink:
    """One stream's connection state machine (see the module docstring)."""

    def __init__(
        self,
        *,
        feed: str,
        config: LinkConfig,
        ports: StreamPorts,
        owner: LinkOwner,
        ping_frame: bytes,
        conflation_key: ConflationKeyFn | None = None,
    ) -> None:
        self.feed = feed
        self.config = config
        self.ports = ports
        self.owner = owner
        self._ping_frame = ping_frame
        self._conflation_key = conflation_key
        self._backoff = BackoffTracker(config.backoff)
        self.state = LinkState.IDLE
        self.connections = 0
        """Successful connections since this link started (FeedConnected.connection)."""
        self.attempts = 0
        self.connection_id = 0
        self._label = ""
        self._transport: Transport | None = None
        self._retired: list[Transport] = []
        self.slots: FrameSlots | None = None
        self._connected_at = 0
        self._timers: list[TimerHandle] = []
        self._ping_seq = 0
        self._awaiting_pong: int | None = None
        self.lost_reason = ""
        """Why the last connection that was up ended."""
        self.conflated_before = 0
        """Frames conflated on earlier connections (`conflated` adds the current one)."""

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    @property
    def conflated(self) -> int:
        slots = self.slots
        return self.conflated_before + (slots.replaced if slots is not None else 0)

    def start(self) -> None:
        if self.state is not LinkState.IDLE:
            raise RuntimeError(f"{self.feed}: link already started ({self.state.value})")
        self._open()

    def stop(self) -> bool:
        """Cancel timers, close the connection and wait (bounded) for reader threads.

        Returns False if a reader thread was still running after ``join_timeout_s``.
        """
        self.state = LinkState.STOPPED
        self._cancel_timers()
        self._retire_transport()
        retired, self._retired = self._retired, []
        joined = True
        for transport in retired:
            if not transport.join(self.config.join_timeout_s):
                log.error("%s: a reader thread did not exit within %.1fs", self.feed,
                          self.config.join_timeout_s)
                joined = False
        return joined

    def _open(self) -> None:
        ports = self.ports
        self.attempts += 1
        cid = ports.id_base + self.attempts
        self.connection_id = cid
        self._label = f"{self.feed}#{cid}"
        if self.slots is not None:
            self.conflated_before += self.slots.replaced
        self.slots = FrameSlots() if self._conflation_key is not None else None
        self.state = LinkState.CONNECTING
        self._transport = ports.connector(
            ConnectionRequest(
                url=self.config.url,
                label=self._label,
                connection_id=cid,
                deliver=ports.post,
                clock=ports.clock,
                connect_timeout_s=self.config.connect_timeout_s,
                slots=self.slots,
                conflation_key=self._conflation_key,
                max_frame_bytes=self.config.max_frame_bytes,
            )
        )
        self._retired = [t for t in self._retired if not t.join(0)]

    def _retire_transport(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
            self._retired.append(transport)

    # -- inputs --------------------------------------------------------------------------------

    def current_frame(self, message: FrameReceived) -> tuple[bytes, int] | None:
        """The frame to parse for ``message`` (the newest of its conflation slot), or None when
        the message belongs to another connection."""
        if message.connection_id != self.connection_id or self.state is not LinkState.CONNECTED:
            return None
        slots = self.slots
        if slots is not None:
            key_fn = self._conflation_key
            assert key_fn is not None
            key = key_fn(message.data)
            if key is not None:
                newest = slots.take(key)
                if newest is not None:
                    return newest
        return message.data, message.ts_init

    def on_state(self, message: ConnectionStateChanged) -> None:
        if message.connection != self._label:
            log.debug("%s: state of an old connection ignored: %s", self.feed, message.connection)
            return
        if message.connected:
            if self.state is not LinkState.CONNECTING:
                return
            self._on_connected()
        elif self.state in (LinkState.CONNECTING, LinkState.CONNECTED):
            transport = self._transport
            refusal = transport.refusal if transport is not None else None
            if refusal is not None:
                # Something the venue sent could not be used (an oversized message): an error
                # of the feed, besides the connection it cost.
                log.error("%s: %s", self.feed, refusal)
                self.ports.events(FeedError(feed=self.feed, reason=refusal,
                                            ts_init=self.ports.clock.time_ns()))
            self._lost(message.reason)

    def on_timer(self, message: LinkTimer) -> None:
        if isinstance(message, Reconnect):
            if self.state is LinkState.BACKING_OFF and message.connection == self._label:
                self._open()
            return
        if message.connection_id != self.connection_id or self.state is not LinkState.CONNECTED:
            return
        if isinstance(message, PingDue):
            self._ping()
        elif self._awaiting_pong == message.ping:
            self.drop(f"no pong within {self.config.pong_timeout_s:g}s")

    def on_pong(self) -> None:
        self._awaiting_pong = None

    def send(self, data: bytes) -> bool:
        """Send a frame on the current connection (fenced); False when there is none or it
        failed (then the connection is dropped and a reconnect scheduled)."""
        transport = self._transport
        if self.state is not LinkState.CONNECTED or transport is None:
            return False
        self.ports.guard()
        try:
            transport.send(data)
        except TransportError as exc:
            self.drop(str(exc))
            return False
        return True

    def drop(self, reason: str) -> None:
        """Force the current connection closed and reconnect with back-off."""
        if self.state in (LinkState.CONNECTING, LinkState.CONNECTED):
            self._lost(reason)

    # -- internals -----------------------------------------------------------------------------

    def _schedule(self, delay_s: float, message: object) -> None:
        post = self.ports.post
        self._timers.append(self.ports.timers.call_later(delay_s, lambda: post(message)))

    def _cancel_timers(self) -> None:
        timers, self._timers = self._timers, []
        for handle in timers:
            handle.cancel()

    def _on_connected(self) -> None:
        ports = self.ports
        self.state = LinkState.CONNECTED
        self.connections += 1
        self._connected_at = ports.clock.monotonic_ns()
        self._awaiting_pong = None
        self._schedule(self.config.ping_interval_s, PingDue(connection_id=self.connection_id))
        log.info("%s: connected to %s (connection %d)", self.feed, self.config.url,
                 self.connections)
        self.owner.on_connected()
        if self.state is LinkState.CONNECTED:
            ports.events(FeedConnected(
                feed=self.feed, url=self.config.url, connection=self.connections,
                ts_init=ports.clock.time_ns(),
            ))

    def _ping(self) -> None:
        cid = self.connection_id
        self._schedule(self.config.ping_interval_s, PingDue(connection_id=cid))
        if not self.send(self._ping_frame):
            return
        self._ping_seq += 1
        if self._awaiting_pong is None:
            # The deadline runs from the oldest unanswered ping: a later ping must not restart
            # it (with pong_timeout_s >= ping_interval_s it would never expire).
            self._awaiting_pong = self._ping_seq
            self._schedule(self.config.pong_timeout_s,
                           PongDeadline(connection_id=cid, ping=self._ping_seq))

    def _lost(self, reason: str) -> None:
        ports = self.ports
        was_connected = self.state is LinkState.CONNECTED
        uptime_s = (
            (ports.clock.monotonic_ns() - self._connected_at) / 1e9 if was_connected else 0.0
        )
        self._cancel_timers()
        self._retire_transport()
        self.state = LinkState.BACKING_OFF
        now = ports.clock.time_ns()
        if was_connected:
            self.lost_reason = reason
            log.warning("%s: connection lost: %s", self.feed, reason)
            ports.events(FeedLost(feed=self.feed, reason=reason, ts_init=now))
            self.owner.on_lost()
        else:
            log.warning("%s: connection attempt failed: %s", self.feed, reason)
            ports.events(FeedError(feed=self.feed, reason=reason, ts_init=now))
        delay = self._backoff.next_delay_s(uptime_s, ports.rng)
        if delay is None:
            raise FeedUnavailableError(
                f"{self.feed}: {self._backoff.attempt - 1} consecutive connection attempts "
                f"failed; last: {reason}"
            )
        log.info("%s: reconnecting in %.2fs", self.feed, delay)
        self._schedule(delay, Reconnect(connection=self._label, attempt=self._backoff.attempt,
                                        ts_init=now))
