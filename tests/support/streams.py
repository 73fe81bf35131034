"""A small local WebSocket server that speaks enough of Hyperliquid's ``/ws`` to test streams.

aiohttp on its own event-loop thread, bound to 127.0.0.1 on an ephemeral port. It sends the
venue's plain-text greeting, answers ``{"method":"ping"}`` with a pong and acknowledges
subscriptions (each can be switched off to test timeouts), records what clients send, and lets a
test push frames, close connections (with a close frame or abruptly) and blast pre-rendered
frames as fast as the socket takes them (benchmarks).

Also `FakeConnector` / `FakeTransport` / `Inbox`: the same seams without sockets or threads, so
tests drive the stream logic message by message (the test plays the reader thread).

Used by tests and scripts/bench_streams.py; nothing in the runtime imports it.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import attrs
import orjson
from aiohttp import WSMsgType, web

from messages.connection import ConnectionStateChanged
from venues.hyperliquid.ws_connection import (
    ConnectionRequest,
    FrameRouter,
    Transport,
    TransportError,
)

GREETING = "Websocket connection established."

OnSubscribe = Callable[[dict[str, Any]], Sequence[bytes]]
"""Called with each subscription object; returns frames to send right after the ack."""


@attrs.define(eq=False)
class ServerConnection:
    number: int
    ws: web.WebSocketResponse
    request: web.Request
    received: list[dict[str, Any]] = attrs.field(factory=list)
    open: bool = True


class LocalWsServer:
    def __init__(
        self,
        *,
        greeting: str | None = GREETING,
        answer_pings: bool = True,
        ack_subscriptions: bool = True,
        on_subscribe: OnSubscribe | None = None,
    ) -> None:
        self.greeting = greeting
        self.answer_pings = answer_pings
        self.ack_subscriptions = ack_subscriptions
        self.on_subscribe = on_subscribe
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="local-ws-server", daemon=True
        )
        self._cond = threading.Condition()
        self._numbers = itertools.count(1)
        self._connections: list[ServerConnection] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> LocalWsServer:
        self._thread.start()
        self._call(self._start()).result(10)
        return self

    def __enter__(self) -> LocalWsServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._stop()).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _call(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self._handler)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def _stop(self) -> None:
        for conn in self.connections:
            if conn.open:
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the connection handler ----------------------------------------------------------------

    async def _handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=0)
        await ws.prepare(request)
        conn = ServerConnection(number=next(self._numbers), ws=ws, request=request)
        with self._cond:
            self._connections.append(conn)
            self._cond.notify_all()
        if self.greeting is not None:
            await ws.send_str(self.greeting)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(conn, orjson.loads(msg.data))
        finally:
            with self._cond:
                conn.open = False
                self._cond.notify_all()
        return ws

    async def _on_text(self, conn: ServerConnection, frame: dict[str, Any]) -> None:
        with self._cond:
            conn.received.append(frame)
            self._cond.notify_all()
        method = frame.get("method")
        if method == "ping":
            if self.answer_pings:
                await conn.ws.send_str('{"channel":"pong"}')
            return
        if method in ("subscribe", "unsubscribe") and self.ack_subscriptions:
            ack = {"channel": "subscriptionResponse",
                   "data": {"method": method, "subscription": frame.get("subscription")}}
            await conn.ws.send_str(orjson.dumps(ack).decode())
            if method == "subscribe" and self.on_subscribe is not None:
                send_frame = conn.ws.send_frame
                for data in self.on_subscribe(frame.get("subscription") or {}):
                    await send_frame(data, WSMsgType.TEXT)

    # -- what tests do -------------------------------------------------------------------------

    @property
    def connections(self) -> tuple[ServerConnection, ...]:
        """The connections accepted so far: a snapshot, to count or scan. To get one, wait for
        it (`connection`, `wait_for_connections`): the server registers a connection on its own
        thread, after the client has already seen its handshake complete, so indexing this
        right after a client connected races the server."""
        with self._cond:
            return tuple(self._connections)

    def connection(self, number: int, timeout: float = 10.0) -> ServerConnection:
        """The ``number``-th connection accepted (1 = the first), once it has been."""
        if number < 1:
            raise ValueError(f"connections are numbered from 1, got {number}")
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._connections) >= number, timeout):
                raise AssertionError(f"{len(self._connections)} connections, wanted {number}")
            return self._connections[number - 1]

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> ServerConnection:
        """Wait until ``count`` connections were accepted (in total); returns the latest."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._connections) >= count, timeout):
                raise AssertionError(f"{len(self._connections)} connections, wanted {count}")
            return self._connections[-1]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``condition()`` (evaluated under the server's lock, at each change) holds.
        It must not index ``connections``: take the connection first (`connection`)."""
        with self._cond:
            if not self._cond.wait_for(condition, timeout):
                raise AssertionError("server condition not met in time")

    def received(self, conn: ServerConnection, method: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [f for f in conn.received if method is None or f.get("method") == method]

    def wait_received(
        self, conn: ServerConnection, method: str, count: int, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        self.wait_for(lambda: len([f for f in conn.received if f.get("method") == method])
                      >= count, timeout)
        return self.received(conn, method)

    def push(self, conn: ServerConnection, *frames: bytes | str) -> None:
        """Send text frames on one connection (waits until they are written)."""

        async def send() -> None:
            for frame in frames:
                await conn.ws.send_str(frame if isinstance(frame, str) else frame.decode())

        self._call(send()).result(10)

    def close(self, conn: ServerConnection, code: int = 1001) -> None:
        """Close a connection with a close frame (a routine venue disconnect)."""
        self._call(conn.ws.close(code=code)).result(10)

    def abort(self, conn: ServerConnection) -> None:
        """Drop a connection without a close frame (a network failure)."""

        async def abort() -> None:
            transport = conn.request.transport
            if transport is not None:
                transport.abort()

        self._call(abort()).result(10)

    def blast(self, conn: ServerConnection, frames: Sequence[bytes]) -> Future[float]:
        """Send every frame as fast as the connection takes them; the future gives the seconds
        the sending took."""

        async def send() -> float:
            send_frame = conn.ws.send_frame
            loop = asyncio.get_running_loop()
            start = loop.time()
            for frame in frames:
                await send_frame(frame, WSMsgType.TEXT)
            return loop.time() - start

        return self._call(send())


# -- a fake connector for driving stream logic without sockets or threads ---------------------


class FakeTransport:
    """One fake connection attempt: records sends; the test plays the reader thread."""

    def __init__(self, request: ConnectionRequest) -> None:
        self.request = request
        self.sent: list[bytes] = []
        self.closed = False
        self.fail_sends = False
        self.refusal: str | None = None
        self._route = FrameRouter(request)

    # the owner's side
    def send(self, data: bytes) -> None:
        if self.closed or self.fail_sends:
            raise TransportError(f"{self.request.label}: send failed (fake)")
        self.sent.append(data)

    def close(self) -> None:
        self.closed = True

    def join(self, timeout_s: float) -> bool:
        return True

    # the reader thread's side
    def open(self) -> None:
        self._state(True, "connected")

    def lost(self, reason: str = "closed by the peer (code 1001)") -> None:
        self._state(False, reason)

    def refuse(self, refusal: str) -> None:
        """The reader refused what the peer sent (an oversized message) and ended it."""
        self.refusal = refusal
        self._state(False, f"refused: {refusal}")

    def frame(self, data: bytes | str, ts_init: int | None = None) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self._route(raw, self.request.clock.time_ns() if ts_init is None else ts_init)

    def _state(self, connected: bool, reason: str) -> None:
        self.request.deliver(ConnectionStateChanged(
            connection=self.request.label, connected=connected, reason=reason,
            ts_init=self.request.clock.time_ns(),
        ))

    def sent_json(self) -> list[dict[str, Any]]:
        return [orjson.loads(d) for d in self.sent]

    def subscriptions(self, method: str = "subscribe") -> list[dict[str, Any]]:
        return [f["subscription"] for f in self.sent_json() if f.get("method") == method]


class FakeConnector:
    """A `Connector` that hands out `FakeTransport`s (``transports[-1]`` is the current one)."""

    def __init__(self) -> None:
        self.transports: list[FakeTransport] = []

    def __call__(self, request: ConnectionRequest) -> Transport:
        transport = FakeTransport(request)
        self.transports.append(transport)
        return transport

    @property
    def latest(self) -> FakeTransport:
        return self.transports[-1]


class Inbox:
    """A single-threaded stand-in for an actor's mailbox: ``post`` queues, ``pump`` handles."""

    def __init__(self) -> None:
        self.queue: deque[object] = deque()

    def post(self, message: object) -> None:
        self.queue.append(message)

    def pump(self, handle: Callable[[object], Any], limit: int = 100_000) -> int:
        """Handle queued messages (and those they queue) in order; returns how many."""
        handled = 0
        while self.queue:
            if handled >= limit:
                raise AssertionError(f"more than {limit} messages: a message loop?")
            handle(self.queue.popleft())
            handled += 1
        return handled

    def __len__(self) -> int:
        return len(self.queue)
