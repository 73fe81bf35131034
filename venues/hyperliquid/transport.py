"""Network clients for execution: a pool of keep-alive HTTP connections and the WS ``post``
channel. Both are non-blocking for their caller: a request is handed to a thread and its answer
comes back through ``deliver`` as a `ResponseReceived` message (the actor tells itself).

Neither retries: whether a failed request may be resent is execution's decision (a resend of
the identical signed body is safe — the venue refuses a reused nonce — but is answered
"duplicate nonce", which execution interprets). ``written`` on a failure says whether the
request's bytes had left: if not, the venue never saw it.
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
    ) -> None:
        self._url = ws_url
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
        try:
            while True:
                try:
                    data = ws.recv()
                except websocket.WebSocketTimeoutException:
                    if self._ws is not ws:
                        reason = "closed by us"
                        return
                    continue
                if not data:
                    reason = "closed by the venue"
                    return
                self._on_frame(data)
        except (OSError, websocket.WebSocketException) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                was_current = self._ws is ws
                if was_current:
                    self.connected = False
            if was_current:
                self._deliver(ConnectionStateChanged(connection=self._name, connected=False,
                                                     reason=reason, ts_init=self._now_ns()))

    def _on_frame(self, data: str | bytes) -> None:
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError:
            return  # the greeting text frame, or noise the venue may send
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
