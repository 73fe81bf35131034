"""One WebSocket connection to the venue: a websocket-client socket and the reader thread that
feeds its owner. Every WebSocket of the runtime is one of these: the market and user streams'
(`actors.streaming`) and execution's ``post`` channel (a subclass that reads post answers,
`venues.hyperliquid.transport.WsPostTransport`); a `StreamLink` (`actors.streaming.link`) opens
them through a `Connector`, pings them and replaces them with back-off.

The reader thread connects (so the owner never blocks on the network), then tells its owner
``ConnectionStateChanged(connected=True)``, one ``FrameReceived`` per frame, and finally
``ConnectionStateChanged(connected=False, reason)`` when the connection ends by itself. Frames
carry the connection's unique ``connection_id``: the owner ignores anything from a connection that
is no longer current (after a reconnect, or in the next incarnation that inherits the mailbox).
``deliver`` may also handle a frame right on the reader thread (the market stream's inline mode).

Sends happen on the owner's thread: each is one masked text frame built in one step
(`venues.hyperliquid.wsframe`) and written with one ``sendall`` under websocket-client's send
lock, which the reader also takes to answer the peer's pings. A failed send shuts the socket
down, so the reader reports the end. ``close()`` never blocks: it marks the connection closed,
so the thread delivers nothing more, and shuts the socket down, which wakes a blocked ``recv``;
with a socket timeout (``poll_s``) that also bounds every other wait, and without one
(``poll_s=None``, a blocking socket: a send is one system call) the shutdown alone wakes it.
The thread then exits on its own.

Size: a message larger than ``max_frame_bytes`` is refused from its frame header, before its
payload is read (`limit_frames`); the reader records why in ``refusal`` and ends the
connection, and the owner reports it and reconnects with back-off.

Conflation: with `FrameSlots`, frames that have a conflation key (a coin's book, a coin's bbo)
are not queued one by one. The newest frame per key waits in a slot and a ``FrameReceived`` is
told only when the slot was empty; the owner takes the slot's newest frame when it handles that
message. So at most one book per coin is ever queued, however far behind the owner is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any, Protocol, Self

import attrs
import websocket

from clock import Clock
from messages.connection import ConnectionStateChanged, FrameReceived
from venues.hyperliquid.wsframe import masked_text_frame

log = logging.getLogger(__name__)

Deliver = Callable[[object], None]
ConflationKeyFn = Callable[[bytes], Hashable | None]
Route = Callable[[bytes, int], None]
"""The reader's step for each data frame: ``(payload, ts_init)``."""

DEFAULT_MAX_FRAME_BYTES = 4 << 20
"""4 MiB. The venue's largest messages are snapshots of an account: a ``userFills`` snapshot
(at most 2000 fills of ~260 bytes compact: ~0.5 MB, from the recorded ``userFills`` payload),
open orders (~100 bytes each) and post answers of that size; an ``l2Book`` frame is ~1.5 KB
(20 levels a side). 4 MiB leaves 8x room over the largest and refuses anything like the
16 MiB book frame of issue 10."""
MIN_MAX_FRAME_BYTES = 64 << 10
"""A smaller limit would refuse ordinary account snapshots."""


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


class TransportError(Exception):
    """A send on a connection failed (the connection is gone)."""


class Transport(Protocol):
    """What a link holds for one connection attempt."""

    refusal: str | None
    """Why the reader refused what the peer sent and ended the connection (an oversized
    message), or None; set before the end of the connection is reported."""

    def send(self, data: bytes) -> None:
        """Send one text frame; raises `TransportError` when the connection is gone."""
        ...

    def close(self) -> None:
        """Stop delivering and release the socket; never blocks."""
        ...

    def join(self, timeout_s: float) -> bool:
        """Wait for the reader to exit; False if it is still running after ``timeout_s``."""
        ...


