"""Observability: per-child counters, dead-letter records, and the tree environment.

`TreeEnv` is what every slot of one tree shares: the injected clock and timers, the event sink
(supervision events are `messages.supervision` classes), the jitter source and the bounded log of
dead letters (with the message objects, for operators and tests).
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

from clock import Clock, Timers
from supervision.handle import Handle
from supervision.spec import EventSink

log = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class ChildCounters:
    """Per-child counters (a snapshot)."""

    starts: int
    """Successful starts, the first one included."""
    restarts: int
    """Successful starts after the first (whoever caused them: the child's own exit, a
    sibling's under rest_for_one/one_for_all, or a restart of its supervisor)."""
    failures: int
    """Abnormal exits: handler/on_start/on_stop crashes, hangs, escalations."""
    dead_letters: int
    processed: int
    """Messages handled to completion, over all incarnations."""
    handed_over: int
    """Messages waiting in the mailbox when an incarnation was attached, summed."""
    conflated: int
    """LATEST_WINS replacements."""


@attrs.frozen(kw_only=True)
class DeadLetterRecord:
    """A dead letter with the message object itself (kept in memory, never serialized)."""

    child_id: str
    incarnation: int
    message: Any
    reason: str
    ts_init: int


class TreeEnv:
    """What every slot of one tree shares: time, events, randomness, the dead-letter log."""

    def __init__(
        self,
        *,
        clock: Clock,
        timers: Timers,
        events: EventSink | None,
        rng: random.Random,
        lookup: Callable[[str], Handle],
        dead_letter_log_size: int = 10_000,
    ) -> None:
        self.clock = clock
        self.timers = timers
        self.events = events
        self.rng = rng
        self.lookup = lookup
        self._dead_letters: deque[DeadLetterRecord] = deque(maxlen=dead_letter_log_size)
        self._lock = threading.Lock()

    def emit(self, event: object) -> None:
        if self.events is None:
            return
        try:
            self.events(event)
        except Exception:
            log.exception("the supervision event sink failed on %s", type(event).__name__)

    def record_dead_letter(self, record: DeadLetterRecord) -> None:
        with self._lock:
            self._dead_letters.append(record)

    def dead_letters(self) -> tuple[DeadLetterRecord, ...]:
        with self._lock:
            return tuple(self._dead_letters)
