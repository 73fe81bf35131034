"""One WebSocket connection: a websocket-client socket and the reader thread that feeds an actor.

The reader thread connects (so the actor never blocks on the network), then tells its owner
``ConnectionStateChanged(connected=True)``, one ``FrameReceived`` per frame, and finally
``ConnectionStateChanged(connected=False, reason)`` when the connection ends by itself. Frames
carry the connection's unique ``connection_id``: the owner ignores anything from a connection that
is no longer current (after a reconnect, or in the next incarnation that inherits the mailbox).

Sends happen on the owner's thread (websocket-client locks sends; a reader and one writer may
work concurrently). ``close()`` never blocks: it marks the connection closed, so the thread
delivers nothing more, and shuts the socket down, which wakes a blocked ``recv``; the socket
timeout (``poll_s``) bounds the wait in every other case. The thread then exits on its own.

Size: a message larger than ``max_frame_bytes`` is refused from its frame header, before its
payload is read (`venues.hyperliquid.transport.limit_frames`); the reader records why in
``refusal`` and ends the connection, and the owner reports it and reconnects with back-off.

Conflation: with `FrameSlots`, frames that have a conflation key (a coin's book, a coin's bbo)
are not queued one by one. The newest frame per key waits in a slot and a ``FrameReceived`` is
told only when the slot was empty; the owner takes the slot's newest frame when it handles that
message. So at most one book per coin is ever queued, however far behind the owner is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any, Protocol

import attrs
import websocket

from clock import Clock
from messages.execution import ConnectionStateChanged, FrameReceived
from venues.hyperliquid.transport import DEFAULT_MAX_FRAME_BYTES, FrameTooLargeError, limit_frames

log = logging.getLogger(__name__)

Deliver = Callable[[object], None]
ConflationKeyFn = Callable[[bytes], Hashable | None]


class TransportError(Exception):
    """A send on a connection failed (the connection is gone)."""


class Transport(Protocol):
    """What a stream's logic holds for one connection attempt."""

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
    """A websocket-client connection with its reader thread (see the module docstring)."""

    def __init__(self, request: ConnectionRequest, *, poll_s: float = 1.0) -> None:
        self.request = request
        self._poll_s = poll_s
        self._route = FrameRouter(request)
        self._ws: websocket.WebSocket | None = None
        self._closing = threading.Event()
        self.refusal: str | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"ws-reader-{request.label}", daemon=True
        )

    def start(self) -> WsConnection:
        self._thread.start()
        return self

    def send(self, data: bytes) -> None:
        ws = self._ws
        if ws is None or self._closing.is_set():
            raise TransportError(f"{self.request.label}: not connected")
        try:
            ws.send(data)
        except (OSError, websocket.WebSocketException) as exc:
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

    def _run(self) -> None:
        try:
            reason = self._session()
        except Exception as exc:
            # A refused delivery (a full BLOCK mailbox) or a bug: the owner must still learn
            # that this connection is gone (if even that fails, its pong deadline will).
            log.exception("%s: reader thread failed", self.request.label)
            reason = f"reader failed: {type(exc).__name__}: {exc}"
        if reason is None:
            return
        try:
            self._state(False, reason)
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
                self.refusal = str(exc)
                return f"refused: {exc}"
            except websocket.WebSocketConnectionClosedException:
                return "connection closed by the peer"
            except (OSError, websocket.WebSocketException) as exc:
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


def websocket_connector(*, poll_s: float = 1.0) -> Connector:
    """The production connector: a `WsConnection` per attempt, its thread started."""

    def connect(request: ConnectionRequest) -> Transport:
        return WsConnection(request, poll_s=poll_s).start()

    return connect