class FrameSlots:
    """The newest frame per conflation key, shared by a reader thread and its owner."""

    __slots__ = ("_lock", "_slots", "replaced")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[Hashable, tuple[bytes, int]] = {}
        self.replaced = 0
        """Frames superseded before the owner got to them (never parsed)."""

    def offer(self, key: Hashable, data: bytes, ts_init: int) -> bool:
        """Store the newest frame for ``key``; True when the owner must be told (slot was empty)."""
        with self._lock:
            slots = self._slots
            empty = key not in slots
            slots[key] = (data, ts_init)
            if not empty:
                self.replaced += 1
            return empty

    def take(self, key: Hashable) -> tuple[bytes, int] | None:
        with self._lock:
            return self._slots.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._slots)


@attrs.frozen(kw_only=True)
class ConnectionRequest:
    """Everything a connector needs to open one connection attempt."""

    url: str
    label: str
    """Unique per attempt; ``ConnectionStateChanged.connection`` carries it."""
    connection_id: int
    """Unique per attempt (and per incarnation); ``FrameReceived.connection_id`` carries it."""
    deliver: Deliver
    """Tells the owning actor (its stable handle's ``tell``)."""
    clock: Clock
    connect_timeout_s: float
    slots: FrameSlots | None = None
    conflation_key: ConflationKeyFn | None = None
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    """Largest message accepted; a larger one ends the connection (`Transport.refusal`)."""


Connector = Callable[[ConnectionRequest], Transport]


class FrameRouter:
    """The reader's per-frame step (plain, so tests drive it without a socket)."""

    __slots__ = ("_deliver", "_id", "_key", "_label", "_slots")

    def __init__(self, request: ConnectionRequest) -> None:
        self._deliver = request.deliver
        self._label = request.label
        self._id = request.connection_id
        self._slots = request.slots
        self._key = request.conflation_key if request.slots is not None else None

    def __call__(self, data: bytes, ts_init: int) -> None:
        key_fn = self._key
        if key_fn is not None:
            key = key_fn(data)
            if key is not None:
                assert self._slots is not None
                if not self._slots.offer(key, data, ts_init):
                    return
        self._deliver(
            FrameReceived(
                connection=self._label, connection_id=self._id, data=data, ts_init=ts_init
            )
        )


class BufferedWebSocket(websocket.WebSocket):
    """websocket-client reads each frame with ~3 ``recv`` calls of exactly the bytes it needs
    (2 header bytes, the length, the payload): ~3 system calls, each a chance to lose the GIL
    to another thread, per frame. This reads up to 64 KiB at a time and serves the frame parser
    from that buffer. The HTTP handshake reads the socket directly, byte by byte, so nothing
    is read ahead of it."""

    _CHUNK = 65_536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = bytearray()

    def _recv(self, bufsize: int) -> bytes:
        buf = self._rbuf
        if not buf:
            data: bytes = super()._recv(max(bufsize, self._CHUNK))  # type: ignore[no-untyped-call]
            if len(data) <= bufsize:
                return data
            buf += data
        chunk = bytes(buf[:bufsize])
        del buf[:bufsize]
        return chunk


