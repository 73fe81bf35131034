"""Injected time: clocks and timers.

Nothing in the runtime reads the wall clock or sleeps directly; it is given a `Clock` (what time
is it) and a `Timers` service (call me later). Production uses `SystemClock` and
`ThreadTimers`; tests use `ManualClock`, whose timers fire only when the test advances time, so
back-off schedules and deadlines are tested deterministically without sleeping.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def time_ns(self) -> int:
        """Wall-clock time, nanoseconds since the Unix epoch (for ``ts_init``, nonces)."""
        ...

    def monotonic_ns(self) -> int:
        """Monotonic time in nanoseconds (for intervals, deadlines, latency)."""
        ...


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Timers(Protocol):
    def call_later(self, delay_s: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` once after ``delay_s`` seconds (on a timer thread in production).

        Callbacks must be cheap and must not block: the usual callback tells an actor a message.
        """
        ...


class SystemClock:
    def time_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


def _nothing() -> None:
    return None


class _ScheduledCall:
    __slots__ = ("callback", "cancelled", "due", "seq")

    def __init__(self, due: float, seq: int, callback: Callable[[], None]) -> None:
        self.due = due
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        # A cancelled call waits in the heap until its due time: it must not keep what its
        # callback holds alive until then (an incarnation's start timeout held the whole
        # incarnation, an order tracker's 20,000 orders, for 60 s after every restart).
        self.callback = _nothing

    def __lt__(self, other: _ScheduledCall) -> bool:
        return (self.due, self.seq) < (other.due, other.seq)


class ThreadTimers:
    """One daemon thread runs every scheduled callback in due order.

    A single thread (not one ``threading.Timer`` each) keeps hundreds of pending deadlines cheap.
    A callback that raises is reported through ``on_error`` and does not stop the thread.
    """

    def __init__(
        self,
        name: str = "perpetuum-timers",
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._heap: list[_ScheduledCall] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> TimerHandle:
        call = _ScheduledCall(time.monotonic() + max(0.0, delay_s), next(self._seq), callback)
        with self._cond:
            if self._stopped:
                raise RuntimeError("timers are stopped")
            heapq.heappush(self._heap, call)
            # Wake the thread only when its next deadline moved earlier: most calls (request
            # timeouts seconds ahead) land behind the head, and a wake-up would put the timer
            # thread on the CPU in the middle of the order path for nothing.
            if self._heap[0] is call:
                self._cond.notify()
        return call

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait = self._heap[0].due - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopped:
                    return
                call = heapq.heappop(self._heap)
            if call.cancelled:
                continue
            try:
                call.callback()
            except Exception as exc:
                if self._on_error is not None:
                    self._on_error(exc)
                else:
                    import logging

                    logging.getLogger(__name__).exception("timer callback failed")


class ManualClock:
    """A clock and timer service that only move when the test says so.

    ``advance(seconds)`` moves both clocks and runs, in due order, every callback that became
    due (callbacks scheduled by callbacks included, if they fall inside the window).
    """

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._wall_offset = start_ns
        self._mono = 0
        self._heap: list[_ScheduledCall] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()

    def time_ns(self) -> int:
        with self._lock:
            return self._wall_offset + self._mono

    def monotonic_ns(self) -> int:
        with self._lock:
            return self._mono

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> TimerHandle:
        with self._lock:
            due = self._mono + max(0, int(delay_s * 1e9))
            call = _ScheduledCall(due, next(self._seq), callback)
            heapq.heappush(self._heap, call)
            return call

    def pending(self) -> int:
        with self._lock:
            return sum(1 for c in self._heap if not c.cancelled)

    def next_due_s(self) -> float | None:
        """Seconds until the next pending callback, or None."""
        with self._lock:
            live = [c for c in self._heap if not c.cancelled]
            return None if not live else max(0.0, (min(live).due - self._mono) / 1e9)

    def advance(self, seconds: float) -> int:
        """Move time forward and run what became due; returns how many callbacks ran."""
        target = self._mono + int(seconds * 1e9)
        ran = 0
        while True:
            with self._lock:
                if not self._heap or self._heap[0].due > target:
                    self._mono = target
                    return ran
                call = heapq.heappop(self._heap)
                self._mono = max(self._mono, int(call.due))
            if not call.cancelled:
                call.callback()
                ran += 1
