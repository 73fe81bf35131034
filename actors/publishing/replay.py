"""The replay server: answers "order events since N" from the event log (docs/events.md).

`ReplayServer` is the logic (request bytes → reply frames, no sockets); `ReplayThread` owns the
ROUTER socket and serves it on its own thread, so a replay never delays the live PUB path.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from typing import Any

import orjson
import zmq

from actors.publishing.core import Format, body_encoder, replayed_frames
from actors.publishing.protocol import (
    MAX_LIMIT,
    STATUS_ERROR,
    STATUS_NOT_RETAINED,
    STATUS_OK,
    ProtocolError,
    decode_request,
    split_envelope,
)
from messages.codec import CodecError, decode
from messages.orders import OrderEvent
from supervision.eventlog import EventLogError, EventLogReader, NotRetainedError

log = logging.getLogger(__name__)

_DRAIN = 64
"""Requests answered per wake-up before the stop signal is looked at again."""


class ReplayServer:
    """Turns one request into its reply frames: ``[header, topic, body, topic, body, ...]``."""

    def __init__(self, reader: EventLogReader, *, venue: str, epoch: int, format: Format,
                 max_limit: int = MAX_LIMIT) -> None:
        self.reader = reader
        self.venue = venue
        self.epoch = epoch
        self.format = format
        self.max_limit = max_limit
        self._dumps = body_encoder(format)
        self.requests = 0
        self.served = 0
        """Events sent in replies."""
        self.undecodable = 0
        """Log records that are not an order event the codec can read (logged, skipped)."""

    def _header(self, request_id: object, status: str, **fields: Any) -> bytes:
        return orjson.dumps({"id": request_id, "status": status, "epoch": self.epoch, **fields})

    def answer(self, request: bytes) -> list[bytes]:
        self.requests += 1
        try:
            request_id, after, limit, topics = decode_request(request)
        except ProtocolError as exc:
            return [self._header(exc.request_id, STATUS_ERROR, error=str(exc))]
        reader = self.reader
        try:
            records, through = reader.read_range(after, min(limit, self.max_limit))
        except NotRetainedError as exc:
            return [self._header(request_id, STATUS_NOT_RETAINED, after=after,
                                 first_sequence=exc.first_sequence,
                                 last_sequence=reader.last_sequence())]
        except (OSError, EventLogError) as exc:
            log.error("replay: reading the event log failed: %s", exc)
            return [self._header(request_id, STATUS_ERROR, error=f"event log unreadable: {exc}")]
        prefixes = tuple(t.encode() for t in topics)
        frames: list[bytes] = [b""]
        for sequence, payload in records:
            try:
                event = decode(payload)
            except CodecError as exc:
                self._undecodable(sequence, str(exc))
                continue
            if not isinstance(event, OrderEvent) or event.sequence != sequence:
                self._undecodable(sequence, f"not the order event {sequence}")
                continue
            topic, body = replayed_frames(event, venue=self.venue, epoch=self.epoch,
                                          dumps=self._dumps)
            if prefixes and not topic.startswith(prefixes):
                continue
            frames.append(topic)
            frames.append(body)
        count = (len(frames) - 1) // 2
        self.served += count
        frames[0] = self._header(request_id, STATUS_OK, after=after, through=through,
                                 count=count, first_sequence=reader.first_sequence(),
                                 last_sequence=max(through, reader.last_sequence()),
                                 format=self.format)
        return frames

    def _undecodable(self, sequence: int, why: str) -> None:
        self.undecodable += 1
        log.error("replay: event log record %d skipped: %s", sequence, why)


class ReplayThread:
    """Serves a bound ROUTER socket on a daemon thread until `stop` (or `request_stop`).

    The socket belongs to this thread from `start` on; `stop` runs in the thread that created
    the object (the publisher's actor thread) and wakes the server through an inproc pair.
    """

    POLL_MS = 250
    """How soon `request_stop` (from any thread: a fence revocation) is noticed."""

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], router: zmq.Socket[bytes],
                 server: ReplayServer, *, name: str) -> None:
        self.server = server
        self.endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
        self._router = router
        address = f"inproc://perpetuum-replay-wake-{uuid.uuid4().hex}"
        self._wake_in = context.socket(zmq.PAIR)
        self._wake_in.bind(address)
        self._wake_out: zmq.Socket[bytes] | None = context.socket(zmq.PAIR)
        self._wake_out.connect(address)
        self._stopping = threading.Event()
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def request_stop(self) -> None:
        """Ask the thread to close its socket and end (any thread; no join)."""
        self._stopping.set()

    def stop(self, timeout_s: float) -> bool:
        """Stop and join (the creating thread only); False if the thread did not end."""
        self._stopping.set()
        wake, self._wake_out = self._wake_out, None
        if wake is not None:
            # If the send fails the server is gone already, or notices the event within POLL_MS.
            with contextlib.suppress(zmq.ZMQError):
                wake.send(b"", zmq.NOBLOCK)
            wake.close(linger=0)
        if self._thread.ident is None:  # never started
            self._close()
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        router, wake = self._router, self._wake_in
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(wake, zmq.POLLIN)
        answer = self.server.answer
        try:
            while not self._stopping.is_set():
                ready = dict(poller.poll(self.POLL_MS))
                if wake in ready:
                    break
                if router not in ready:
                    continue
                for _ in range(_DRAIN):
                    try:
                        frames = router.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    try:
                        envelope, body = split_envelope(frames)
                    except ProtocolError as exc:
                        log.warning("replay: dropped a request: %s", exc)
                        continue
                    if len(body) != 1:
                        reply = [orjson.dumps({"id": None, "status": STATUS_ERROR,
                                               "error": "a request is one frame"})]
                    else:
                        reply = answer(body[0])
                    router.send_multipart(envelope + reply)
        except BaseException as exc:
            self.failure = exc
            log.error("replay server on %s failed", self.endpoint, exc_info=exc)
            raise
        finally:
            self._close()

    def _close(self) -> None:
        self._router.close(linger=0)
        self._wake_in.close(linger=0)