class WsConnection:
    """A websocket-client connection with its reader thread (see the module docstring).

    Subclasses may change what the reader does with a data frame (`_router`) and how the end
    of the connection is reported (`_state`, `_end_reason`).
    """

    def __init__(self, request: ConnectionRequest, *, poll_s: float | None = 1.0) -> None:
        self.request = request
        self._poll_s = poll_s
        self._route = self._router()
        self._ws: websocket.WebSocket | None = None
        self._closing = threading.Event()
        self.refusal: str | None = None
        self.error: BaseException | None = None
        """What ended the connection or the attempt (None: a close frame, or closed by us)."""
        self._thread = threading.Thread(
            target=self._run, name=f"ws-reader-{request.label}", daemon=True
        )

    def _router(self) -> Route:
        """The reader's step for each data frame."""
        return FrameRouter(self.request)

    def start(self) -> Self:
        self._thread.start()
        return self

    def send(self, data: bytes) -> None:
        """Send ``data`` as one text frame: one ``sendall`` under websocket-client's send lock
        (its reader answers pings with it). A failure shuts the socket down, so the reader
        reports the end of the connection, and raises `TransportError`."""
        ws = self._ws
        sock = None if ws is None else ws.sock
        if ws is None or sock is None or self._closing.is_set():
            raise TransportError(f"{self.request.label}: not connected")
        frame = masked_text_frame(data)
        try:
            with ws.lock:
                sock.sendall(frame)
        except OSError as exc:
            ws.abort()  # type: ignore[no-untyped-call]
            raise TransportError(f"{self.request.label}: send failed: {exc}") from exc

    def close(self) -> None:
        self._closing.set()
        ws = self._ws
        if ws is not None:
            ws.abort()  # type: ignore[no-untyped-call]

    def join(self, timeout_s: float) -> bool:
        if self._thread.ident is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the reader thread ---------------------------------------------------------------------

    def _state(self, connected: bool, reason: str) -> None:
        if self._closing.is_set():
            return  # the owner closed it and already knows
        request = self.request
        request.deliver(
            ConnectionStateChanged(
                connection=request.label,
                connected=connected,
                reason=reason,
                ts_init=request.clock.time_ns(),
            )
        )

    def _end_reason(self, reason: str) -> str:
        """The reason reported for the end of the connection (``reason`` says it in words,
        `error` holds what ended it)."""
        return reason

    def _run(self) -> None:
        try:
            reason = self._session()
        except Exception as exc:
            # A refused delivery (a full BLOCK mailbox) or a bug: the owner must still learn
            # that this connection is gone (if even that fails, its pong deadline will).
            log.exception("%s: reader thread failed", self.request.label)
            self.error = exc.with_traceback(None)  # no cycle through the reader's frames
            reason = f"reader failed: {type(exc).__name__}: {exc}"
        if reason is None:
            return
        try:
            self._state(False, self._end_reason(reason))
        except Exception:
            log.critical("%s: could not report the end of the connection", self.request.label,
                         exc_info=True)

    def _session(self) -> str | None:
        """Connect and read until the end; the reason it ended (None: closed by the owner)."""
        request = self.request
        try:
            ws = websocket.create_connection(
                request.url,
                timeout=request.connect_timeout_s,
                skip_utf8_validation=True,
                enable_multithread=True,
                class_=BufferedWebSocket,
            )
        except (OSError, websocket.WebSocketException) as exc:
            self.error = exc.with_traceback(None)
            return f"connect failed: {type(exc).__name__}: {exc}"
        limit_frames(ws, request.max_frame_bytes)
        self._ws = ws
        try:
            if self._closing.is_set():
                return None
            ws.settimeout(self._poll_s)
            self._state(True, "connected")
            return self._read(ws)
        finally:
            ws.shutdown()  # type: ignore[no-untyped-call]

    def _read(self, ws: websocket.WebSocket) -> str:
        closing = self._closing
        recv = ws.recv_data
        route = self._route
        now = self.request.clock.time_ns
        text, binary, close = (
            websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_CLOSE
        )
        while not closing.is_set():
            try:
                opcode, data = recv()
            except websocket.WebSocketTimeoutException:
                continue
            except FrameTooLargeError as exc:
                self.error = exc.with_traceback(None)
                self.refusal = str(exc)
                return f"refused: {exc}"
            except websocket.WebSocketConnectionClosedException as exc:
                self.error = exc.with_traceback(None)
                return "connection closed by the peer"
            except (OSError, websocket.WebSocketException) as exc:
                self.error = exc.with_traceback(None)
                return f"connection error: {type(exc).__name__}: {exc}"
            if opcode in (text, binary):
                route(data, now())
            elif opcode == close:
                return f"closed by the peer ({_close_code(data)})"
        return "closed"


def _close_code(data: bytes) -> str:
    if len(data) >= 2:
        return f"code {int.from_bytes(data[:2], 'big')}"
    return "no code"


def websocket_connector(*, poll_s: float | None = 1.0) -> Connector:
    """The streams' connector: a `WsConnection` per attempt, its thread started."""

    def connect(request: ConnectionRequest) -> Transport:
        return WsConnection(request, poll_s=poll_s).start()

    return connect
