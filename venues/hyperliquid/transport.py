"""Network clients for execution: a pool of keep-alive HTTP connections and the WS ``post``
channel. Both are non-blocking for their caller: a request is handed to a thread and its answer
comes back through ``deliver`` as a `ResponseReceived` message (the actor tells itself).

Neither retries: whether a failed request may be resent is execution's decision (a resend of
the identical signed body is safe — the venue refuses a reused nonce — but is answered
"duplicate nonce", which execution interprets). ``written`` on a failure says whether the
request's bytes had left: if not, the venue never saw it.

The post channel is a `venues.hyperliquid.ws_connection.WsConnection` like the streams'
connections: the same reader thread, the same one-``sendall`` send path, and the same refusal
of a message larger than a maximum (`limit_frames`, checked on the frame header before the
payload is read, so an oversized frame costs no memory). Execution's `StreamLink` opens it,
pings it and re-opens it with back-off, as the streams' links do theirs.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Self

import orjson

from messages.connection import FrameReceived, ResponseReceived
from venues.hyperliquid import requests
from venues.hyperliquid.payloads.common import PayloadError
from venues.hyperliquid.payloads.ws import Pong, post_envelope
from venues.hyperliquid.ws_connection import (
    DEFAULT_MAX_FRAME_BYTES,
    MIN_MAX_FRAME_BYTES,
    ConnectionRequest,
    FrameTooLargeError,
    LimitedFrameBuffer,
    Route,
    TransportError,
    WsConnection,
    limit_frames,
)

__all__ = [
    # the frame limit lives with the connection; named here too, where it was first
    "DEFAULT_MAX_FRAME_BYTES",
    "MIN_MAX_FRAME_BYTES",
    "FrameTooLargeError",
    "HttpTransport",
    "LimitedFrameBuffer",
    "WsPostTransport",
    "limit_frames",
    "post_answer",
]

log = logging.getLogger(__name__)

Deliver = Callable[[object], None]
Check = Callable[[], None]
_HEADERS = {"Content-Type": "application/json", "Connection": "keep-alive"}


class HttpTransport:
    MAX_IDLE_S = 20.0
    """Keep-alive connections idle longer than this are reopened before use."""

    def __init__(
        self,
        base_url: str,
        deliver: Deliver,
        now_ns: Callable[[], int],
        *,
        check: Check | None = None,
        workers: int = 4,
        timeout_s: float = 10.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"venue URL must be http(s)://host[:port], got {base_url!r}")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port or (443 if self._https else 80)
        self._deliver = deliver
        self._now_ns = now_ns
        self._check = check
        self._timeout = timeout_s
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="venue-http")
        self._closed = False

    def post(self, request_id: int, path: str, body: bytes) -> None:
        if self._closed:
            raise RuntimeError("HTTP transport is closed")
        self._pool.submit(self._run, request_id, path, body)

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection and whether it is being reused (kept alive)."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        now = time.monotonic()
        if conn is not None and now - getattr(self._local, "used", now) > self.MAX_IDLE_S:
            self._drop()  # servers close idle keep-alive connections; don't find out by failing
            conn = None
        self._local.used = now
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
            return conn, False
        return conn, conn.sock is not None

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _run(self, request_id: int, path: str, body: bytes) -> None:
        try:
            if self._check is not None:
                self._check()  # a replaced execution must not send
        except Exception as exc:  # noqa: BLE001 - e.g. FencedError: reported, not swallowed
            self._fail(request_id, exc, written=False)
            return
        for attempt in (1, 2):
            written = False
            reused = False
            try:
                conn, reused = self._connection()
                conn.request("POST", path, body=body, headers=_HEADERS)
                written = True
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                if attempt == 1 and reused and not written:
                    # A kept-alive connection the server had closed: nothing left the process,
                    # so a fresh connection may carry the same request.
                    continue
                self._fail(request_id, exc, written=written)
                return
            self._deliver(ResponseReceived(
                request_id=request_id, transport="http", status=response.status, body=data,
                error="", written=True, ts_init=self._now_ns()))
            return

    def _fail(self, request_id: int, exc: BaseException, *, written: bool) -> None:
        self._deliver(ResponseReceived(
            request_id=request_id, transport="http", status=0, body=b"",
            error=f"{type(exc).__name__}: {exc}", written=written, ts_init=self._now_ns()))


class _WallClock:
    """A `Clock` reading wall time from ``now_ns`` (a connection stamps its messages with it)."""

    __slots__ = ("_now_ns",)

    def __init__(self, now_ns: Callable[[], int]) -> None:
        self._now_ns = now_ns

    def time_ns(self) -> int:
        return self._now_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


class WsPostTransport(WsConnection):
    """The WS ``post`` channel: one `WsConnection` whose frames are post answers, matched by id.

    Driven by a `StreamLink` (`for_link`: execution's channel), it reports every state change
    and each pong like any link's connection, and the link pings it and replaces it with
    back-off. Standalone (the constructor, then `connect`), it reports only the end of a
    connection that was up. Either way answers come back as `ResponseReceived` from the
    reader thread, and the end of the connection says what ended it (``"FrameTooLargeError:
    ..."``, ``"closed by the venue"``). One connection per object: a new one reconnects.
    """

    def __init__(
        self,
        ws_url: str,
        deliver: Deliver,
        now_ns: Callable[[], int],
        *,
        check: Check | None = None,
        timeout_s: float = 10.0,
        name: str = "execution-ws",
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        connection_id: int = 0,
        linked: bool = False,
    ) -> None:
        self._linked = linked
        self._check = check
        self.connected = False
        """Up and usable: set by the reader before it reports the connection, cleared before
        it reports its end, on `close` and on a failed send."""
        self._was_up = False
        self._failure = "no answer in time"
        """Why the connection could not be opened (for `connect`)."""
        self._settled = threading.Event()
        # A blocking socket (poll_s None): a send is one syscall (with a timeout, CPython polls
        # first and releases the GIL twice, and winning it back from the runtime's other
        # threads is most of a send's latency). The reader is woken for closing by a shutdown.
        super().__init__(ConnectionRequest(
            url=ws_url, label=name, connection_id=connection_id, deliver=deliver,
            clock=_WallClock(now_ns), connect_timeout_s=timeout_s,
            max_frame_bytes=max_frame_bytes), poll_s=None)

    @classmethod
    def for_link(cls, request: ConnectionRequest, *, check: Check | None = None) -> Self:
        """One connection attempt of a `StreamLink` (a `Connector`'s answer), started."""
        return cls(request.url, request.deliver, request.clock.time_ns, check=check,
                   timeout_s=request.connect_timeout_s, name=request.label,
                   max_frame_bytes=request.max_frame_bytes,
                   connection_id=request.connection_id, linked=True).start()

    def connect(self) -> None:
        """Open the connection and wait until it is up (standalone use); raises
        `ConnectionError` if it could not be opened."""
        self.start()
        self._settled.wait(2 * self.request.connect_timeout_s + 1.0)
        if not self._was_up:
            self.close()
            raise ConnectionError(f"{self.request.label}: {self._failure}")

    def post(self, request_id: int, kind: str, payload: bytes) -> bool:
        """Send a post; False (nothing written) if the connection is down."""
        if self._check is not None:
            self._check()
        frame = requests.post_frame(request_id, kind, payload)
        if not self.connected:
            return False
        try:
            self.send(frame)
        except TransportError:
            self.connected = False
            return False
        return True

    def close(self) -> None:
        self.connected = False
        super().close()

    # -- the reader thread ---------------------------------------------------------------------

    def _router(self) -> Route:
        return _PostRouter(self.request, pongs=self._linked)

    def _state(self, connected: bool, reason: str) -> None:
        was_up = self._was_up
        if connected:
            self._was_up = True
        else:
            self._failure = reason
        self.connected = connected and not self._closing.is_set()
        self._settled.set()
        if self._linked or (was_up and not connected):
            super()._state(connected, reason)

    def _end_reason(self, reason: str) -> str:
        error = self.error
        if isinstance(error, FrameTooLargeError):
            log.error("%s: %s; dropping the connection (it is re-opened, HTTP meanwhile)",
                      self.request.label, error)
        if error is None:
            return "closed by the venue"
        return f"{type(error).__name__}: {error}"


class _PostRouter:
    """The post channel reader's step for each frame: answers become `ResponseReceived`; a pong
    goes on as the `FrameReceived` its link looks for (when it has one); the rest is noise."""

    __slots__ = ("_deliver", "_id", "_label", "_pongs")

    def __init__(self, request: ConnectionRequest, *, pongs: bool) -> None:
        self._deliver = request.deliver
        self._label = request.label
        self._id = request.connection_id
        self._pongs = pongs

    def __call__(self, data: bytes, ts_init: int) -> None:
        answer = post_answer(data, ts_init)
        if answer is None:
            return
        if isinstance(answer, Pong):
            if self._pongs:
                self._deliver(FrameReceived(connection=self._label, connection_id=self._id,
                                            data=data, ts_init=ts_init))
            return
        self._deliver(answer)


_PONG = Pong()


def post_answer(data: bytes, ts_init: int) -> ResponseReceived | Pong | None:
    """What one frame of the post channel is: the answer to a post (``ResponseReceived``:
    status 200 and the venue's JSON for an ``action`` or ``info`` answer, 500 and the venue's
    words for an ``error``), a `Pong`, or None (the greeting, noise: a post answer lost to it
    is never answered, so its request times out and is settled like any lost answer)."""
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(frame, dict):
        return None
    channel = frame.get("channel")
    if channel == "pong":
        return _PONG
    if channel != "post":
        return None
    try:
        envelope = post_envelope(frame.get("data"))
    except PayloadError:
        log.warning("post answer without an id: %.200s", data)
        return None
    kind, payload = envelope.kind, envelope.payload
    if kind == "action":
        return ResponseReceived(request_id=envelope.request_id, transport="ws", status=200,
                                body=orjson.dumps(payload), error="", written=True,
                                ts_init=ts_init)
    if kind == "info" and isinstance(payload, dict):
        return ResponseReceived(request_id=envelope.request_id, transport="ws", status=200,
                                body=orjson.dumps(payload.get("data")), error="",
                                written=True, ts_init=ts_init)
    return ResponseReceived(request_id=envelope.request_id, transport="ws", status=500,
                            body=b"", error=f"post error: {str(payload)[:200]}", written=True,
                            ts_init=ts_init)
