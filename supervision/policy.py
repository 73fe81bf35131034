"""Pure supervision policy: restart types, strategies, intensity, back-off, failure plans.

Nothing here touches threads or clocks; the supervisor actor feeds it timestamps and child
states and executes the plans it returns, and the unit tests drive it directly.

Semantics follow Erlang/OTP ``supervisor`` (restart types, strategies, intensity/period counted
per supervisor over all its children) and Akka's ``restartWithBackoff`` (exponential back-off with
jitter, reset after a stable run).
"""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Sequence

import attrs


class Restart(enum.Enum):
    """When a child is restarted (OTP restart types)."""

    PERMANENT = "permanent"
    """Always restarted, even after a normal exit."""
    TRANSIENT = "transient"
    """Restarted only after an abnormal exit (a crash, a hang, a failed on_stop)."""
    TEMPORARY = "temporary"
    """Never restarted, also not when a sibling's failure terminates it."""


class Strategy(enum.Enum):
    """Which siblings are restarted together with a failed child (OTP strategies)."""

    ONE_FOR_ONE = "one_for_one"
    REST_FOR_ONE = "rest_for_one"
    ONE_FOR_ALL = "one_for_all"


class Overflow(enum.Enum):
    """What a bounded mailbox does when it is full."""

    BLOCK = "block"
    """Back-pressure: the sender blocks up to the block timeout, then gets `MailboxFullError`."""
    LATEST_WINS = "latest_wins"
    """A queued tell with the same key is replaced in place; when full, the oldest tell is
    dropped (dead letter)."""
    DROP_NEWEST = "drop_newest"
    """When full, the new message is refused: a tell becomes a dead letter, an ask fails."""


class ChildState(enum.Enum):
    RUNNING = "running"
    DOWN = "down"
    """Not running, due to be (re)started."""
    REMOVED = "removed"
    """Permanently stopped under the current supervisor incarnation."""


@attrs.frozen(kw_only=True)
class Backoff:
    """Exponential back-off with jitter (Akka ``restartWithBackoff``).

    ``delay(n) = min(max_s, min_s * 2**(n-1)) * (1 + U(0, random_factor))`` for the n-th
    consecutive restart. The count resets when the failed incarnation had run for at least
    ``reset_after_s`` (default ``(min_s + max_s) / 2``). ``max_restarts`` consecutive restarts at
    most; one more failure escalates to the supervisor's parent.
    """

    min_s: float = 0.5
    max_s: float = 30.0
    random_factor: float = 0.2
    reset_after_s: float | None = None
    max_restarts: int | None = None

    def __attrs_post_init__(self) -> None:
        if not 0 < self.min_s <= self.max_s:
            raise ValueError(f"back-off needs 0 < min_s <= max_s, got {self.min_s}, {self.max_s}")
        if self.random_factor < 0:
            raise ValueError("random_factor must be >= 0")
        if self.max_restarts is not None and self.max_restarts < 0:
            raise ValueError("max_restarts must be >= 0")

    @property
    def reset_after(self) -> float:
        if self.reset_after_s is not None:
            return self.reset_after_s
        return (self.min_s + self.max_s) / 2

    def base_delay_s(self, attempt: int) -> float:
        """The delay before jitter for the ``attempt``-th consecutive restart (1-based)."""
        if attempt < 1:
            raise ValueError("attempt is 1-based")
        exponent = min(attempt - 1, 62)
        return float(min(self.max_s, self.min_s * 2**exponent))

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        return self.base_delay_s(attempt) * (1.0 + rng.random() * self.random_factor)


class BackoffTracker:
    """The consecutive-restart count of one child."""

    __slots__ = ("attempt", "backoff")

    def __init__(self, backoff: Backoff | None) -> None:
        self.backoff = backoff
        self.attempt = 0

    def reset(self) -> None:
        self.attempt = 0

    def next_delay_s(self, uptime_s: float, rng: random.Random) -> float | None:
        """Delay before the next restart, or None when ``max_restarts`` is exhausted.

        ``uptime_s`` is how long the failed incarnation ran (0 for a failed start).
        """
        backoff = self.backoff
        if backoff is None:
            return 0.0
        if uptime_s >= backoff.reset_after:
            self.attempt = 0
        self.attempt += 1
        if backoff.max_restarts is not None and self.attempt > backoff.max_restarts:
            return None
        return backoff.delay_s(self.attempt, rng)


class IntensityWindow:
    """OTP restart intensity: more than ``intensity`` restarts within ``period_s`` → escalate.

    One window per supervisor incarnation, over all its children. A restart is recorded at
    ``now``; restarts older than ``now - period`` are forgotten (OTP keeps ``R >= Now - Period``).
    """

    def __init__(self, intensity: int, period_s: float) -> None:
        if intensity < 0 or period_s <= 0:
            raise ValueError("intensity must be >= 0 and period > 0")
        self.intensity = intensity
        self.period_ns = int(period_s * 1e9)
        self._restarts: deque[int] = deque()

    def record(self, now_ns: int) -> bool:
        """Record a restart; False means the limit is exceeded and the supervisor must escalate."""
        restarts = self._restarts
        restarts.append(now_ns)
        threshold = now_ns - self.period_ns
        while restarts and restarts[0] < threshold:
            restarts.popleft()
        return len(restarts) <= self.intensity

    def __len__(self) -> int:
        return len(self._restarts)


@attrs.frozen(kw_only=True)
class ChildStatus:
    id: str
    restart: Restart
    state: ChildState


@attrs.frozen(kw_only=True)
class FailurePlan:
    """What a supervisor does about one child exit.

    ``restart`` False: nothing is restarted and nothing counts toward intensity.
    ``stop``: running siblings to stop, in stop order (reverse start order).
    ``start``: children to start again, in start order (includes the failed child).
    ``remove``: children that end for good (temporary ones, a transient one after a normal exit).
    """

    restart: bool
    stop: tuple[str, ...] = ()
    start: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


def should_restart(restart: Restart, abnormal: bool) -> bool:
    if restart is Restart.PERMANENT:
        return True
    if restart is Restart.TRANSIENT:
        return abnormal
    return False


def plan_exit(
    strategy: Strategy,
    children: Sequence[ChildStatus],
    exited: str,
    *,
    abnormal: bool,
) -> FailurePlan:
    """Decide what happens when child ``exited`` stopped on its own (crash, hang or normal exit).

    ``children`` are in start order; the exited child's own state is ignored (it is down).
    """
    index = next((i for i, c in enumerate(children) if c.id == exited), None)
    if index is None:
        raise KeyError(f"unknown child {exited!r}")
    failed = children[index]
    if not should_restart(failed.restart, abnormal):
        return FailurePlan(restart=False, remove=(exited,))
    if strategy is Strategy.ONE_FOR_ONE:
        affected = [failed]
    elif strategy is Strategy.REST_FOR_ONE:
        affected = list(children[index:])
    else:
        affected = list(children)
    stop: list[str] = []
    start: list[str] = []
    remove: list[str] = []
    for child in affected:
        if child.id == exited:
            start.append(child.id)
            continue
        if child.state is ChildState.REMOVED:
            continue
        if child.state is ChildState.RUNNING:
            stop.append(child.id)
        if child.restart is Restart.TEMPORARY:
            remove.append(child.id)
        else:
            start.append(child.id)
    return FailurePlan(
        restart=True, stop=tuple(reversed(stop)), start=tuple(start), remove=tuple(remove)
    )
