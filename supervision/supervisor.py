"""The supervisor actor: starts children in order, watches them, restarts them per policy.

A supervisor is itself a `SupervisedActor` (so a sub-supervisor is watched, restarted and
escalated exactly like a worker). All its decisions run in its own thread, one message at a
time; decisions come from `supervision.policy`.

* Exit of a child (crash, hang, normal exit): emit ChildFailed/ChildStopped, ask the policy for
  a plan, check restart intensity (escalate if exceeded), stop the affected running siblings in
  reverse order, then restart the group in start order — at once, or after the failed child's
  back-off delay (a timer tells the supervisor ``RestartDue``).
* A failed (re)start counts toward intensity and is retried later (after the mailbox, as OTP's
  ``try_again_restart``), with the child's back-off if it has one.
* The watchdog (children with a ``heartbeat``) samples each child's in-flight message on
  timer ticks; a handler running longer than the heartbeat deadline is declared hung: its
  incarnation is fenced and abandoned, the in-flight message is dead-lettered (its asker gets
  `ChildHungError`) and the child is restarted.
* Escalation: emit SupervisorEscalated, stop all children in reverse order, die with phase
  ``escalated``; the parent applies its own strategy. A fatal (BaseException) exit escalates
  at once, at every level.
"""

from __future__ import annotations

import logging
from typing import Any

from clock import TimerHandle
from messages.supervision import ChildRestartScheduled, SupervisorEscalated
from supervision.actor import SupervisedActor
from supervision.errors import ChildHungError, Escalation
from supervision.mailbox import Internal
from supervision.policy import ChildState, ChildStatus, IntensityWindow, plan_exit
from supervision.slot import ChildDown, DownNotice, Incarnation, Slot
from supervision.spec import ChildContext, SupervisorSpec

log = logging.getLogger(__name__)


class RestartDue(Internal):
    __slots__ = ("delay_ns", "owner", "token")

    def __init__(self, owner: int, token: int, delay_ns: int) -> None:
        self.owner = owner
        self.token = token
        self.delay_ns = delay_ns


class WatchdogTick(Internal):
    __slots__ = ("now_ns", "owner")

    def __init__(self, owner: int, now_ns: int) -> None:
        self.owner = owner
        self.now_ns = now_ns


class Sync(Internal):
    """Answered once the supervisor has handled everything queued before it."""

    __slots__ = ()


