"""`SupervisionTree`: the object a runtime holds for a started supervision tree."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from clock import Clock, SystemClock, ThreadTimers, Timers
from messages.supervision import SupervisorEscalated
from supervision.errors import TreeStartError
from supervision.handle import Handle
from supervision.mailbox import Control
from supervision.observe import ChildCounters, DeadLetterRecord, TreeEnv
from supervision.slot import ChildDown, DownNotice, Slot
from supervision.spec import AnySpec, EventSink, SupervisorSpec

log = logging.getLogger(__name__)


class SupervisionTree:
    """A tree of supervisors and workers with stable handles for every child.

    Paths name children below the root: ``"order_tracker"``, ``"strategies/mm"``. Every slot
    and handle exists from construction, before anything starts, so factories can capture
    peers' handles (or call ``ctx.lookup(path)``).
    """

    def __init__(
        self,
        spec: SupervisorSpec,
        *,
        clock: Clock | None = None,
        timers: Timers | None = None,
        events: EventSink | None = None,
        on_escalate: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._owned_timers: ThreadTimers | None = None
        if timers is None:
            self._owned_timers = ThreadTimers(name=f"{spec.id}-timers")
            timers = self._owned_timers
        self._env = TreeEnv(
            clock=clock if clock is not None else SystemClock(),
            timers=timers,
            events=events,
            rng=rng if rng is not None else random.Random(),  # noqa: S311 - jitter, not crypto
            lookup=self.handle,
        )
        self._on_escalate = on_escalate
        self._root = self._build(spec, spec.id, None)
        self._root.notify_down = self._root_down
        self._by_path = {slot.path: slot for slot in self._root.walk() if slot is not self._root}
        self._lock = threading.Lock()
        self._stop_lock = threading.Lock()
        self._terminated = threading.Event()
        self._started = False
        self._escalation_reason: str | None = None

    def _build(self, spec: AnySpec, path: str, parent: Slot | None) -> Slot:
        from supervision.supervisor import Supervisor

        slot = Slot(spec, path=path, env=self._env, parent=parent)
        if isinstance(spec, SupervisorSpec):
            for child_spec in spec.children:
                child_path = child_spec.id if parent is None else f"{path}/{child_spec.id}"
                slot.children.append(self._build(child_spec, child_path, slot))
            slot.factory = lambda ctx: Supervisor(ctx, slot)
        else:
            slot.factory = spec.factory
        if parent is not None:
            parent_handle = parent.handle

            def notify(notice: DownNotice) -> None:
                parent_handle.tell(ChildDown(notice))

            slot.notify_down = notify
        return slot

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SupervisionTree:
        """Start the root supervisor, which starts every child in order (blocking)."""
        if self._started:
            raise RuntimeError(f"tree {self._root.path} was already started")
        self._started = True
        outcome = self._root.start()
        if not outcome.ok:
            self._root.remove()
            self._terminated.set()
            self._stop_owned_timers()
            error = outcome.error
            raise TreeStartError(
                f"tree {self._root.path} did not start: {type(error).__name__}: {error}"
            ) from error
        return self

    def stop(self) -> None:
        """Stop every child in reverse start order (each within its shutdown timeout), then
        dead-letter what is left in their mailboxes. Idempotent; returns at once if the tree
        escalated (it is already down), so ``on_escalate`` may call it.

        Call it from outside the tree: an actor of the tree calling it would wait for its own
        stop until its shutdown timeout abandons it.
        """
        if self._escalation_reason is not None:
            return
        with self._stop_lock:
            if not self._terminated.is_set() and self._escalation_reason is None:
                self._root.stop(final=True, reason="tree stopped")
                with self._lock:
                    self._terminated.set()
            self._stop_owned_timers()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the tree has stopped or escalated; False on timeout."""
        return self._terminated.wait(timeout)

    def _stop_owned_timers(self) -> None:
        if self._owned_timers is not None:
            self._owned_timers.stop()

    def _root_down(self, notice: DownNotice) -> None:
        """The root supervisor died (escalation, fatal error, or a bug): the tree is over."""
        with self._lock:
            if self._terminated.is_set():
                return
            reason = notice.reason
            self._escalation_reason = reason
        if notice.phase != "escalated":
            self._env.emit(
                SupervisorEscalated(
                    supervisor=self._root.path, reason=reason, ts_init=self._env.clock.time_ns()
                )
            )
        log.critical("supervision tree %s escalated: %s", self._root.path, reason)
        self._root.remove()
        try:
            if self._on_escalate is not None:
                self._on_escalate(reason)
        except Exception:
            log.exception("on_escalate failed")
        finally:
            self._stop_owned_timers()
            self._terminated.set()

    # -- queries -----------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._root.path

    @property
    def terminated(self) -> bool:
        return self._terminated.is_set()

    @property
    def escalated(self) -> bool:
        return self._escalation_reason is not None

    @property
    def escalation_reason(self) -> str | None:
        return self._escalation_reason

    def paths(self) -> tuple[str, ...]:
        """Every child path, in start order (depth first)."""
        return tuple(self._by_path)

    def _slot(self, path: str) -> Slot:
        try:
            return self._by_path[path]
        except KeyError:
            raise KeyError(f"tree {self._root.path} has no child {path!r}") from None

    def handle(self, path: str) -> Handle:
        return self._slot(path).handle

    def counters(self, path: str) -> ChildCounters:
        return self._slot(path).counters()

    def all_counters(self) -> dict[str, ChildCounters]:
        return {path: slot.counters() for path, slot in self._by_path.items()}

    def incarnation(self, path: str) -> int:
        return self._slot(path).incarnation

    def dead_letter_log(self) -> tuple[DeadLetterRecord, ...]:
        """The most recent dead letters (up to 10,000), with the message objects."""
        return self._env.dead_letters()

    def crash(self, path: str) -> bool:
        """Make the child's current incarnation raise `InjectedCrash` inside its own thread,
        after the message it is handling (chaos testing). False if no incarnation is serving.
        """
        record = self._slot(path).current
        if record is None:
            return False
        return record.view.send_control(Control(Control.CRASH))

    inject_crash = crash
