"""The simulator without its transport: engine, services, WebSocket hub, flow and faults.

All methods run on one thread (the server's event loop). Timers come in through the `Timers`
protocol, so the same core runs in real time (asyncio timers) or deterministically under a
`ManualClock`, where only `advance()` moves the market.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from supervision.clock import Clock, TimerHandle, Timers
from venues.simulator.agents import AgentRegistry
from venues.simulator.config import SimulatorConfig
from venues.simulator.engine import Engine
from venues.simulator.exchange_service import ExchangeService
from venues.simulator.faults import FaultInjector
from venues.simulator.flow import SyntheticFlow
from venues.simulator.info_service import InfoService
from venues.simulator.nonces import NonceTracker
from venues.simulator.ws_hub import WsHub

log = logging.getLogger(__name__)


class SimulatorCore:
    def __init__(self, config: SimulatorConfig, clock: Clock, timers: Timers) -> None:
        self.config = config
        self.clock = clock
        self._timers = timers
        self.engine = Engine(config.coins, config.fees, clock)
        for spec in config.accounts:
            self.engine.fund(spec.address, spec.usdc, spec.master)
        self.agents = AgentRegistry()
        self.nonces = NonceTracker()
        self.info = InfoService(self.engine, self.agents)
        self.exchange = ExchangeService(self.engine, self.agents, self.nonces, config)
        self.hub = WsHub(self.engine, self.info.handle, self.handle_exchange)
        self.faults = FaultInjector(config.seed)
        self.flow: SyntheticFlow | None = None
        if config.flow.enabled:
            self.flow = SyntheticFlow(self.engine, config.flow, config.seed)
        self._flow_timer: TimerHandle | None = None
        self._flow_due: int | None = None
        self._deadline_timer: TimerHandle | None = None
        self._deadline_for: int | None = None
        self._running = False

    def start(self) -> None:
        self._running = True
        if self.flow is not None:
            self.flow.start()
            self._arm_flow()
        self.after_change()

    def stop(self) -> None:
        self._running = False
        for timer in (self._flow_timer, self._deadline_timer):
            if timer is not None:
                timer.cancel()

    # --- requests ------------------------------------------------------------------------------

    def handle_info(self, body: Any) -> Any:
        return self.info.handle(body)

    def handle_exchange(self, body: Any) -> Any:
        try:
            return self.exchange.handle(body)
        finally:
            self.after_change()

    def fund(self, address: str, usdc: Decimal) -> None:
        self.engine.fund(address, usdc)

    def after_change(self) -> None:
        """Publish what the last operation did and keep the dead-man timer armed."""
        self.hub.publish(self.engine.drain_events())
        deadline = self.engine.scheduled.next_deadline()
        if deadline is not None and deadline != self._deadline_for and self._running:
            if self._deadline_timer is not None:
                self._deadline_timer.cancel()
            delay = max(0.0, (deadline - self.engine.now_ms()) / 1000)
            self._deadline_for = deadline
            self._deadline_timer = self._timers.call_later(delay, self._on_deadline)

    # --- time-driven work --------------------------------------------------------------------

    def _arm_flow(self) -> None:
        if not self._running or self.flow is None:
            return
        # Fixed-rate schedule: the time a step takes does not slow the configured rate down.
        interval_ns = int(1e9 / self.config.flow.steps_per_second)
        now = self.clock.monotonic_ns()
        due = (self._flow_due or now) + interval_ns
        if due < now - 10 * interval_ns:  # far behind (a stall, a slow machine): resync
            due = now + interval_ns
        self._flow_due = due
        self._flow_timer = self._timers.call_later(max(0, due - now) / 1e9, self._flow_step)

    def _flow_step(self) -> None:
        assert self.flow is not None
        self.flow.step()
        self.engine.tick()
        self.after_change()
        self._arm_flow()

    def _on_deadline(self) -> None:
        self._deadline_for = None
        self._deadline_timer = None
        self.engine.tick()
        self.after_change()
