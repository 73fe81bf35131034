"""The simulator without its transport: engine, services, WebSocket hub, flow and faults.

All methods run on one thread (the server's event loop). Timers come in through the `Timers`
protocol, so the same core runs in real time (asyncio timers) or deterministically under a
`ManualClock`, where only `advance()` moves the market.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from clock import Clock, SystemClock, TimerHandle, Timers
from venues.simulator.agents import AgentRegistry
from venues.simulator.config import SimulatorConfig
from venues.simulator.engine import Engine
from venues.simulator.exchange_service import ExchangeService
from venues.simulator.faults import FaultInjector
from venues.simulator.flow import SyntheticFlow
from venues.simulator.info_service import InfoService
from venues.simulator.limits import Limits
from venues.simulator.nonces import NonceTracker
from venues.simulator.ws_hub import WsHub

log = logging.getLogger(__name__)


class SimulatorCore:
    """``clock`` is the venue's time (block times, nonces, timers); ``transport_clock`` times
    the per-IP limits, which like delays and idle timeouts run in real time even when the
    venue's clock is a `ManualClock` (default: the system's monotonic clock)."""

    def __init__(
        self, config: SimulatorConfig, clock: Clock, timers: Timers,
        transport_clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self._timers = timers
        self.limits = Limits(
            config.limits, enforce=config.enforce_limits,
            enforce_address=config.address_budget_enforced,
            monotonic_ns=(transport_clock or SystemClock()).monotonic_ns,
        )
        self.engine = Engine(config.coins, config.fees, clock, config.history_cap)
        self.engine.limits = self.limits
        for spec in config.accounts:
            self.fund(spec.address, spec.usdc, cum_volume=spec.cum_volume)
        for spec in config.accounts:
            if spec.master is not None:
                self.make_sub_account(spec.master, spec.address)
        self.agents = AgentRegistry()
        self.nonces = NonceTracker()
        self.info = InfoService(self.engine, self.agents, self.limits)
        self.exchange = ExchangeService(self.engine, self.agents, self.nonces, config,
                                        self.limits)
        self.faults = FaultInjector(config.seed)
        self.hub = WsHub(self.engine, self.info.handle, self.handle_exchange, self.limits,
                         post_error=self.faults.take_post_error)
        self.flow: SyntheticFlow | None = None
        if config.flow.enabled:
            self.flow = SyntheticFlow(self.engine, config.flow, config.seed)
            # The synthetic market's participants are the venue's own, not clients.
            self.limits.exempt.update((*self.flow.makers, self.flow.taker))
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

    def fund(self, address: str, usdc: Decimal, *, cum_volume: Decimal = Decimal(0)) -> None:
        """Credit ``usdc``; ``cum_volume`` adds volume already traded (raises the address's
        request budget and open-order cap)."""
        if cum_volume < 0:
            raise ValueError("cum_volume must be >= 0")
        account = self.engine.fund(address, usdc)
        account.cum_volume += cum_volume

    def make_sub_account(self, master: str, sub: str) -> None:
        """Register ``sub`` (an account) as a sub-account ``master`` trades via vaultAddress."""
        account = self.engine.accounts.get(sub)
        if master not in self.engine.accounts or account is None:
            raise ValueError(f"{master} and {sub} must both be accounts")
        if master == sub or self.engine.accounts[master].master is not None:
            raise ValueError(f"{master} cannot be the master of {sub}")
        if account.master not in (None, master):
            raise ValueError(f"{sub} is already a sub-account of {account.master}")
        account.master = master

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
