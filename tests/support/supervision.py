"""Test support: an event recorder to wait on, and a scripted worker whose failures are chosen
by the messages it receives (also handy for chaos runs of the runtime).

`ScriptedWorker` records everything in a `Ledger` that outlives incarnations, so a test can ask
"was every message processed exactly once, in order?" after any number of restarts.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from clock import ManualClock
from supervision.actor import SupervisedActor
from supervision.handle import Handle
from supervision.spec import ChildContext, SupervisorSpec
from supervision.tree import SupervisionTree

T = TypeVar("T")


class EventRecorder:
    """A thread-safe event sink (``events=recorder``) that tests can wait on."""

    def __init__(self) -> None:
        self._events: list[object] = []
        self._cond = threading.Condition()

    def __call__(self, event: object) -> None:
        with self._cond:
            self._events.append(event)
            self._cond.notify_all()

    def all(self) -> list[object]:
        with self._cond:
            return list(self._events)

    def of(self, kind: type[T], where: Callable[[T], bool] | None = None) -> list[T]:
        with self._cond:
            return [
                e for e in self._events
                if isinstance(e, kind) and (where is None or where(e))
            ]

    def wait_for(
        self,
        kind: type[T],
        where: Callable[[T], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[T]:
        """Wait until at least ``count`` matching events were recorded; returns them all."""
        def matching() -> list[T]:
            return [
                e for e in self._events
                if isinstance(e, kind) and (where is None or where(e))
            ]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout):
                raise AssertionError(
                    f"waited {timeout}s for {count} {kind.__name__} event(s); got "
                    f"{len(matching())}: {self._events[-10:]!r}"
                )
            return matching()



class Collector(SupervisedActor):
    """An actor that hands every message it is told to a sink (an `EventRecorder`): a peer
    whose inbox a test reads."""

    def __init__(self, ctx: ChildContext, sink: Callable[[object], None]) -> None:
        super().__init__(ctx)
        self.sink = sink

    def handle(self, message: Any) -> Any:
        self.sink(message)


class PoisonError(RuntimeError):
    """Raised by `ScriptedWorker` for a `Poison` message."""


class StartFailedError(RuntimeError):
    """Raised by `ScriptedWorker.on_started` when the ledger says so."""


class StopFailedError(RuntimeError):
    """Raised by `ScriptedWorker.on_stopping` when the ledger says so."""


@attrs.frozen(kw_only=True)
class Work:
    sender: str
    n: int


@attrs.frozen(kw_only=True)
class Poison:
    """Crashes the handler (``PoisonError``)."""

    tag: str = ""


@attrs.frozen(kw_only=True)
class Fatal:
    """Raises ``SystemExit`` in the handler (a fatal BaseException)."""


@attrs.frozen(kw_only=True)
class Exit:
    """The worker stops itself normally (``self.stop()``)."""


@attrs.frozen(kw_only=True)
class Ping:
    """Answered with ``(child_id, incarnation)``."""


@attrs.frozen(kw_only=True, eq=False)
class Hang:
    """Blocks the handler until ``release`` is set; ``entered`` is set on entry."""

    entered: threading.Event = attrs.field(factory=threading.Event)
    release: threading.Event = attrs.field(factory=threading.Event)


class Ledger:
    """What happened to scripted workers, across incarnations (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.processed: dict[str, list[Any]] = defaultdict(list)
        self.starts: dict[str, list[int]] = defaultdict(list)
        self.stops: dict[str, list[int]] = defaultdict(list)
        self.order: list[tuple[str, str, int]] = []
        """(event, child_id, incarnation) with event in started/stopping, in order."""
        self._fail_starts: dict[str, int] = defaultdict(int)
        self._fail_stops: dict[str, int] = defaultdict(int)

    def fail_next_starts(self, child_id: str, count: int = 1) -> None:
        with self._lock:
            self._fail_starts[child_id] += count

    def fail_next_stops(self, child_id: str, count: int = 1) -> None:
        with self._lock:
            self._fail_stops[child_id] += count

    def _take(self, table: dict[str, int], child_id: str) -> bool:
        with self._lock:
            if table[child_id] > 0:
                table[child_id] -= 1
                return True
            return False

    def on_started(self, child_id: str, incarnation: int) -> None:
        with self._lock:
            self.order.append(("started", child_id, incarnation))
        if self._take(self._fail_starts, child_id):
            raise StartFailedError(f"{child_id}#{incarnation}: start failure requested")
        with self._lock:
            self.starts[child_id].append(incarnation)

    def on_stopping(self, child_id: str, incarnation: int) -> None:
        with self._lock:
            self.order.append(("stopping", child_id, incarnation))
            self.stops[child_id].append(incarnation)
        if self._take(self._fail_stops, child_id):
            raise StopFailedError(f"{child_id}#{incarnation}: stop failure requested")

    def record(self, child_id: str, message: Any) -> None:
        with self._lock:
            self.processed[child_id].append(message)

    def processed_of(self, child_id: str) -> list[Any]:
        with self._lock:
            return list(self.processed[child_id])


class ScriptedWorker(SupervisedActor):
    """A worker whose behaviour is chosen by its messages (see the message classes above)."""

    def __init__(self, ctx: ChildContext, ledger: Ledger) -> None:
        super().__init__(ctx)
        self.ledger = ledger

    def on_started(self) -> None:
        self.ledger.on_started(self.child_id, self.incarnation)

    def on_stopping(self) -> None:
        self.ledger.on_stopping(self.child_id, self.incarnation)

    def handle(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return (self.child_id, self.incarnation)
        if isinstance(message, Poison):
            raise PoisonError(f"{self.child_id}#{self.incarnation}: poison {message.tag}")
        if isinstance(message, Fatal):
            raise SystemExit(3)
        if isinstance(message, Exit):
            self.stop()
            return None
        if isinstance(message, Hang):
            message.entered.set()
            message.release.wait()
            self.fence.check()
            return None
        self.ledger.record(self.child_id, message)
        return message


def scripted(ledger: Ledger) -> Callable[[ChildContext], ScriptedWorker]:
    """A ChildSpec factory for `ScriptedWorker`."""

    def factory(ctx: ChildContext) -> ScriptedWorker:
        return ScriptedWorker(ctx, ledger)

    return factory


class Harness:
    """A tree on a `ManualClock` with an event recorder and an escalation log, for tests."""

    def __init__(self, spec: SupervisorSpec, *, seed: int = 0, start: bool = True) -> None:
        self.clock = ManualClock()
        self.events = EventRecorder()
        self.escalations: list[str] = []
        self.tree: SupervisionTree = SupervisionTree(
            spec,
            clock=self.clock,
            timers=self.clock,
            events=self.events,
            on_escalate=self.escalations.append,
            rng=random.Random(seed),  # seeded jitter
        )
        if start:
            self.tree.start()

    def handle(self, path: str) -> Handle:
        return self.tree.handle(path)

    def ping(self, path: str, timeout: float = 10.0) -> int:
        """The incarnation serving ``path`` once everything sent before has been handled."""
        answer = self.tree.handle(path).ask(Ping(), timeout=timeout)
        assert isinstance(answer, tuple)
        return int(answer[1])

    def incarnations(self, *paths: str) -> dict[str, int]:
        return {path: self.ping(path) for path in paths}

    def close(self) -> None:
        self.tree.stop()
