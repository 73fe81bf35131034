"""Child slots and incarnation records: the state a supervisor keeps per child.

A `Slot` is static: it is created when the tree is built and lives as long as the tree. It owns
the child's mailbox, stable handle, fence authority and counters. An `Incarnation` is one
running instance of the child (one pykka actor, one thread). `Slot.start` and `Slot.stop` are
the only places incarnations are created and retired; both block the calling supervisor, with
deadlines driven by the injected `Timers` (so a `ManualClock` test decides when they expire).

The slot sits below `supervision.actor`: it reads an incarnation's actor only through
`supervision.spec.ChildActor` (the actor module imports this one for `Incarnation` and
`DownNotice`), and it hands out its handle, which knows it only as a `supervision.handle.Owner`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import attrs
from pykka._envelope import Envelope

from messages.supervision import (
    ChildFailed,
    ChildRestarted,
    ChildStarted,
    ChildStopped,
    DeadLetter,
)
from supervision.errors import ChildHungError
from supervision.fence import Fence, FenceAuthority
from supervision.handle import Handle
from supervision.mailbox import Control, InboxView, Internal, Mailbox
from supervision.observe import ChildCounters, DeadLetterRecord, TreeEnv
from supervision.policy import BackoffTracker, ChildState, Restart
from supervision.spec import AnySpec, ChildActor, ChildContext, ChildSpec, Factory

log = logging.getLogger(__name__)

_REPR_LIMIT = 200


@attrs.frozen(kw_only=True)
class DownNotice:
    """An incarnation reporting its own end to its supervisor (crash or self-exit)."""

    record: Incarnation
    phase: str
    """handler | on_stop | escalated | normal"""
    error: BaseException | None
    abnormal: bool
    fatal: bool
    reason: str


class ChildDown(Internal):
    __slots__ = ("notice",)

    def __init__(self, notice: DownNotice) -> None:
        self.notice = notice


class Incarnation:
    """One incarnation of a child: its view, fence, actor and lifecycle flags."""

    def __init__(self, slot: Slot, number: int, view: InboxView, fence: Fence, now_ns: int):
        self.slot = slot
        self.number = number
        self.view = view
        self.fence = fence
        self.actor: ChildActor | None = None
        self.started_ns = now_ns
        self.started = threading.Event()
        self.start_ok = False
        self.start_error: BaseException | None = None
        self.done = threading.Event()
        self.wake = threading.Event()
        self.handled = False
        self.final_stop = False
        self.stop_error: BaseException | None = None
        self.exit_phase: str | None = None
        self.exit_error: BaseException | None = None
        self.fatal = False
        self.is_restart = False
        self.handed_over = 0
        self.delay_ns = 0

    def __repr__(self) -> str:
        return f"<Incarnation {self.slot.path}#{self.number}>"

    def mark_started(self) -> bool:
        """Called by the incarnation after on_started; False if it was abandoned meanwhile."""
        mailbox = self.slot.mailbox
        with mailbox._lock:
            if self.view.retired:
                return False
            self.start_ok = True
        # Counted and announced here, before the first message is served, so counters and
        # events never lag behind what the incarnation does.
        self.slot.count_start(restart=self.is_restart, handed_over=self.handed_over)
        self.slot.emit_started(self)
        self.started.set()
        return True

    def retire(self, *, take_in_flight: bool = False) -> tuple[bool, Envelope[Any] | None]:
        """Detach from the mailbox and fence this incarnation off. Idempotent.

        Returns (first, in_flight): only the first caller (the dying incarnation itself, or a
        supervisor abandoning it) does the death bookkeeping. With ``take_in_flight`` the
        message the incarnation was handling is returned (read under the mailbox lock).
        """
        actor = self.actor
        reader = None
        if take_in_flight and actor is not None:
            reader = actor._take_in_flight
        first, in_flight = self.slot.mailbox.detach(self.view, reader)
        if not first:
            return False, None
        self.slot.authority.advance()
        if actor is not None:
            actor.actor_stopped.set()
            self.slot._retired_processed(actor._processed)
        return True, in_flight

    def expire_start(self) -> None:
        self.started.set()


@attrs.frozen(kw_only=True)
class StartOutcome:
    ok: bool
    record: Incarnation
    handed_over: int = 0
    error: BaseException | None = None
    fatal: bool = False


class Slot:
    """A child position in the tree; see the module docstring."""

    def __init__(
        self,
        spec: AnySpec,
        *,
        path: str,
        env: TreeEnv,
        parent: Slot | None,
    ) -> None:
        self.spec = spec
        self.id = spec.id
        self.path = path
        self.env = env
        self.parent = parent
        self.children: list[Slot] = []
        self.is_supervisor = not isinstance(spec, ChildSpec)
        if isinstance(spec, ChildSpec):
            self.mailbox = Mailbox(
                path,
                limit=spec.mailbox_limit,
                overflow=spec.overflow,
                block_timeout_s=spec.block_timeout,
                key=spec.key,
                on_dead_letter=self.dead_letter,
            )
            self.heartbeat_s: float | None = spec.heartbeat
        else:
            self.mailbox = Mailbox(path, on_dead_letter=self.dead_letter)
            self.heartbeat_s = None
        self.restart: Restart = spec.restart
        self.shutdown_timeout_s = spec.shutdown_timeout
        self.start_timeout_s = spec.start_timeout
        self.handle = Handle(self, self.mailbox)
        self.authority = FenceAuthority(path)
        self.factory: Factory | None = None
        self.notify_down: Callable[[DownNotice], None] | None = None
        self.state = ChildState.DOWN
        self.current: Incarnation | None = None
        self.incarnation = 0
        self.tracker = BackoffTracker(spec.backoff)
        self.pending_token: int | None = None
        self._lock = threading.Lock()
        self._starts = 0
        self._restarts = 0
        self._failures = 0
        self._dead_letters = 0
        self._processed_base = 0
        self._handed_over = 0

    def __repr__(self) -> str:
        return f"<Slot {self.path} {self.state.value} #{self.incarnation}>"

    # -- counters ----------------------------------------------------------------------------

    def counters(self) -> ChildCounters:
        current = self.current
        live = 0
        if current is not None and current.actor is not None and not current.view.retired:
            live = current.actor._processed
        with self._lock:
            return ChildCounters(
                starts=self._starts,
                restarts=self._restarts,
                failures=self._failures,
                dead_letters=self._dead_letters,
                processed=self._processed_base + live,
                handed_over=self._handed_over,
                conflated=self.mailbox.conflated,
            )

    def _retired_processed(self, count: int) -> None:
        with self._lock:
            self._processed_base += count

    def count_start(self, *, restart: bool, handed_over: int) -> None:
        with self._lock:
            self._starts += 1
            self._handed_over += handed_over
            if restart:
                self._restarts += 1

    def count_failure(self) -> None:
        with self._lock:
            self._failures += 1

    # -- events ------------------------------------------------------------------------------

    @property
    def supervisor_path(self) -> str:
        return self.parent.path if self.parent is not None else ""

    def emit_failed(self, incarnation: int, phase: str, error: BaseException | None,
                    *, fatal: bool = False) -> None:
        self.count_failure()
        self.env.emit(
            ChildFailed(
                supervisor=self.supervisor_path,
                child_id=self.path,
                incarnation=incarnation,
                phase=phase,
                error_type=type(error).__name__ if error is not None else "",
                error_message=str(error) if error is not None else "",
                fatal=fatal,
                ts_init=self.env.clock.time_ns(),
            )
        )

    def emit_started(self, record: Incarnation) -> None:
        now = self.env.clock.time_ns()
        if record.is_restart:
            self.env.emit(
                ChildRestarted(
                    supervisor=self.supervisor_path,
                    child_id=self.path,
                    incarnation=record.number,
                    delay_ns=record.delay_ns,
                    handed_over=record.handed_over,
                    ts_init=now,
                )
            )
        else:
            self.env.emit(
                ChildStarted(
                    supervisor=self.supervisor_path,
                    child_id=self.path,
                    incarnation=record.number,
                    ts_init=now,
                )
            )

    def emit_stopped(self, incarnation: int, reason: str) -> None:
        self.env.emit(
            ChildStopped(
                supervisor=self.supervisor_path,
                child_id=self.path,
                incarnation=incarnation,
                reason=reason,
                ts_init=self.env.clock.time_ns(),
            )
        )

    def dead_letter(self, message: Any, reason: str) -> None:
        """Record a message that will never be handled (mailbox callback; any thread)."""
        with self._lock:
            self._dead_letters += 1
            total = self._dead_letters
        now = self.env.clock.time_ns()
        # Every dead letter is an event and a counter; the log gets the first few and then one
        # line per thousand, so an overflow storm cannot flood it.
        if total <= 10 or total % 1000 == 0:
            # Messages still arriving for a child stopped for good are the normal tail of an
            # orderly shutdown (ticks, market data): counted and emitted, logged quietly.
            level = logging.INFO if reason == "child stopped" else logging.WARNING
            log.log(level, "dead letter #%d for %s: %s (%s)", total, self.path,
                    type(message).__name__, reason)
        self.env.record_dead_letter(
            DeadLetterRecord(
                child_id=self.path,
                incarnation=self.incarnation,
                message=message,
                reason=reason,
                ts_init=now,
            )
        )
        text = repr(message)
        if len(text) > _REPR_LIMIT:
            text = text[: _REPR_LIMIT - 3] + "..."
        self.env.emit(
            DeadLetter(
                target=self.path,
                message_type=type(message).__name__,
                reason=reason,
                incarnation=self.incarnation,
                message_repr=text,
                ts_init=now,
            )
        )

    def fail_in_flight(self, envelope: Envelope[Any], error: BaseException, reason: str) -> None:
        """The message an incarnation died on (poison) or hung on: dead letter; fail its ask."""
        if isinstance(envelope.message, Internal):
            return
        self.dead_letter(envelope.message, reason)
        if envelope.reply_to is not None:
            try:
                envelope.reply_to.set_exception(exc_info=(type(error), error, error.__traceback__))
            except Exception:
                log.exception("%s: could not fail the ask of an in-flight message", self.path)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, *, delay_ns: int = 0) -> StartOutcome:
        """Build and start a new incarnation; block until its ``on_started`` returned.

        Runs in the supervisor's thread (or the caller's thread for the root). ``delay_ns`` is
        the back-off waited before this start (reported in ChildRestarted).
        """
        env = self.env
        self.incarnation += 1
        number = self.incarnation
        fence = self.authority.issue()
        if self.mailbox.closed:
            self.mailbox.reopen()
        view = self.mailbox.new_view()
        record = Incarnation(self, number, view, fence, env.clock.monotonic_ns())
        ctx = ChildContext(
            child_id=self.path,
            incarnation=number,
            fence=fence,
            clock=env.clock,
            timers=env.timers,
            events=env.events,
            self_handle=self.handle,
            lookup=env.lookup,
            binding=record,
        )
        factory = self.factory
        assert factory is not None, f"{self.path}: slot has no factory"
        try:
            actor = factory(ctx)
            # Only SupervisedActor.__init__ sets ``record.actor`` (to itself, from this ctx), so
            # a bound record that is what the factory returned proves both "a SupervisedActor"
            # and "built with the context it was given", without this module importing the
            # actor module above it. The None test refuses a factory that built nothing and
            # returned None (identity alone would let None match the unbound record).
            if record.actor is None or record.actor is not actor:
                raise TypeError(
                    f"{self.path}: the factory must return a new SupervisedActor built with the "
                    f"context it was given, got {type(actor).__name__}"
                )
        except Exception as exc:
            log.error("%s: factory failed", self.path, exc_info=exc)
            record.retire()
            return StartOutcome(ok=False, record=record, error=exc)
        except BaseException as exc:
            log.critical("%s: factory raised %r", self.path, exc, exc_info=exc)
            record.retire()
            return StartOutcome(ok=False, record=record, error=exc, fatal=True)
        handed_over = self.mailbox.attach(view)
        record.is_restart = number > 1
        record.handed_over = handed_over
        record.delay_ns = delay_ns
        self.current = record
        self.state = ChildState.RUNNING
        try:
            actor._start_actor_loop()
        except Exception as exc:
            log.error("%s: could not start the actor thread", self.path, exc_info=exc)
            record.retire()
            self.current = None
            self.state = ChildState.DOWN
            return StartOutcome(ok=False, record=record, error=exc)
        timer = None
        if self.start_timeout_s is not None:
            timer = env.timers.call_later(self.start_timeout_s, record.expire_start)
        record.started.wait()
        if timer is not None:
            timer.cancel()
        if record.start_ok:
            return StartOutcome(ok=True, record=record, handed_over=handed_over)
        record.handled = True
        self.current = None
        self.state = ChildState.DOWN
        if record.start_error is None:
            first, _ = record.retire()
            if first:
                error: BaseException = ChildHungError(
                    f"{self.path}: on_started did not return within {self.start_timeout_s}s"
                )
                log.error("%s", error)
                return StartOutcome(ok=False, record=record, error=error)
        return StartOutcome(
            ok=False, record=record, error=record.start_error, fatal=record.fatal
        )

    def stop(self, *, final: bool, reason: str) -> bool:
        """Stop the current incarnation (priority stop, then wait up to the shutdown timeout).

        Queued messages stay in the mailbox for the next incarnation unless ``final``, in which
        case the slot is removed: its mailbox is closed and what remains is dead-lettered.
        Returns True if the incarnation ended with a fatal error (a BaseException).
        """
        record = self.current
        fatal = False
        if record is not None:
            record.handled = True
            record.final_stop = final
            record.view.send_control(Control(Control.STOP, final=final))
            timer = None
            if self.shutdown_timeout_s is not None and not record.done.is_set():
                timer = self.env.timers.call_later(self.shutdown_timeout_s, record.wake.set)
            record.wake.wait()
            if timer is not None:
                timer.cancel()
            if not record.done.is_set():
                first, in_flight = record.retire(take_in_flight=True)
                if first and in_flight is not None:
                    error = ChildHungError(f"{self.path}: abandoned at shutdown")
                    self.fail_in_flight(in_flight, error, "abandoned at shutdown (hung)")
                log.error(
                    "%s#%d did not stop within %ss: abandoned (fenced)",
                    self.path,
                    record.number,
                    self.shutdown_timeout_s,
                )
                self.emit_stopped(record.number, f"{reason}; shutdown timeout: abandoned")
            elif record.exit_phase is not None and record.exit_phase != "shutdown":
                self.emit_failed(
                    record.number, record.exit_phase, record.exit_error, fatal=record.fatal
                )
                self.emit_stopped(record.number, reason)
            else:
                if record.stop_error is not None:
                    self.emit_failed(
                        record.number, "on_stop", record.stop_error, fatal=record.fatal
                    )
                self.emit_stopped(record.number, reason)
            fatal = record.fatal
            self.current = None
            self.state = ChildState.DOWN
        if final:
            self.remove()
        return fatal

    def remove(self) -> None:
        """Stopped for good: close the mailbox (and those of the subtree) and refuse the rest."""
        self.state = ChildState.REMOVED
        self.pending_token = None
        drained = self.mailbox.close()
        self.mailbox.refuse_drained(drained)
        for child in self.children:
            if child.current is not None and not child.current.view.retired:
                log.error("%s: removing a slot whose child %s still runs", self.path, child.path)
            child.remove()

    def walk(self) -> list[Slot]:
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found
