"""The aiohttp shell: POST /info, POST /exchange, GET /ws on one port, plus /_control/*.

Thin by design: decode, hand to `SimulatorCore`, encode. Faults are applied here (delays,
stalls, HTTP errors, WebSocket frame mangling, dropped connections, restarts), and the per-IP
limits that belong to the transport: REST weight (HTTP 429 with the body ``null``, as the
venue sends) and WebSocket connections (the upgrade is refused with the same 429).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from venues.simulator import limits
from venues.simulator.actions import DESERIALIZE_TEXT, DeserializeError, address
from venues.simulator.core import SimulatorCore
from venues.simulator.ws_conn import WsConnection
from venues.simulator.ws_hub import CONNECTED_TEXT

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The venue answers an IP over its weight with HTTP 429 and the JSON body ``null`` (the official
# SDK has a branch for exactly that body; ccxt's message reads "429 Too Many Requests null").
RATE_LIMITED_BODY = b"null"


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def text_response(text: str, status: int) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/plain")


def rate_limited() -> web.Response:
    return web.Response(body=RATE_LIMITED_BODY, status=429, content_type="application/json")


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"


class SimulatorServer:
    """Runs inside an event loop; `RunningSimulator` wraps it in a thread."""

    def __init__(self, core: SimulatorCore) -> None:
        self.core = core
        self.host = core.config.host
        self.port = core.config.port
        self.unstalled = asyncio.Event()
        self.unstalled.set()
        self._conns: dict[int, WsConnection] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._stall_timer: asyncio.TimerHandle | None = None
        self.advance_hook: Callable[[float], None] | None = None
        self._tasks: set[asyncio.Future[None]] = set()

    # --- lifecycle -----------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._faults_middleware], client_max_size=1 << 22)
        app.router.add_post("/info", self._info)
        app.router.add_post("/exchange", self._exchange)
        app.router.add_get("/ws", self._ws)
        app.router.add_post("/_control/{op}", self._control)
        return app

    async def start(self) -> int:
        runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        sockets = runner.addresses
        self.port = int(sockets[0][1])
        return self.port

    async def stop(self) -> None:
        self.drop_ws_connections()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self, downtime_s: float = 0.0) -> None:
        """Close the listener and every connection, then listen again on the same port; the
        exchange state (books, accounts, orders, nonces) is kept."""
        await self.stop()
        if downtime_s > 0:
            await asyncio.sleep(downtime_s)
        await self.start()

    def drop_ws_connections(self) -> int:
        conns = list(self._conns.values())
        for conn in conns:
            conn.drop()
        return len(conns)

    def stall(self, seconds: float | None) -> None:
        """Stop answering HTTP and sending WS frames (queued, not lost) until `unstall`."""
        self.unstalled.clear()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
        if seconds is not None:
            self._stall_timer = asyncio.get_running_loop().call_later(seconds, self.unstall)

    def unstall(self) -> None:
        self.unstalled.set()

    # --- HTTP ----------------------------------------------------------------------------------

    @web.middleware
    async def _faults_middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        if request.path.startswith("/_control/"):
            return await handler(request)
        await self.unstalled.wait()
        if request.path in ("/info", "/exchange"):
            status = self.core.faults.take_http_error(request.path)
            if status == 429:  # what the venue's own limit answers
                return rate_limited()
            if status is not None:
                return text_response(f"{status} Server Error (simulated)", status)
            delay = self.core.faults.plan.delay_s
            if delay > 0:
                await asyncio.sleep(delay)
        return await handler(request)

    async def _body(self, request: web.Request) -> Any:
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(
                text="Expected request with `Content-Type: application/json`"
            )
        raw = await request.read()
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            text = f"Failed to parse the request body as JSON: {exc}"
            raise web.HTTPBadRequest(text=text) from None

    async def _info(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        ip = client_ip(request)
        kind = limits.usage_kind("rest info", body)
        if not self.core.limits.take_weight(ip, limits.info_weight(body), kind):
            return rate_limited()
        try:
            answer = self.core.handle_info(body)
        except DeserializeError as exc:
            return text_response(str(exc), 422)
        self.core.limits.charge_weight(ip, limits.info_extra_weight(body, answer), kind)
        return json_response(answer)

    async def _exchange(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not self.core.limits.take_weight(client_ip(request), limits.exchange_weight(body),
                                            limits.usage_kind("rest exchange", body)):
            return rate_limited()
        try:
            return json_response(self.core.handle_exchange(body))
        except DeserializeError as exc:
            return text_response(str(exc), 422)

    # --- WebSocket -----------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 22)
        core = self.core
        conn = WsConnection(next(self._ids), ws, request, core.faults.ws_filter(), core.hub,
                            self.unstalled, lambda: core.faults.plan.delay_s)
        if not core.hub.connect(conn.id, conn, client_ip(request)):
            return rate_limited()  # the IP has its maximum of connections: no upgrade
        self._conns[conn.id] = conn
        tasks: list[asyncio.Task[None]] = []
        try:
            await ws.prepare(request)
            await ws.send_str(CONNECTED_TEXT)
            tasks = [asyncio.create_task(conn.writer()), asyncio.create_task(conn.handler())]
            while True:
                try:
                    msg = await ws.receive(timeout=core.config.idle_timeout_s)
                except TimeoutError:
                    log.info("ws client %d idle for %.1fs: closing", conn.id,
                             core.config.idle_timeout_s)
                    break
                if msg.type is WSMsgType.TEXT:
                    conn.receive(msg.data)
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                  WSMsgType.ERROR):
                    break
        finally:
            core.hub.disconnect(conn.id)
            self._conns.pop(conn.id, None)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                    await task
            await ws.close()
        return ws

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def ws_connection_count(self) -> int:
        return len(self._conns)

    # --- control -------------------------------------------------------------------------------

    async def _control(self, request: web.Request) -> web.Response:
        op = request.match_info["op"]
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise ValueError("control body must be a JSON object")
            result = await self.control(op, body)
        except (ValueError, TypeError, KeyError, InvalidOperation, DeserializeError) as exc:
            return text_response(f"bad control request: {exc}", 400)
        if result is None:
            return text_response(f"unknown control operation {op!r}", 404)
        return json_response(result)

    async def control(self, op: str, body: dict[str, Any]) -> dict[str, Any] | None:
        core = self.core
        if op == "ping":
            return {"ok": True}
        if op == "fund":
            volume = Decimal(str(body.get("cum_volume", 0)))
            core.fund(address(body["address"]), Decimal(str(body.get("usdc", 0))),
                      cum_volume=volume)
            return {"ok": True}
        if op == "fund_sub":
            sub = address(body["sub"])
            core.fund(sub, Decimal(str(body.get("usdc", 0))))
            core.make_sub_account(address(body["master"]), sub)
            return {"ok": True}
        if op == "reset_limits":
            core.limits.reset()
            return {"ok": True}
        if op == "faults":
            plan = core.faults.set(**body)
            return {"ok": True, "faults": repr(plan)}
        if op == "clear_faults":
            core.faults.clear()
            self.unstall()
            return {"ok": True}
        if op == "drop_ws":
            return {"ok": True, "dropped": self.drop_ws_connections()}
        if op == "stall":
            seconds = body.get("seconds")
            self.stall(None if seconds is None else float(seconds))
            return {"ok": True}
        if op == "unstall":
            self.unstall()
            return {"ok": True}
        if op == "restart":
            downtime = float(body.get("downtime_s", 0.0))
            # Answer first: the restart closes this very connection.
            asyncio.get_running_loop().call_later(
                0.05, lambda: self._spawn(self.restart(downtime))
            )
            return {"ok": True}
        if op == "advance":
            if self.advance_hook is None:
                raise ValueError("advance needs deterministic mode (a ManualClock)")
            self.advance_hook(float(body["seconds"]))
            return {"ok": True}
        if op == "state":
            return {
                "ok": True, "ws_connections": len(self._conns), "faults": repr(core.faults.plan),
                "fault_counts": core.faults.counts, "stalled": not self.unstalled.is_set(),
                "limits": core.limits.state(),
                # Order and cancel entries each address has sent (its userRateLimit count).
                "address_requests": {a: acc.n_requests
                                     for a, acc in core.engine.accounts.items()},
            }
        return None


__all__ = ["DESERIALIZE_TEXT", "SimulatorServer"]
