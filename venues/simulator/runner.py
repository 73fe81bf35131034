"""Embedding: the simulator on its own event loop in a daemon thread.

``start_simulator(config)`` binds 127.0.0.1:0 by default and returns a `RunningSimulator`
with ``base_url`` / ``ws_url`` and in-process control methods mirroring ``/_control/*``. Every
control call runs on the simulator's loop thread, so engine state is only touched there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

from clock import Clock, ManualClock, SystemClock, TimerHandle
from venues.hyperliquid.wire import check_address
from venues.simulator.config import SimulatorConfig
from venues.simulator.core import SimulatorCore
from venues.simulator.faults import FaultPlan
from venues.simulator.server import SimulatorServer

log = logging.getLogger(__name__)
T = TypeVar("T")
CALL_TIMEOUT_S = 30.0


class LoopTimers:
    """`Timers` on an asyncio loop (callbacks run on the loop thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> TimerHandle:
        return self._loop.call_later(max(0.0, delay_s), callback)


class RunningSimulator:
    def __init__(self, config: SimulatorConfig, clock: Clock | None = None) -> None:
        self.config = config
        self._manual = clock if isinstance(clock, ManualClock) else None
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="perpetuum-sim", daemon=True)
        self._ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._core: SimulatorCore | None = None
        self._server: SimulatorServer | None = None
        self.port = 0

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> RunningSimulator:
        self._thread.start()
        self.port = self._ready.result(timeout=timeout)
        log.info("simulator listening on %s", self.base_url)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._boot())
        except Exception as exc:  # noqa: BLE001 - re-raised in the thread waiting in start()
            self._ready.set_exception(exc)
            self._loop.close()
            return
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _boot(self) -> None:
        loop = asyncio.get_running_loop()
        timers = self._manual if self._manual is not None else LoopTimers(loop)
        core = SimulatorCore(self.config, self._clock, timers)
        server = SimulatorServer(core)
        if self._manual is not None:
            server.advance_hook = self._advance_on_loop
        port = await server.start()
        core.start()
        self._core, self._server = core, server
        self._ready.set_result(port)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._run_coro(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _shutdown(self) -> None:
        assert self._core is not None
        assert self._server is not None
        self._core.stop()
        await self._server.stop()

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- plumbing ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/ws"

    @property
    def core(self) -> SimulatorCore:
        assert self._core is not None, "simulator not started"
        return self._core

    @property
    def server(self) -> SimulatorServer:
        assert self._server is not None, "simulator not started"
        return self._server

    def _run_coro(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT_S)

    def call(self, fn: Callable[[SimulatorCore], T]) -> T:
        """Run ``fn(core)`` on the simulator's thread and return its result (for inspection
        in tests: books, orders, accounts)."""
        if threading.current_thread() is self._thread:
            return fn(self.core)

        async def run() -> T:
            return fn(self.core)

        return self._run_coro(run())

    # --- control (mirrors POST /_control/*) ----------------------------------------------------

    def fund(
        self, address: str, usdc: Decimal | int | str, *, cum_volume: Decimal | int | str = 0
    ) -> None:
        """Credit ``usdc``; ``cum_volume`` adds USDC volume already traded (a larger request
        budget and open-order cap)."""
        address = check_address(address)
        amount, volume = Decimal(str(usdc)), Decimal(str(cum_volume))
        self.call(lambda core: core.fund(address, amount, cum_volume=volume))

    def fund_sub(self, master: str, sub: str, usdc: Decimal | int | str) -> None:
        """Credit ``sub`` and make it a sub-account of ``master`` (trades via vaultAddress)."""
        master, sub = check_address(master), check_address(sub)
        amount = Decimal(str(usdc))

        def run(core: SimulatorCore) -> None:
            core.fund(sub, amount)
            core.make_sub_account(master, sub)

        self.call(run)

    def limits_state(self) -> dict[str, Any]:
        """What ``/_control/state`` reports under ``limits``: usage per IP and refusals."""
        return self.call(lambda core: core.limits.state())

    def reset_limits(self) -> None:
        """Forget every IP's usage so far (a test starting fresh on a shared simulator)."""
        self.call(lambda core: core.limits.reset())

    def set_faults(self, **changes: Any) -> FaultPlan:
        return self.call(lambda core: core.faults.set(**changes))

    def clear_faults(self) -> None:
        def clear(core: SimulatorCore) -> None:
            core.faults.clear()
            self.server.unstall()

        self.call(clear)

    def drop_ws_connections(self) -> int:
        return self.call(lambda _core: self.server.drop_ws_connections())

    def ws_connection_count(self) -> int:
        return self.call(lambda _core: self.server.ws_connection_count())

    def stall(self, seconds: float | None = None) -> None:
        self.call(lambda _core: self.server.stall(seconds))

    def unstall(self) -> None:
        self.call(lambda _core: self.server.unstall())

    def restart(self, downtime_s: float = 0.0) -> None:
        self._run_coro(self.server.restart(downtime_s))

    def advance(self, seconds: float) -> None:
        """Deterministic mode: move the ManualClock, running the flow and timers that fall due."""
        if self._manual is None:
            raise RuntimeError("advance() needs a simulator started with a ManualClock")
        self.call(lambda _core: self._advance_on_loop(seconds))

    def _advance_on_loop(self, seconds: float) -> None:
        assert self._manual is not None
        self._manual.advance(seconds)
        self.core.engine.tick()
        self.core.after_change()


def start_simulator(
    config: SimulatorConfig | None = None, *, clock: Clock | None = None
) -> RunningSimulator:
    """Start a simulator in a background thread (127.0.0.1, ephemeral port by default).

    Pass a `ManualClock` for deterministic mode: the synthetic flow and every timer then move
    only when `RunningSimulator.advance` is called.
    """
    return RunningSimulator(config or SimulatorConfig(), clock).start()
