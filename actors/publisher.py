"""`Publisher`: owns the ZeroMQ PUB socket (and the replay ROUTER beside it); other processes
follow order events on them.

Accepts
    every `OrderEvent` subclass → topic ``orders.<venue>.<created|filled|partial_fill|cancelled|
    failed|update>`` with the seed's JSON body (or msgpack of it) plus ``sequence`` (per topic,
    from 1 in each incarnation) and ``epoch`` (ns wall clock at the incarnation's start, so
    consumers tell a restart from a gap) — see `actors.publishing.core`;
    `BookSnapshot` / `BestBidOffer` / `TradeReceived` → ``market.<venue>.<book|bbo|trades>.<pair>``
    when ``market_data`` is on (ignored otherwise);
    feed events, `messages.supervision` and `messages.account` events (what the streams put on
    their events sink) → ``runtime.feed.*`` / ``runtime.supervision.*`` / ``runtime.account.*``
    when ``runtime_events`` is on (ignored otherwise);
    `GetEndpoint` (ask → the bound endpoint, e.g. ``tcp://127.0.0.1:49731``);
    `GetPublisherStats` (ask → `PublisherStats`);
    its own `HeartbeatDue` (a timer, every ``heartbeat_s``).
Emits
    multipart ``[topic, body]`` messages on the PUB socket, among them a heartbeat on
    ``sync.orders.<venue>`` right after the bind and every ``heartbeat_s``; with
    ``event_log_dir`` set, replies to "events since N" on the ROUTER socket at
    ``replay_address``, read from the order tracker's event log by a replay thread
    (`actors.publishing.replay`; the protocol is docs/events.md). Nothing to other actors.
Fails
    A message type it does not know raises TypeError (a wiring bug). A bind failure (after
    ``bind_timeout_s`` of EADDRINUSE retries) fails the start (the supervisor retries). A send
    from a replaced incarnation raises `FencedError`. ZMQ errors raise and restart the
    publisher: new sockets, a new epoch, sequences from 1. A replay thread that died fails the
    next heartbeat (the incarnation restarts with a new one).

Sockets belong to the incarnation (they do not outlive it). A crash may come from the socket
itself, and an abandoned (hung) incarnation's thread may still touch its sockets, which ZMQ
forbids sharing between threads without locks on the hot path; and a process restart must
rebind anyway, so one path, exercised by every actor crash, serves both. What a restart costs
subscribers (messages still queued in the old socket beyond ``linger_ms``, and the slow joiner
window of the new one) is recovered from the event log by replay: the new incarnation's
heartbeat, sent as soon as it is bound and then every ``heartbeat_s``, tells subscribers how far
the log goes. Rebinding: each incarnation has its own ZMQ context (unless one is injected);
``on_stopping`` stops the replay thread (which closes the ROUTER), closes the PUB with
``linger_ms`` and terminates the context, which returns only when both listeners are closed,
so the next bind of the same address succeeds at once (ZMQ sets SO_REUSEADDR, so TIME_WAIT does
not matter). With an injected context, or when an abandoned incarnation's replay thread closes
its ROUTER late (it stops itself within 250 ms of the fence's revocation), the close is
asynchronous and an immediate rebind fails with EADDRINUSE: the start retries for
``bind_timeout_s``.

Send high-water mark: a PUB socket never blocks; when a subscriber's queue holds ``SNDHWM``
messages, further messages to it are dropped silently. The ZMQ default of 1,000 lost 19–65% of
a 200k burst in our measurements (research/baselines.md §4), and order events come in bursts
(a cancel-all, a reconciliation after a reconnect). The default here, 1,000,000, holds more than
5 s of the fastest PUB rate measured (~200k msg/s) for a subscriber that stalls, while bounding
the memory a dead subscriber can pin (~0.5 GB at ~400 B per order event). ``sndhwm=0`` means
unlimited. Whatever is dropped is in the event log: subscribers detect it by ``event_sequence``
(or the heartbeat) and replay it (`actors.publishing.subscriber`).
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable
from typing import Any

import zmq

from actors.publishing.core import PublisherConfig, PublisherCore
from actors.publishing.replay import ReplayServer, ReplayThread
from messages.publishing import GetEndpoint, GetPublisherStats, HeartbeatDue, PublisherStats
from supervision.actor import SupervisedActor
from supervision.eventlog import EventLogReader
from supervision.spec import ChildContext

log = logging.getLogger(__name__)

_BIND_RETRY_S = 0.02
_REPLY_HWM = 64


class Publisher(SupervisedActor):
    def __init__(
        self,
        ctx: ChildContext,
        *,
        config: PublisherConfig | None = None,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        super().__init__(ctx)
        self._config = config if config is not None else PublisherConfig()
        self._shared_context = context
        self._context: zmq.Context[zmq.Socket[bytes]] | None = None
        self._socket: zmq.Socket[bytes] | None = None
        self._replay: ReplayThread | None = None
        self._log: EventLogReader | None = None
        self._unregister: Callable[[], None] | None = None
        self.endpoint = ""
        self.core: PublisherCore | None = None

    def on_started(self) -> None:
        config = self._config
        self.core = PublisherCore(config, epoch=self.clock.time_ns())
        context = self._shared_context
        if context is None:
            context = self._context = zmq.Context(io_threads=1)
        try:
            sock = self._bind(context, zmq.PUB, config.address, {
                zmq.SNDHWM: config.sndhwm, zmq.LINGER: config.linger_ms})
            self._socket = sock
            self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
            if config.event_log_dir is not None:
                self._start_replay(context)
        except BaseException:
            self._close()
            raise
        log.info("publisher bound to %s (%s, SNDHWM %d); replay %s", self.endpoint,
                 config.format, config.sndhwm,
                 self._replay.endpoint if self._replay is not None else "off")
        self._heartbeat()

    def _bind(self, context: zmq.Context[zmq.Socket[bytes]], kind: int, address: str,
              options: dict[int, int]) -> zmq.Socket[bytes]:
        """A socket bound to ``address``, retrying EADDRINUSE for ``bind_timeout_s`` (the
        previous incarnation's listener may still be closing)."""
        clock = self.clock
        deadline = clock.monotonic_ns() + int(self._config.bind_timeout_s * 1e9)
        pause = threading.Event()
        sock = context.socket(kind)
        try:
            for option, value in options.items():
                sock.setsockopt(option, value)
            while True:
                try:
                    sock.bind(address)
                    return sock
                except zmq.ZMQError as exc:
                    if exc.errno != errno.EADDRINUSE or clock.monotonic_ns() >= deadline:
                        raise
                pause.wait(_BIND_RETRY_S)
        except BaseException:
            sock.close(linger=0)
            raise

    def _start_replay(self, context: zmq.Context[zmq.Socket[bytes]]) -> None:
        config, core = self._config, self.core
        assert config.event_log_dir is not None
        assert core is not None
        # A client that asks without reading pins at most _REPLY_HWM replies (then ZMQ drops
        # them; the client times out and asks again).
        router = self._bind(context, zmq.ROUTER, config.replay_endpoint, {
            zmq.LINGER: 0, zmq.SNDHWM: _REPLY_HWM})
        try:
            server = ReplayServer(EventLogReader(config.event_log_dir), venue=config.venue,
                                  epoch=core.epoch, format=config.format)
            replay = ReplayThread(context, router, server,
                                  name=f"{self.child_id}#{self.incarnation}-replay")
        except BaseException:
            router.close(linger=0)
            raise
        self._replay = replay
        self._log = EventLogReader(config.event_log_dir)
        replay.start()
        # A hung incarnation never runs on_stopping: its replay thread must still let go of the
        # address for the next one.
        self._unregister = self.fence.on_revoke(replay.request_stop)

    def handle(self, message: Any) -> Any:
        core, sock = self.core, self._socket
        assert core is not None
        assert sock is not None
        kind = type(message)
        if kind is GetEndpoint:
            return self.endpoint
        if kind is GetPublisherStats:
            return self._stats(core)
        if kind is HeartbeatDue:
            self._heartbeat()
            return None
        frames = core.encode(message)
        if frames is not None:
            self.fence.check()
            sock.send_multipart(frames)
        return None

    def _stats(self, core: PublisherCore) -> PublisherStats:
        replay = self._replay
        return PublisherStats(
            endpoint=self.endpoint, epoch=core.epoch, published=core.published,
            skipped=core.skipped, last_sequence=core.last_event_sequence,
            heartbeats=core.heartbeats,
            replay_endpoint=replay.endpoint if replay is not None else None,
            replay_requests=replay.server.requests if replay is not None else 0,
            replayed=replay.server.served if replay is not None else 0)

    def _heartbeat(self) -> None:
        core, sock = self.core, self._socket
        assert core is not None
        assert sock is not None
        replay = self._replay
        if replay is not None and not replay.alive:
            raise RuntimeError(f"the replay server on {replay.endpoint} died") from replay.failure
        log_sequence = self._log.last_sequence() if self._log is not None else None
        self.fence.check()
        sock.send_multipart(core.heartbeat(self.clock.time_ns(), log_sequence))
        self.tell_later(self._config.heartbeat_s, HeartbeatDue)

    def on_stopping(self) -> None:
        self._close()

    def _close(self) -> None:
        unregister, self._unregister = self._unregister, None
        if unregister is not None:
            unregister()
        replay, self._replay = self._replay, None
        stopped = True
        if replay is not None:
            stopped = replay.stop(timeout_s=2.0)
            if not stopped:
                log.error("%s: the replay thread did not stop; its context is left open",
                          self.child_id)
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close(linger=self._config.linger_ms)
        context, self._context = self._context, None
        if context is not None and stopped:
            context.term()
