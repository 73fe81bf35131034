"""One WebSocket client of the server shell: an outbox drained by a writer task (with frame
faults applied), and an inbox drained by a handler task.

Received frames are admitted at once (counted against the IP's message and in-flight ``post``
limits) and answered by the handler in arrival order, each no earlier than its arrival plus the
fault plan's ``delay_s``: the delay is latency, not a throughput cap, so ``post`` requests pile
up in flight exactly as they would behind a slow venue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from aiohttp import WSMsgType, web

from venues.simulator.faults import Frame, WsFaultFilter
from venues.simulator.ws_hub import Inbound, WsHub

log = logging.getLogger(__name__)

MAX_OUTBOX = 20_000


class WsConnection:
    def __init__(
        self, conn_id: int, ws: web.WebSocketResponse, request: web.Request,
        filt: WsFaultFilter, hub: WsHub, unstalled: asyncio.Event, delay_s: Callable[[], float],
    ) -> None:
        self.id = conn_id
        self.ws = ws
        self.request = request
        self._filter = filt
        self._hub = hub
        self._unstalled = unstalled
        self._delay_s = delay_s
        self._queue: deque[Frame] = deque()
        self._wake = asyncio.Event()
        self._inbox: deque[tuple[float, Inbound]] = deque()
        self._inbox_wake = asyncio.Event()

    # --- outbound ------------------------------------------------------------------------------

    def send(self, text: str) -> None:
        for out in self._filter.apply(text):
            self._queue.append(out)
        if len(self._queue) > MAX_OUTBOX:
            log.warning("ws client %d is not reading; dropping its connection", self.id)
            self.drop()
            return
        self._wake.set()

    def drop(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def writer(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    await self._unstalled.wait()
                    out = self._queue.popleft()
                    if isinstance(out, bytes):  # a TEXT frame whose bytes a fault chose
                        await self.ws.send_frame(out, WSMsgType.TEXT)
                    else:
                        await self.ws.send_str(out)

    # --- inbound -------------------------------------------------------------------------------

    def receive(self, text: str) -> None:
        inbound = self._hub.admit(self.id, text)
        if inbound is not None:
            due = asyncio.get_running_loop().time() + self._delay_s()
            self._inbox.append((due, inbound))
            self._inbox_wake.set()

    async def handler(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._inbox_wake.wait()
            self._inbox_wake.clear()
            while self._inbox:
                await self._unstalled.wait()
                due, inbound = self._inbox[0]
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._inbox.popleft()
                try:
                    self._hub.handle(self.id, inbound)
                except Exception:
                    # A bug in the simulator: say so and end this connection (the client
                    # reconnects) rather than leave it open with nobody answering.
                    log.exception("ws client %d: handling a frame failed", self.id)
                    self.drop()
                    raise
