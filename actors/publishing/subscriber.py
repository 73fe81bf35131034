"""`EventSubscriber`: every order event exactly once, in ``event_sequence`` order, through
publisher crashes, process restarts and late starts (the protocol is docs/events.md).

A plain class for any Python program (risk engines, DB writers, scripts/tail): no actor, no
thread; it uses zmq and orjson/msgpack, and its sockets belong to the thread that calls it::

    sub = EventSubscriber("tcp://127.0.0.1:5556", "tcp://127.0.0.1:5557", after=last_seen)
    while True:
        event = sub.next(timeout_s=1.0)     # ReceivedEvent | None
        if event is not None:
            store(event.sequence, event.topic, event.body)

How (the Clone pattern of the ZMQ guide): subscribe first (to every order topic and the
heartbeat), then ask the replay socket for everything after ``after``, holding live events
meanwhile; merge, drop what is already covered, and fill every gap by replay (see
`actors.publishing.subscriber_core`). Requests that go unanswered (the publisher is restarting,
or the whole process) are retried with a fresh socket and a doubling timeout; after
``replay_wait_s`` without an answer the gap is reported unfillable and live delivery goes on.
A gap the log no longer holds is reported too. Reports go to ``on_notice`` (default: logged).

Topics outside ``orders.`` that match ``topics`` (``market.``, ``runtime.``) are passed through
as they arrive, with no guarantee. Heartbeats are consumed, not yielded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import msgpack
import orjson
import zmq

from actors.publishing.protocol import (
    DEFAULT_LIMIT,
    HEARTBEAT_PREFIX,
    ORDER_PREFIX,
    STATUS_NOT_RETAINED,
    STATUS_OK,
    ProtocolError,
    decode_header,
    encode_request,
)
from actors.publishing.subscriber_core import (
    Notice,
    ReceivedEvent,
    SubscriberCore,
    SubscriberStats,
)

log = logging.getLogger(__name__)

__all__ = ["EventSubscriber", "Notice", "ReceivedEvent", "SubscriberStats"]

_DRAIN = 10_000
"""Messages read from one socket per turn before the other gets its turn."""


def _log_notice(notice: Notice) -> None:
    log.warning("event subscriber: %s", notice.text)


class EventSubscriber:
    def __init__(
        self,
        pub_address: str,
        replay_address: str | None,
        *,
        topics: tuple[str, ...] = ("orders.hyperliquid.",),
        after: int | None = 0,
        format: Literal["json", "msgpack"] = "json",
        limit: int = DEFAULT_LIMIT,
        request_timeout_s: float = 0.5,
        max_request_timeout_s: float = 4.0,
        replay_wait_s: float = 30.0,
        on_notice: Callable[[Notice], None] | None = None,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``after``: the last ``event_sequence`` already processed (0: the whole retained
        history; None: from the first event or heartbeat seen). ``replay_address`` None: live
        only, gaps reported. ``topics``: prefixes, as ZMQ subscribes."""
        if format not in ("json", "msgpack"):
            raise ValueError(f"format must be 'json' or 'msgpack', got {format!r}")
        if not 0 < request_timeout_s <= max_request_timeout_s:
            raise ValueError("need 0 < request_timeout_s <= max_request_timeout_s")
        self.topics = tuple(topics)
        self._order_prefixes = tuple(p for p in self.topics
                                     if p.startswith(ORDER_PREFIX) or ORDER_PREFIX.startswith(p))
        self._all_orders = any(ORDER_PREFIX.startswith(p) for p in self._order_prefixes)
        self._loads: Callable[[bytes], Any] = (
            orjson.loads if format == "json"
            else lambda b: msgpack.unpackb(b, raw=False))
        self._replay_address = replay_address
        self._limit = limit
        self._timeout0 = request_timeout_s
        self._timeout_max = max_request_timeout_s
        self._timeout = request_timeout_s
        self._wait_s = replay_wait_s
        self._now = monotonic
        self._notify = on_notice if on_notice is not None else _log_notice
        self.core = SubscriberCore(
            after=after, replay=replay_address is not None and bool(self._order_prefixes),
            on_notice=self._notify)
        self._own_context = context is None
        self._context = zmq.Context() if context is None else context
        self._sub = self._context.socket(zmq.SUB)
        self._sub.setsockopt(zmq.RCVHWM, 0)  # a slow consumer must not make ZMQ drop events
        self._sub.setsockopt(zmq.LINGER, 0)
        self._sub.setsockopt(zmq.RECONNECT_IVL, 100)
        self._sub.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        subscriptions = set(self.topics)
        if self._order_prefixes:
            subscriptions |= {ORDER_PREFIX, HEARTBEAT_PREFIX}
        for prefix in sorted(subscriptions):
            self._sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        self._sub.connect(pub_address)
        self._dealer: zmq.Socket[bytes] | None = None
        self._poller = zmq.Poller()
        self._poller.register(self._sub, zmq.POLLIN)
        self._request_id = 0
        self._in_flight: tuple[int, float] | None = None
        """(request id, deadline) of the request being waited for."""
        self._unanswered_since: float | None = None

    # -- public ------------------------------------------------------------------------------

    @property
    def stats(self) -> SubscriberStats:
        return self.core.stats

    @property
    def covered(self) -> int | None:
        """Every matching order event up to this ``event_sequence`` has been yielded (or
        reported unfillable); None until the first event or heartbeat when ``after`` was
        None. Persist it and pass it as ``after`` to resume after a restart."""
        return self.core.covered

    @property
    def caught_up(self) -> bool:
        """Nothing is known to be missing and no replay request is in flight."""
        return self._in_flight is None and not self.core.needs_replay()

    def next(self, timeout_s: float | None = None) -> ReceivedEvent | None:
        """The next event, or None after ``timeout_s`` (None: wait for ever)."""
        ready = self.core.ready
        deadline = None if timeout_s is None else self._now() + timeout_s
        while True:
            if ready:
                return ready.popleft()
            now = self._now()
            self._drive_replay(now)
            if ready:
                return ready.popleft()
            if deadline is not None and now >= deadline:
                return None
            wait = 1.0 if deadline is None else deadline - now
            if self._in_flight is not None:
                wait = min(wait, self._in_flight[1] - now)
            for sock, _ in self._poller.poll(max(0, int(wait * 1000) + 1)):
                if sock is self._sub:
                    self._read_live()
                else:
                    self._read_replies()

    def __iter__(self) -> Iterator[ReceivedEvent]:
        while True:
            event = self.next()
            if event is not None:
                yield event

    def close(self) -> None:
        self._sub.close(linger=0)
        self._close_dealer()
        if self._own_context:
            self._context.term()

    def __enter__(self) -> EventSubscriber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- live --------------------------------------------------------------------------------

    def _read_live(self) -> None:
        sub, core = self._sub, self.core
        for _ in range(_DRAIN):
            try:
                frames = sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 2:
                self._malformed(f"a PUB message with {len(frames)} frames")
                continue
            topic = frames[0].decode(errors="replace")
            try:
                body = self._loads(frames[1])
            except ValueError as exc:
                self._malformed(f"{topic}: undecodable body ({exc})")
                continue
            if not isinstance(body, dict):
                self._malformed(f"{topic}: the body is not a map")
                continue
            if topic.startswith(HEARTBEAT_PREFIX):
                if self._order_prefixes:
                    self._heartbeat(topic, body)
                continue
            if topic.startswith(ORDER_PREFIX) and self._order_prefixes:
                sequence = _event_sequence(body)
                if sequence is None:
                    self._malformed(f"{topic}: no data.event_sequence")
                    continue
                epoch = body.get("epoch")
                core.on_live(ReceivedEvent(topic=topic, body=body, sequence=sequence,
                                           raw=frames[1]),
                             self._wanted(topic), epoch if isinstance(epoch, int) else None)
            elif topic.startswith(self.topics):
                core.stats.passed_through += 1
                core.ready.append(ReceivedEvent(topic=topic, body=body, sequence=None,
                                                raw=frames[1]))

    def _wanted(self, topic: str) -> bool:
        return self._all_orders or topic.startswith(self._order_prefixes)

    def _heartbeat(self, topic: str, body: dict[str, Any]) -> None:
        last, log_seq, epoch = body.get("last_sequence"), body.get("log_sequence"), \
            body.get("epoch")
        if type(last) is not int or not (log_seq is None or type(log_seq) is int):
            self._malformed(f"{topic}: a heartbeat without last_sequence/log_sequence")
            return
        self.core.on_heartbeat(epoch=epoch if isinstance(epoch, int) else None,
                               last_sequence=last, log_sequence=log_seq,
                               replay=body.get("replay") is True)

    def _malformed(self, text: str) -> None:
        self._notify(Notice(kind="malformed", text=text))

    # -- replay ------------------------------------------------------------------------------

    def _drive_replay(self, now: float) -> None:
        core = self.core
        if not core.needs_replay() or not core.replay_usable():
            if self._in_flight is None:
                self._unanswered_since = None
            return
        in_flight = self._in_flight
        if in_flight is not None:
            if now < in_flight[1]:
                return
            core.stats.replay_timeouts += 1
            self._in_flight = None
            self._close_dealer()  # Lazy Pirate: a fresh socket drops the stale request
            self._timeout = min(self._timeout * 2, self._timeout_max)
            assert self._unanswered_since is not None
            waited = now - self._unanswered_since
            if waited >= self._wait_s:
                self._unanswered_since = None
                self._timeout = self._timeout0
                self._notify(Notice(kind="replay_unavailable", text=(
                    f"no answer from the replay server {self._replay_address} for "
                    f"{waited:.1f} s")))
                core.give_up(f"the replay server did not answer for {waited:.1f} s")
                return
        if self._unanswered_since is None:
            self._unanswered_since = now
        self._send_request(now)

    def _send_request(self, now: float) -> None:
        dealer = self._dealer
        if dealer is None:
            assert self._replay_address is not None
            dealer = self._dealer = self._context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.setsockopt(zmq.RCVHWM, 0)
            dealer.connect(self._replay_address)
            self._poller.register(dealer, zmq.POLLIN)
        self._request_id += 1
        covered = self.core.covered
        assert covered is not None
        topics = () if self._all_orders else self._order_prefixes
        dealer.send_multipart([b"", encode_request(self._request_id, covered, limit=self._limit,
                                                   topics=topics)])
        self.core.stats.replay_requests += 1
        self._in_flight = (self._request_id, now + self._timeout)

    def _close_dealer(self) -> None:
        dealer, self._dealer = self._dealer, None
        if dealer is not None:
            self._poller.unregister(dealer)
            dealer.close(linger=0)

    def _read_replies(self) -> None:
        while self._dealer is not None:
            try:
                frames = self._dealer.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._reply(frames)

    def _reply(self, frames: list[bytes]) -> None:
        if len(frames) < 2 or frames[0]:
            self._malformed(f"a replay reply without the empty delimiter ({len(frames)} frames)")
            return
        try:
            header = decode_header(frames[1])
        except ProtocolError as exc:
            self._malformed(str(exc))
            return
        in_flight = self._in_flight
        if in_flight is None or header.get("id") != in_flight[0]:
            return  # the answer to a request given up on
        self._in_flight = None
        self._unanswered_since = None
        self._timeout = self._timeout0
        core, status = self.core, header["status"]
        try:
            if status == STATUS_NOT_RETAINED:
                core.on_not_retained(first_sequence=int(header["first_sequence"]),
                                     last_sequence=int(header["last_sequence"]))
                return
            if status == STATUS_OK:
                after, through = int(header["after"]), int(header["through"])
                last = int(header["last_sequence"])
        except (KeyError, TypeError, ValueError) as exc:
            status = f"a reply header without {exc}"
        if status != STATUS_OK:
            text = f"the replay server refused a request: {header.get('error') or status}"
            self._malformed(text)
            core.give_up(text)
            return
        events = []
        pairs = frames[2:]
        for i in range(0, len(pairs) - 1, 2):
            topic = pairs[i].decode(errors="replace")
            try:
                body = self._loads(pairs[i + 1])
            except ValueError as exc:
                self._malformed(f"replayed {topic}: undecodable body ({exc})")
                continue
            sequence = _event_sequence(body) if isinstance(body, dict) else None
            if sequence is None:
                self._malformed(f"replayed {topic}: no data.event_sequence")
                continue
            if self._wanted(topic):
                events.append(ReceivedEvent(topic=topic, body=body, sequence=sequence,
                                            replayed=True, raw=pairs[i + 1]))
        core.on_reply(after=after, through=through, events=events, last_sequence=last)


def _event_sequence(body: dict[str, Any]) -> int | None:
    data = body.get("data")
    sequence = data.get("event_sequence") if isinstance(data, dict) else None
    return sequence if type(sequence) is int else None
