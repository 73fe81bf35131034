"""Network clients for execution: a pool of keep-alive HTTP connections and the WS ``post``
channel. Both are non-blocking for their caller: a request is handed to a thread and its answer
comes back through ``deliver`` as a `ResponseReceived` message (the actor tells itself).

Neither retries: whether a failed request may be resent is execution's decision (a resend of
the identical signed body is safe — the venue refuses a reused nonce — but is answered
"duplicate nonce", which execution interprets). ``written`` on a failure says whether the
request's bytes had left: if not, the venue never saw it.

Both WebSocket clients of the runtime (this post channel and the streams' reader,
`actors.streaming.connection`) refuse a message larger than a maximum (`limit_frames`): the
check runs on the frame header, before the payload is read, so an oversized frame costs no
memory; the connection is dropped and re-opened by its owner with back-off.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import orjson
import websocket

from messages.execution import ConnectionStateChanged, ResponseReceived
from venues.hyperliquid import requests
from venues.hyperliquid.wsframe import masked_text_frame

log = logging.getLogger(__name__)

DEFAULT_MAX_FRAME_BYTES = 4 << 20
"""4 MiB. The venue's largest messages are snapshots of an account: a ``userFills`` snapshot
(at most 2000 fills of ~260 bytes compact: ~0.5 MB, from the recorded ``userFills`` payload),
open orders (~100 bytes each) and post answers of that size; an ``l2Book`` frame is ~1.5 KB
(20 levels a side). 4 MiB leaves 8x room over the largest and refuses anything like the
16 MiB book frame of issue 10."""
MIN_MAX_FRAME_BYTES = 64 << 10
"""A smaller limit would refuse ordinary account snapshots."""

Deliver = Callable[[object], None]
Check = Callable[[], None]
_HEADERS = {"Content-Type": "application/json", "Connection": "keep-alive"}


class FrameTooLargeError(websocket.WebSocketProtocolException):
    """The peer announced a WebSocket message larger than the configured maximum."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a WebSocket message of {size} bytes exceeds the maximum of "
                         f"{limit} bytes (max_frame_bytes)")
        self.size = size
        self.limit = limit


class LimitedFrameBuffer(websocket.frame_buffer):
    """websocket-client's frame reader, refusing a message once its header announces more than
    ``limit`` bytes (fragments of one message count together), before any payload is read:
    websocket-client itself reads whatever length the header says into memory."""

    def __init__(self, recv: Callable[[int], bytes], skip_utf8_validation: bool,
                 limit: int) -> None:
        super().__init__(recv, skip_utf8_validation)
        self.limit = limit
        self._message = 0
        """Bytes of the fragmented data message being received (0 between messages)."""

    def recv_length(self) -> None:
        super().recv_length()
        header, length = self.header, self.length
        assert header is not None
        assert length is not None
        fin, opcode = header[0], header[4]
        total = self._message + length if opcode == websocket.ABNF.OPCODE_CONT else length
        if total > self.limit:
            raise FrameTooLargeError(total, self.limit)
        if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY,
                      websocket.ABNF.OPCODE_CONT):
            self._message = 0 if fin else total


def limit_frames(ws: websocket.WebSocket, max_bytes: int) -> None:
    """Make ``ws`` refuse (`FrameTooLargeError`) any message above ``max_bytes``. Call it right
    after the handshake, before the first ``recv``."""
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    current = ws.frame_buffer
    ws.frame_buffer = LimitedFrameBuffer(current.recv, current.skip_utf8_validation, max_bytes)


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