class Supervisor(SupervisedActor):
    """One incarnation of a (sub-)supervisor. Built by the tree; never by hand."""

    def __init__(self, ctx: ChildContext, slot: Slot) -> None:
        super().__init__(ctx)
        spec = slot.spec
        assert isinstance(spec, SupervisorSpec)
        self._slot = slot
        self._spec = spec
        self._children = list(slot.children)
        self._by_id = {child.id: child for child in self._children}
        self._window = IntensityWindow(spec.intensity, spec.period)
        self._next_token = 0
        self._timers: dict[int, TimerHandle] = {}
        self._watchdog: TimerHandle | None = None
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------

    def on_started(self) -> None:
        started: list[Slot] = []
        for child in self._children:
            child.tracker.reset()
            child.pending_token = None
            self._abandon_orphan(child)
            outcome = child.start()
            if not outcome.ok:
                child.emit_failed(
                    outcome.record.number, "on_start", outcome.error, fatal=outcome.fatal
                )
                for done in reversed(started):
                    done.stop(final=False, reason=f"{self._slot.path} failed to start")
                error = outcome.error
                raise Escalation(
                    f"{child.path} failed to start: {type(error).__name__}: {error}",
                    fatal=outcome.fatal,
                )
            started.append(child)
        self._arm_watchdog()

    def on_stopping(self) -> None:
        self._shutdown_children(final=self._binding.final_stop, reason="shutdown")

    def _before_exit(self) -> None:
        self._shutdown_children(final=self._binding.final_stop, reason="supervisor exited")

    def _abandon_orphan(self, child: Slot) -> None:
        """A previous supervisor incarnation was abandoned with this child still running."""
        record = child.current
        if record is not None and not record.view.retired:
            log.error("%s: %s#%d outlived its supervisor; abandoning it", self._slot.path,
                      child.path, record.number)
            record.handled = True
            record.retire()
        child.current = None
        child.state = ChildState.DOWN

    def _shutdown_children(self, *, final: bool, reason: str) -> None:
        self._stopping = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for child in reversed(self._children):
            if child.state is ChildState.RUNNING:
                child.stop(final=final, reason=reason)
            else:
                child.pending_token = None
                if final and child.state is not ChildState.REMOVED:
                    child.remove()

    # -- messages ----------------------------------------------------------------------------

    def handle(self, message: Any) -> Any:
        kind = type(message)
        if kind is ChildDown:
            assert isinstance(message, ChildDown)
            self._on_child_down(message.notice)
        elif kind is RestartDue:
            assert isinstance(message, RestartDue)
            if message.owner == self.incarnation and not self._stopping:
                self._restart_group(message.token, message.delay_ns)
        elif kind is WatchdogTick:
            assert isinstance(message, WatchdogTick)
            if message.owner == self.incarnation and not self._stopping:
                self._on_watchdog(message.now_ns)
        elif kind is Sync:
            return None
        else:
            raise TypeError(f"supervisor {self._slot.path} got {kind.__name__}")
        return None

    def _on_child_down(self, notice: DownNotice) -> None:
        record = notice.record
        child = record.slot
        if child.parent is not self._slot or child.current is not record or record.handled:
            log.debug("%s: stale exit of %r ignored", self._slot.path, record)
            return
        record.handled = True
        child.current = None
        child.state = ChildState.DOWN
        if notice.abnormal:
            child.emit_failed(record.number, notice.phase, notice.error, fatal=notice.fatal)
        else:
            child.emit_stopped(record.number, notice.reason)
        if notice.fatal:
            self._escalate(f"fatal {notice.reason} in {child.path}", fatal=True)
        uptime_s = (self.clock.monotonic_ns() - record.started_ns) / 1e9
        self._after_exit(child, abnormal=notice.abnormal, uptime_s=uptime_s)

    def _after_exit(
        self, child: Slot, *, abnormal: bool, uptime_s: float, now_ns: int | None = None
    ) -> None:
        statuses = [
            ChildStatus(id=c.id, restart=c.restart, state=c.state) for c in self._children
        ]
        plan = plan_exit(self._spec.strategy, statuses, child.id, abnormal=abnormal)
        if not plan.restart:
            for child_id in plan.remove:
                self._by_id[child_id].remove()
            return
        self._count_restart(child, now_ns)
        delay_s = self._next_delay(child, uptime_s)
        why = f"{self._spec.strategy.value}: {child.path} exited"
        for child_id in plan.stop:
            if self._by_id[child_id].stop(final=child_id in plan.remove, reason=why):
                self._escalate(f"fatal error while stopping {child_id}", fatal=True)
        for child_id in plan.remove:
            sibling = self._by_id[child_id]
            if sibling.state is not ChildState.REMOVED:
                sibling.remove()
        self._schedule([self._by_id[i] for i in plan.start], child, delay_s, via_mailbox=False)

    def _count_restart(self, child: Slot, now_ns: int | None = None) -> None:
        now = self.clock.monotonic_ns() if now_ns is None else now_ns
        if not self._window.record(now):
            spec = self._spec
            self._escalate(
                f"restart intensity exceeded: more than {spec.intensity} restarts in "
                f"{spec.period}s (last: {child.path})"
            )

    def _next_delay(self, child: Slot, uptime_s: float) -> float:
        delay_s = child.tracker.next_delay_s(uptime_s, self._slot.env.rng)
        if delay_s is None:
            self._escalate(
                f"{child.path}: back-off gave up after {child.tracker.attempt - 1} "
                "consecutive restarts"
            )
        assert delay_s is not None
        return delay_s

    def _schedule(self, group: list[Slot], cause: Slot, delay_s: float, *, via_mailbox: bool
                  ) -> None:
        self._next_token += 1
        token = self._next_token
        for child in group:
            child.pending_token = token
        delay_ns = int(delay_s * 1e9)
        owner = self.incarnation
        handle = self.self_handle
        for child in group:
            self.ctx.emit(
                ChildRestartScheduled(
                    supervisor=self._slot.path,
                    child_id=child.path,
                    delay_ns=delay_ns,
                    attempt=cause.tracker.attempt,
                    ts_init=self.clock.time_ns(),
                )
            )
        if delay_ns > 0:
            self._timers[token] = self.timers.call_later(
                delay_s, lambda: handle.tell(RestartDue(owner, token, delay_ns))
            )
        elif via_mailbox:
            handle.tell(RestartDue(owner, token, 0))
        else:
            self._restart_group(token, 0)

    def _restart_group(self, token: int, delay_ns: int) -> None:
        self._timers.pop(token, None)
        group = [
            c for c in self._children
            if c.pending_token == token and c.state is ChildState.DOWN
        ]
        started: list[Slot] = []
        for child in group:
            outcome = child.start(delay_ns=delay_ns)
            if outcome.ok:
                child.pending_token = None
                started.append(child)
                continue
            child.emit_failed(outcome.record.number, "on_start", outcome.error,
                              fatal=outcome.fatal)
            if outcome.fatal:
                self._escalate(f"fatal {type(outcome.error).__name__} starting {child.path}",
                               fatal=True)
            for done in reversed(started):
                if done.stop(final=False, reason=f"restart of {child.path} failed"):
                    self._escalate(f"fatal error while stopping {done.path}", fatal=True)
            self._count_restart(child)
            delay_s = self._next_delay(child, 0.0)
            self._schedule(group, child, delay_s, via_mailbox=True)
            return

    # -- watchdog ----------------------------------------------------------------------------

    def _arm_watchdog(self) -> None:
        deadlines = [c.heartbeat_s for c in self._children if c.heartbeat_s is not None]
        if not deadlines:
            return
        period = min(deadlines) / 2
        owner = self.incarnation
        handle = self.self_handle
        clock = self.clock
        timers = self.timers

        def tick() -> None:
            handle.tell(WatchdogTick(owner, clock.monotonic_ns()))
            if not self._stopping:
                self._watchdog = timers.call_later(period, tick)

        self._watchdog = timers.call_later(period, tick)

    def _on_watchdog(self, now_ns: int) -> None:
        """``now_ns`` is when the tick fired, not when it is handled: a supervisor that was
        busy handles several late ticks at once, and judging each by its own firing time
        against the handler's start time never declares a healthy child hung."""
        for child in self._children:
            heartbeat = child.heartbeat_s
            record = child.current
            if heartbeat is None or child.state is not ChildState.RUNNING or record is None:
                continue
            actor = record.actor
            if actor is None or actor._current is None:
                continue
            if now_ns - actor._since_ns >= int(heartbeat * 1e9):
                self._on_hung(child, record, now_ns)

    def _on_hung(self, child: Slot, record: Incarnation, now_ns: int) -> None:
        first, in_flight = record.retire(take_in_flight=True)
        if not first:
            return
        record.handled = True
        child.current = None
        child.state = ChildState.DOWN
        error = ChildHungError(
            f"{child.path}#{record.number}: a handler ran longer than the "
            f"{child.heartbeat_s}s heartbeat deadline; incarnation fenced and abandoned"
        )
        log.error("%s", error)
        if in_flight is not None:
            child.fail_in_flight(in_flight, error, f"hung: exceeded {child.heartbeat_s}s")
        child.emit_failed(record.number, "hung", error)
        uptime_s = (now_ns - record.started_ns) / 1e9
        self._after_exit(child, abnormal=True, uptime_s=uptime_s, now_ns=now_ns)

    # -- escalation --------------------------------------------------------------------------

    def _escalate(self, reason: str, *, fatal: bool = False) -> None:
        log.error("%s escalates: %s", self._slot.path, reason)
        self.ctx.emit(
            SupervisorEscalated(
                supervisor=self._slot.path, reason=reason, ts_init=self.clock.time_ns()
            )
        )
        self._shutdown_children(final=False, reason=f"escalation: {reason}")
        raise Escalation(reason, fatal=fatal)
