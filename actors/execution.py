"""The execution actor: signed venue requests and queries out, the venue's answers back.

Accepts: SignedAction and SignerBacklog (signer); ReconcileRequested (order tracker);
  SendAccountState (answered by telling the requester an AccountStateReported); and from its
  own network threads and timers ResponseReceived, ConnectionStateChanged, FrameReceived (the
  post channel's pongs), RequestExpired, DrainQueue, RenewDeadman, RefreshRateLimit, and its
  post channel link's Reconnect, PingDue, PongDeadline. Strategies' commands never come here:
  they pass the risk gate (`actors.risk_gate`) and the tracker, which asks the signer.
Emits: RequestSent and the venue's answers and query results (SubmitAnswered, CancelAnswered,
  ModifyAnswered, RequestFailed, NonceInvalidated, OrderStatusReported, OrderNotFoundReported,
  OpenOrdersReported, FillsReported) to the order tracker; SendCredit, InvalidateNonce and
  ScheduleCancel to the signer; RateLimitReported to the event sinks (the risk gate keeps the
  address's request budget from it).
Peers: `ExecutionPeers` — the paths of the tracker, the signer and the event sinks, resolved
  to stable handles at start.
Paces: the venue's limits are counted in `actors.executing.pacing` — the signer signs only
  with credit granted from the IP weight budget (the gate refuses new orders when the signer's
  backlog would outlive them).
Never blocks: requests are handed to network threads (WS ``post``, HTTP fallback) whose answers
  come back as messages. The WS channel (`venues.hyperliquid.transport.WsPostTransport`) is
  opened, pinged and re-opened with back-off by a `StreamLink` (`actors.streaming.link`), as the
  streams' connections are; while it is down requests go over HTTP, and when it drops the
  requests it carried are resent over HTTP.
Fails: every send is fenced (a replaced incarnation cannot reach the venue). Requests in flight
  when an incarnation dies get no answer here: the tracker's deadlines turn their orders UNKNOWN
  and reconciliation decides.
"""

from __future__ import annotations

import logging
import random

import attrs

from actors import paths
from actors.executing.core import ExecutionConfig, ExecutionCore, Ports
from actors.streaming.link import LinkConfig, LinkOwner, StreamLink, actor_ports
from messages.connection import (
    ConnectionStateChanged,
    FrameReceived,
    PingDue,
    PongDeadline,
    Reconnect,
    ResponseReceived,
)
from messages.execution import (
    DrainQueue,
    RefreshRateLimit,
    RenewDeadman,
    RequestExpired,
    SendAccountState,
    SignedAction,
)
from messages.gate import SignerBacklog
from messages.tracking import ReconcileRequested
from supervision.actor import SupervisedActor
from supervision.handle import Handle
from supervision.policy import Backoff
from supervision.spec import ChildContext
from venues.hyperliquid import requests
from venues.hyperliquid.payloads import CoinMapper
from venues.hyperliquid.transport import DEFAULT_MAX_FRAME_BYTES, HttpTransport, WsPostTransport
from venues.hyperliquid.ws_connection import ConnectionRequest, Transport

log = logging.getLogger(__name__)
STABLE_S = 30.0
"""A post channel up this long before it drops starts its back-off afresh."""
CONNECT_TIMEOUT_S = 3.0
"""The post channel's connection attempts give up after this (HTTP works meanwhile)."""


@attrs.frozen(kw_only=True)
class ExecutionSettings:
    base_url: str
    account: str
    """The account whose orders these are (queries ask about it)."""
    config: ExecutionConfig = attrs.field(factory=ExecutionConfig)
    http_workers: int = 4
    ping_interval_s: float = 30.0
    """The post channel's pings (a pong must follow within the link's ``pong_timeout_s``)."""
    reconnect: Backoff = attrs.field(factory=lambda: Backoff(min_s=0.5, max_s=15.0))
    """The post channel's back-off between attempts; it starts afresh after a connection that
    stayed up `STABLE_S` (its ``reset_after_s`` and ``max_restarts`` are not used: the channel
    never gives up, HTTP carries the requests meanwhile)."""
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    """Largest WebSocket message the post channel accepts (refused from the frame header)."""


@attrs.frozen(kw_only=True)
class ExecutionPeers:
    """Paths of the actors execution talks to (resolved to stable handles at start)."""

    tracker: str = paths.ORDER_TRACKER
    """Receives RequestSent, the venue's answers and the query results."""
    signer: str = paths.SIGNER
    """Receives SendCredit, InvalidateNonce and ScheduleCancel."""
    event_sinks: tuple[str, ...] = ()
    """Receive RateLimitReported (the monitor, the risk gate)."""


def ws_url_of(base_url: str) -> str:
    """The venue's WS endpoint for a REST base URL (http→ws, https→wss, + /ws)."""
    return "ws" + base_url.removeprefix("http").rstrip("/") + "/ws"


def _no_feed_events(_event: object) -> None:
    """The post channel's link reports no feed events (FeedConnected, FeedLost, ...): it is not
    a feed, and its ups and downs are logged."""


