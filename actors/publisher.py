"""`Publisher`: owns the ZeroMQ PUB socket; other processes follow order events on it.

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
    `GetPublisherStats` (ask → `PublisherStats`).
Emits
    multipart ``[topic, body]`` messages on the PUB socket, nothing to other actors.
Fails
    A message type it does not know raises TypeError (a wiring bug). A bind failure fails the
    start (the supervisor retries). A send from a replaced incarnation raises `FencedError`.
    ZMQ errors raise and restart the publisher: a new socket, a new epoch, sequences from 1.

Send high-water mark: a PUB socket never blocks; when a subscriber's queue holds ``SNDHWM``
messages, further messages to it are dropped silently. The ZMQ default of 1,000 lost 19–65% of
a 200k burst in our measurements (research/baselines.md §4), and order events come in bursts
(a cancel-all, a reconciliation after a reconnect). The default here, 1,000,000, holds more than
5 s of the fastest PUB rate measured (~200k msg/s) for a subscriber that stalls, while bounding
the memory a dead subscriber can pin (~0.5 GB at ~400 B per order event). ``sndhwm=0`` means
unlimited. Consumers still check the per-topic sequence for gaps.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import zmq

from actors.publishing.core import PublisherConfig, PublisherCore
from supervision.actor import SupervisedActor
from supervision.spec import ChildContext

log = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class GetEndpoint:
    """Ask the publisher where its socket is bound."""


@attrs.frozen(kw_only=True)
class GetPublisherStats:
    """Ask the publisher for its counters."""


@attrs.frozen(kw_only=True)
class PublisherStats:
    endpoint: str
    epoch: int
    published: int
    skipped: int


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
        self.endpoint = ""
        self.core: PublisherCore | None = None

    def on_started(self) -> None:
        config = self._config
        self.core = PublisherCore(config, epoch=self.clock.time_ns())
        context = self._shared_context
        if context is None:
            context = self._context = zmq.Context(io_threads=1)
        sock = context.socket(zmq.PUB)
        try:
            sock.setsockopt(zmq.SNDHWM, config.sndhwm)
            sock.setsockopt(zmq.LINGER, config.linger_ms)
            sock.bind(config.address)
        except zmq.ZMQError:
            sock.close(linger=0)
            self._close_context()
            raise
        self._socket = sock
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        log.info("publisher bound to %s (%s, SNDHWM %d)", self.endpoint, config.format,
                 config.sndhwm)

    def handle(self, message: Any) -> Any:
        core, sock = self.core, self._socket
        assert core is not None
        assert sock is not None
        kind = type(message)
        if kind is GetEndpoint:
            return self.endpoint
        if kind is GetPublisherStats:
            return PublisherStats(endpoint=self.endpoint, epoch=core.epoch,
                                  published=core.published, skipped=core.skipped)
        frames = core.encode(message)
        if frames is not None:
            self.fence.check()
            sock.send_multipart(frames)
        return None

    def on_stopping(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close(linger=self._config.linger_ms)
        self._close_context()

    def _close_context(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            context.term()