class WsPostTransport:
    """The WS ``post`` channel: one connection, a reader thread, answers matched by id."""

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
    ) -> None:
        self._url = ws_url
        self._max_frame_bytes = max_frame_bytes
        self._deliver = deliver
        self._now_ns = now_ns
        self._check = check
        self._timeout = timeout_s
        self._name = name
        self._ws: websocket.WebSocket | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self.connected = False

    def connect(self) -> None:
        """Open the connection (blocking up to the timeout) and start the reader thread."""
        ws = websocket.create_connection(self._url, timeout=self._timeout,
                                         skip_utf8_validation=True, enable_multithread=True)
        limit_frames(ws, self._max_frame_bytes)
        # A blocking socket: a send is one syscall (with a timeout, CPython polls first and
        # releases the GIL twice, and winning it back from the runtime's other threads is most
        # of a send's latency). The reader is woken for closing by a socket shutdown instead.
        ws.settimeout(None)
        with self._lock:
            self._ws = ws
            self.connected = True
        self._reader = threading.Thread(target=self._read, args=(ws,), name=self._name,
                                        daemon=True)
        self._reader.start()

    def post(self, request_id: int, kind: str, payload: bytes) -> bool:
        """Send a post; False (nothing written) if the connection is down."""
        if self._check is not None:
            self._check()
        frame = masked_text_frame(requests.post_frame(request_id, kind, payload))
        with self._lock:
            ws = self._ws
            sock = None if ws is None else ws.sock
            if ws is None or sock is None or not self.connected:
                return False
            try:
                with ws.lock:  # websocket-client's send lock: its reader answers pings with it
                    sock.sendall(frame)
            except OSError:
                self.connected = False
                return False
        return True

    def ping(self) -> bool:
        with self._lock:
            ws = self._ws
            if ws is None or not self.connected:
                return False
            try:
                ws.send(requests.PING)
            except (OSError, websocket.WebSocketException):
                self.connected = False
                return False
        return True

    def close(self) -> None:
        with self._lock:
            ws, self._ws = self._ws, None
            self.connected = False
        if ws is not None:
            sock = ws.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the reader blocked in recv
            ws.close(timeout=1)
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=3)

    def _read(self, ws: websocket.WebSocket) -> None:
        reason = "closed"
        failed = False
        try:
            while True:
                try:
                    # The raw bytes, not ws.recv(): it decodes text frames as UTF-8 and a
                    # frame that is not (noise, a mangled frame) would kill this thread.
                    with ws.readlock:
                        opcode, data = ws.recv_data()
                except websocket.WebSocketTimeoutException:
                    if self._ws is not ws:
                        reason = "closed by us"
                        return
                    continue
                if opcode not in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                    reason = "closed by the venue"
                    return
                if data:
                    self._on_frame(data)
        except FrameTooLargeError as exc:
            log.error("%s: %s; dropping the connection (it is re-opened, HTTP meanwhile)",
                      self._name, exc)
            reason, failed = f"{type(exc).__name__}: {exc}", True
        except (OSError, websocket.WebSocketException) as exc:
            reason, failed = f"{type(exc).__name__}: {exc}", True
        finally:
            with self._lock:
                was_current = self._ws is ws
                if was_current:
                    self.connected = False
            if failed:
                # No post uses it any more (connected is False under the lock): release the
                # socket now rather than when the next connection replaces this object.
                with contextlib.suppress(OSError):
                    ws.shutdown()  # type: ignore[no-untyped-call]
            if was_current:
                self._deliver(ConnectionStateChanged(connection=self._name, connected=False,
                                                     reason=reason, ts_init=self._now_ns()))

    def _on_frame(self, data: str | bytes) -> None:
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError:
            # The greeting text frame, or noise: a post answer lost to it is never answered,
            # so its request times out and is settled like any lost answer.
            return
        if not isinstance(frame, dict) or frame.get("channel") != "post":
            return
        body = frame.get("data")
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            log.warning("post answer without an id: %.200s", data)
            return
        response = body.get("response")
        kind = response.get("type") if isinstance(response, dict) else None
        payload = response.get("payload") if isinstance(response, dict) else None
        now = self._now_ns()
        if kind == "action":
            self._deliver(ResponseReceived(request_id=body["id"], transport="ws", status=200,
                                           body=orjson.dumps(payload), error="", written=True,
                                           ts_init=now))
        elif kind == "info" and isinstance(payload, dict):
            self._deliver(ResponseReceived(request_id=body["id"], transport="ws", status=200,
                                           body=orjson.dumps(payload.get("data")), error="",
                                           written=True, ts_init=now))
        else:
            self._deliver(ResponseReceived(request_id=body["id"], transport="ws", status=500,
                                           body=b"", error=f"post error: {str(payload)[:200]}",
                                           written=True, ts_init=now))