class Execution(SupervisedActor, LinkOwner):
    def __init__(self, ctx: ChildContext, *, settings: ExecutionSettings,
                 peers: ExecutionPeers = ExecutionPeers()) -> None:
        super().__init__(ctx)
        self.settings = settings
        self.peers = peers
        self.core: ExecutionCore | None = None
        self._http: HttpTransport | None = None
        self._link: StreamLink | None = None
        """The WS post channel's link (None without ``use_ws_post``)."""
        self._ws: WsPostTransport | None = None
        """The post channel's latest connection attempt."""
        self._rng = random.Random()  # noqa: S311 - back-off jitter
        self._sinks: tuple[Handle, ...] = ()

    # --- lifecycle -------------------------------------------------------------------------
    def on_started(self) -> None:
        s, peers = self.settings, self.peers
        lookup = self.ctx.lookup
        tracker, signer = lookup(peers.tracker), lookup(peers.signer)
        self._sinks = tuple(lookup(p) for p in peers.event_sinks)
        me = self.self_handle
        clock = self.clock
        self._http = HttpTransport(s.base_url, me.tell, clock.time_ns, check=self.fence.check,
                                   workers=s.http_workers,
                                   timeout_s=s.config.request_timeout_s)
        if s.config.use_ws_post:
            # Opened in the background: on_started must not stall on an unreachable WS
            # endpoint (HTTP works meanwhile). A short connect timeout, no give-up.
            self._link = StreamLink(
                feed=f"{self.child_id}-post",
                config=LinkConfig(
                    url=ws_url_of(s.base_url), ping_interval_s=s.ping_interval_s,
                    connect_timeout_s=CONNECT_TIMEOUT_S, join_timeout_s=3.0,
                    backoff=attrs.evolve(s.reconnect, reset_after_s=STABLE_S,
                                         max_restarts=None),
                    max_frame_bytes=s.max_frame_bytes),
                ports=actor_ports(self.ctx, events=_no_feed_events, connector=self._connect_post,
                                  rng=self._rng),
                owner=self, ping_frame=requests.PING)
        http = self._http

        def later(delay_s: float, message: object) -> None:
            self.tell_later(delay_s, lambda: message)

        def reply(path: str, message: object) -> None:
            try:
                lookup(path).tell(message)
            except KeyError:
                log.warning("%s: no child %r to answer", self.child_id, path)

        ports = Ports(
            tracker=tracker.tell, signer=signer.tell, events=self._emit,
            http=http.post, ws=self._ws_post, ws_connected=self._ws_up, later=later,
            reply=reply,
        )
        self.core = ExecutionCore(s.config, ports, clock.time_ns, CoinMapper(),
                                  monotonic_ns=clock.monotonic_ns, account=s.account)
        self.core.start()
        if self._link is not None:
            self._link.start()
        self.core.query_rate_limit()
        self.core.renew_deadman(RenewDeadman(ts_init=clock.time_ns()))

    def on_stopping(self) -> None:
        core = self.core
        if core is not None and self.fence.is_current:
            core.clear_deadman()
        if self._link is not None:
            self._link.stop()
        if self._http is not None:
            self._http.close()

    # --- messages ----------------------------------------------------------------------------
    def handle(self, message: object) -> None:
        core = self.core
        assert core is not None
        if isinstance(message, ResponseReceived):
            core.response(message)
        elif isinstance(message, SignedAction):
            core.signed(message)
        elif isinstance(message, SignerBacklog):
            core.signer_backlog(message)
        elif isinstance(message, ReconcileRequested):
            core.reconcile(message)
        elif isinstance(message, RequestExpired):
            core.expired(message)
        elif isinstance(message, DrainQueue):
            core.drain()
        elif isinstance(message, RefreshRateLimit):
            core.query_rate_limit(message)
        elif isinstance(message, RenewDeadman):
            core.renew_deadman(message)
        elif isinstance(message, SendAccountState):
            core.account_state(message.reply_to)
        elif isinstance(message, ConnectionStateChanged | FrameReceived | Reconnect | PingDue
                        | PongDeadline):
            self._post_channel(message)
        else:
            raise TypeError(f"execution does not handle {type(message).__name__}")

    # --- the WS post channel -----------------------------------------------------------------
    def _post_channel(
        self, message: ConnectionStateChanged | FrameReceived | Reconnect | PingDue | PongDeadline,
    ) -> None:
        link = self._link
        if link is None:
            return
        if isinstance(message, ConnectionStateChanged):
            link.on_state(message)  # a lost connection: `on_lost`
        elif isinstance(message, FrameReceived):
            if link.current_frame(message) is not None:
                link.on_pong()  # the only frame the channel tells (answers come as answers)
        else:
            link.on_timer(message)

    def _connect_post(self, request: ConnectionRequest) -> Transport:
        """The link's connector: one post connection per attempt, fenced sends."""
        self._ws = WsPostTransport.for_link(request, check=self.fence.check)
        return self._ws

    def _ws_up(self) -> bool:
        ws, link = self._ws, self._link
        return ws is not None and link is not None and link.connected and ws.connected

    def _ws_post(self, request_id: int, kind: str, body: bytes) -> bool:
        ws = self._ws
        return ws is not None and self._ws_up() and ws.post(request_id, kind, body)

    def on_connected(self) -> None:
        log.info("%s: WS post channel connected", self.child_id)

    def on_lost(self) -> None:
        """The post channel's connection ended (the reader said so, or the link dropped it):
        the requests it carried are resent over HTTP (the core), the link reconnects."""
        link, core = self._link, self.core
        assert link is not None
        assert core is not None
        reason = link.lost_reason
        log.warning("%s: WS post channel lost (%s); using HTTP", self.child_id, reason)
        core.connection_changed(ConnectionStateChanged(
            connection=link.feed, connected=False, reason=reason, ts_init=self.clock.time_ns()))

    def _emit(self, event: object) -> None:
        for sink in self._sinks:
            sink.tell(event)
