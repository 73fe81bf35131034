"""`SupervisedActor`: the pykka actor every runtime actor subclasses.

Subclasses implement ``handle(message) -> Any`` (the answer goes back to ``ask`` callers) and may
override ``on_started()`` / ``on_stopping()``. pykka's own hooks (``on_start``, ``on_stop``,
``on_failure``, ``on_receive``) are owned by this class; overriding them raises ``TypeError``.

The message loop is ours (it replaces pykka's ``_actor_loop``; pykka still provides the thread,
the ``ActorRef``, futures and envelopes). It closes pykka's gaps:

* every exit is reported to the supervisor: a handler exception on **tell and ask** alike
  (the asker receives the exception; the message becomes a poison dead letter and is not
  retried), a failure in ``on_started`` (the supervisor is waiting for it), a failure in
  ``on_stopping``, a normal exit (``self.stop()``), and a ``BaseException`` (fatal: see below);
* the dying incarnation detaches from the mailbox before anything else, so queued messages and
  messages sent during the restart wait, in order, for the next incarnation;
* the fence is advanced as soon as an incarnation dies, so it cannot write afterwards;
* pykka's ``ActorRegistry`` is not used: incarnations are not registered, so
  ``ActorRegistry.stop_all()`` does not reach them (an out-of-band stop would fight the
  supervisor). Stop the tree with ``SupervisionTree.stop()``.

BaseException policy: a ``BaseException`` that is not an ``Exception`` (SystemExit,
KeyboardInterrupt, GeneratorExit, ...) raised inside an actor is *fatal*. The incarnation dies,
its supervisor escalates at once without restarting, every level above does the same, and the
root stops the whole tree in reverse order and calls ``on_escalate``. Unlike pykka, other actors
in the process are not touched and nothing stops silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar, Self, cast

import pykka
from pykka._envelope import Envelope
from pykka.messages import _ActorStop

from clock import Clock, Timers
from supervision.errors import Escalation, InjectedCrash
from supervision.fence import Fence
from supervision.handle import Handle
from supervision.mailbox import Control
from supervision.slot import DownNotice, Incarnation
from supervision.spec import ChildContext

log = logging.getLogger(__name__)

_OWNED_HOOKS = ("on_start", "on_stop", "on_failure", "on_receive", "_actor_loop")


class SupervisedActor(pykka.ThreadingActor):
    """Base class of supervised actors; built by a `ChildSpec` factory with a `ChildContext`."""

    use_daemon_thread: ClassVar[bool] = True
    """Daemon threads: an abandoned (hung) incarnation must never keep the process alive."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _OWNED_HOOKS:
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} overrides {name}(); supervised actors implement handle(), "
                    "on_started() and on_stopping() instead"
                )

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> pykka.ActorRef[Self]:
        raise TypeError(
            f"{cls.__name__} is started by its supervisor: put a ChildSpec in a SupervisorSpec"
        )

    def __init__(self, ctx: ChildContext) -> None:
        super().__init__()
        # The context carries its record as spec's narrow `Binding` (spec sits below the slot
        # module); Slot.start is the only place a ChildContext is built, always with an
        # `Incarnation`, so this narrows it back (no run-time check: cast is a no-op).
        binding = cast(Incarnation, ctx.binding)
        if binding.actor is not None:
            raise RuntimeError(f"{ctx.child_id}: a ChildContext builds exactly one incarnation")
        binding.actor = self
        self.ctx = ctx
        self._binding = binding
        # Our inbox is the incarnation's view of the slot's persistent mailbox; the ActorRef
        # built by pykka's __init__ captured the placeholder queue, so repoint it too.
        self.actor_inbox = binding.view
        self.actor_ref.actor_inbox = binding.view
        self._current: Envelope[Any] | None = None
        self._since_ns = 0
        self._processed = 0

    # -- conveniences ------------------------------------------------------------------------

    @property
    def child_id(self) -> str:
        return self.ctx.child_id

    @property
    def incarnation(self) -> int:
        return self.ctx.incarnation

    @property
    def fence(self) -> Fence:
        return self.ctx.fence

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def timers(self) -> Timers:
        return self.ctx.timers

    @property
    def self_handle(self) -> Handle:
        return self.ctx.self_handle

    def tell_later(self, delay_s: float, build: Callable[[], object]) -> None:
        """Tell this actor ``build()`` after ``delay_s`` seconds, on the timer thread. The
        message is built when the timer fires (so it can carry that moment's clock reading),
        and a timer set by an incarnation that has since been replaced stays silent: its
        successor sets its own timers, and a stale one must not start a second chain."""
        fence, me = self.fence, self.self_handle

        def fire() -> None:
            if fence.is_current:
                me.tell(build())

        self.timers.call_later(delay_s, fire)

    # -- what subclasses implement -----------------------------------------------------------

    def handle(self, message: Any) -> Any:
        """Handle one message; the return value answers an ``ask``. Exceptions crash the
        incarnation (and are returned to an asker)."""
        raise TypeError(f"{type(self).__name__} does not handle {type(message).__name__}")

    def on_started(self) -> None:
        """Runs in the actor's thread before any message (recovery goes here). A failure is a
        failed start: it counts toward restart intensity and the start is retried."""

    def on_stopping(self) -> None:
        """Runs in the actor's thread when it stops (also, best effort, after a crash, with the
        fence already invalid). Release resources here."""

    def stop(self) -> None:
        """Exit normally once the current message is done (not behind the queue, unlike
        pykka). Messages still queued stay in the mailbox: a permanent child's next
        incarnation receives them; a transient or temporary child's are dead-lettered."""
        self._binding.view.send_control(Control(Control.EXIT))

    def _before_exit(self) -> None:
        """Internal hook: runs after ``on_stopping`` on every exit (supervisors stop children)."""

    # -- the loop ----------------------------------------------------------------------------

    def _actor_loop(self) -> None:
        record = self._binding
        try:
            self._live(record)
        except BaseException:
            log.critical("%s: supervision loop failed", self.child_id, exc_info=True)
            raise
        finally:
            record.done.set()
            record.wake.set()
            if record.view.retired:
                # The incarnation is over and its crash logged: break the cycles that tie it
                # to its actor (record <-> actor, error -> traceback -> frames -> actor), so
                # its state is freed now, not at the next full garbage collection (an order
                # tracker's 20,000 orders outlived each restart and the soak's RSS ratcheted).
                record.actor = None
                for error in (record.exit_error, record.start_error):
                    if error is not None:
                        error.__traceback__ = None

    def _live(self, record: Incarnation) -> None:
        try:
            self.on_started()
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the supervisor
            self._crashed(record, "on_start", exc, None)
            return
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to the supervisor
            self._crashed(record, "on_start", exc, None, fatal=True)
            return
        if not record.mark_started():
            log.warning("%s#%d finished on_started after it was abandoned",
                        self.child_id, record.number)
            return
        self._serve(record)

    def _serve(self, record: Incarnation) -> None:
        view = record.view
        get = view.get
        handle = self.handle
        # Only children with a heartbeat pay for a clock read per message (for the watchdog).
        watched = record.slot.heartbeat_s is not None
        monotonic_ns = self.clock.monotonic_ns
        while True:
            envelope = get()
            message = envelope.message
            kind = message.__class__
            if kind is Control:
                if self._control(record, envelope, message):
                    return
                continue
            if kind is _ActorStop:
                self._exit(record, envelope)
                return
            if watched:
                self._since_ns = monotonic_ns()
            self._current = envelope
            try:
                result = handle(message)
            except Exception as exc:  # noqa: BLE001 - every failure is reported to the supervisor
                self._crashed(record, "handler", exc, envelope)
                return
            except BaseException as exc:  # noqa: BLE001 - every failure is reported to the supervisor
                self._crashed(record, "handler", exc, envelope, fatal=True)
                return
            self._processed += 1
            reply = envelope.reply_to
            if reply is None:
                self._current = None
            else:
                mine = record.slot.mailbox.claim_reply(view)
                self._current = None
                if not mine:
                    return
                reply.set(result)

    def _take_in_flight(self) -> Envelope[Any] | None:
        """Called under the mailbox lock by a supervisor abandoning this incarnation."""
        return self._current

    def _control(self, record: Incarnation, envelope: Envelope[Any], control: Control) -> bool:
        if control.kind == Control.RETIRED:
            log.warning("%s#%d: abandoned incarnation leaves its loop", self.child_id,
                        record.number)
            return True
        if control.kind == Control.EXIT:
            self._exit(record, envelope)
            return True
        if control.kind == Control.CRASH:
            try:
                raise InjectedCrash(f"{self.child_id}#{record.number}: crash injected")
            except InjectedCrash as exc:
                self._crashed(record, "handler", exc, None)
            return True
        # STOP from the supervisor: queued messages stay for the next incarnation.
        record.exit_phase = "shutdown"
        try:
            self.on_stopping()
        except Exception as exc:
            log.error("%s#%d: on_stopping failed", self.child_id, record.number, exc_info=exc)
            record.stop_error = exc
        except BaseException as exc:
            log.critical("%s#%d: %r in on_stopping", self.child_id, record.number, exc,
                         exc_info=exc)
            record.stop_error = exc
            record.fatal = True
        self._safe_before_exit()
        record.retire()
        return True

    def _exit(self, record: Incarnation, envelope: Envelope[Any]) -> None:
        """The actor asked to stop (``self.stop()``, or pykka's ``_ActorStop`` sent through an
        ``ActorRef``): a normal exit unless on_stopping fails."""
        self._since_ns = self.clock.monotonic_ns()
        self._current = envelope
        error: BaseException | None = None
        fatal = False
        try:
            self.on_stopping()
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the supervisor
            error = exc
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to the supervisor
            error = exc
            fatal = True
        self._current = None
        first, _ = record.retire()
        if not first:
            return
        self._safe_before_exit()
        if envelope.reply_to is not None:
            envelope.reply_to.set(None)
        if error is not None:
            log.error("%s#%d: on_stopping failed", self.child_id, record.number, exc_info=error)
            self._report(record, "on_stop", error, abnormal=True, fatal=fatal)
        else:
            self._report(record, "normal", None, abnormal=False, fatal=False)

    def _crashed(
        self,
        record: Incarnation,
        phase: str,
        error: BaseException,
        envelope: Envelope[Any] | None,
        *,
        fatal: bool = False,
    ) -> None:
        starting = phase == "on_start"
        escalation = isinstance(error, Escalation)
        if escalation:
            assert isinstance(error, Escalation)
            phase = "escalated"
            fatal = error.fatal
            log.error("%s#%d escalates: %s", self.child_id, record.number, error.reason)
        elif fatal:
            log.critical("%s#%d: %r in %s: fatal, the tree stops", self.child_id,
                         record.number, error, phase, exc_info=error)
        else:
            log.error("%s#%d crashed in %s", self.child_id, record.number, phase, exc_info=error)
        if starting:
            record.start_error = error
            record.fatal = fatal
        first, _ = record.retire()
        if not first:
            log.warning("%s#%d: crashed after it was abandoned", self.child_id, record.number)
            return
        record.exit_phase = phase
        record.exit_error = error
        record.fatal = fatal
        if envelope is not None:
            reason = f"poison: {type(error).__name__}: {error}"
            record.slot.fail_in_flight(envelope, error, reason)
        self._current = None
        if not escalation:
            try:
                self.on_stopping()
            except BaseException as exc:
                log.error("%s#%d: on_stopping after a crash failed", self.child_id,
                          record.number, exc_info=exc)
        self._safe_before_exit()
        if starting:
            record.started.set()
            return
        self._report(record, phase, error, abnormal=True, fatal=fatal)

    def _safe_before_exit(self) -> None:
        try:
            self._before_exit()
        except BaseException:
            log.critical("%s: cleanup of the subtree failed", self.child_id, exc_info=True)

    def _report(
        self,
        record: Incarnation,
        phase: str,
        error: BaseException | None,
        *,
        abnormal: bool,
        fatal: bool,
    ) -> None:
        notify = record.slot.notify_down
        if notify is None:
            log.error("%s#%d ended (%s) with nobody to tell", self.child_id, record.number, phase)
            return
        reason = phase if error is None else f"{phase}: {type(error).__name__}: {error}"
        notify(
            DownNotice(
                record=record,
                phase=phase,
                error=error,
                abnormal=abnormal,
                fatal=fatal,
                reason=reason,
            )
        )
