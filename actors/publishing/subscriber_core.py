"""The subscriber's merge of live and replayed order events (no sockets; docs/events.md).

State: ``covered`` (C) — every order event with ``event_sequence <= C`` that matches the
subscriber's topics has been yielded (or was declared unfillable). The library subscribes to
*every* order topic on the PUB socket and filters locally, so live ``event_sequence`` numbers
are dense: a live event above C + 1 proves a gap. Live events wait in ``pending`` until the gap
below them is covered by a replay reply, which is authoritative for its range: it holds every
matching event with ``after < event_sequence <= through``. Heartbeats cover the quiet case: a
heartbeat's ``last_sequence`` above C is certain loss (the heartbeat follows the events on the
same pipe); a ``log_sequence`` above C for a whole heartbeat period is an event the publisher
never got (it is in the log only). A new publisher epoch triggers a catch-up to the log's end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import attrs


@attrs.define(kw_only=True, slots=True)
class ReceivedEvent:
    """One message the subscriber yields."""

    topic: str
    body: dict[str, Any]
    """The decoded body (order events: the seed body plus ``sequence``, ``epoch`` and, when
    replayed, ``"replayed": true``)."""
    sequence: int | None
    """``data.event_sequence`` of an order event; None for other topics (passed through live,
    with no guarantee)."""
    replayed: bool = False
    raw: bytes = b""
    """The body as received."""


@attrs.frozen(kw_only=True)
class Notice:
    """Something a consumer should know: ``kind`` is ``unfillable`` (events ``first..last``
    are lost for good), ``epoch`` (the publisher restarted), ``replay_unavailable``,
    ``log_behind`` or ``malformed``."""

    kind: str
    text: str
    first: int | None = None
    last: int | None = None


@attrs.define(kw_only=True)
class SubscriberStats:
    live: int = 0
    """Order events yielded as they arrived on PUB."""
    replayed: int = 0
    """Order events yielded from replay replies."""
    duplicates: int = 0
    """Order events dropped because they were already covered."""
    gaps_filled: int = 0
    """Losses detected (a jump, a heartbeat, a new epoch) and recovered by replay."""
    unfillable_gaps: int = 0
    unfillable_events: int = 0
    """Sequence numbers given up (matching or not: the log no longer holds them, or replay
    stayed unavailable)."""
    passed_through: int = 0
    heartbeats: int = 0
    epochs: int = 0
    replay_requests: int = 0
    replay_timeouts: int = 0


Item = tuple[ReceivedEvent, bool]
"""A live order event and whether it matches the subscriber's topics."""


class SubscriberCore:
    def __init__(self, *, after: int | None, replay: bool,
                 on_notice: Callable[[Notice], None]) -> None:
        if after is not None and after < 0:
            raise ValueError(f"after must be >= 0, got {after}")
        self.covered: int | None = after
        self.replay_configured = replay
        self.replay_offered = True
        """What the last heartbeat said (``"replay": true|false``)."""
        self.epoch: int | None = None
        self.stats = SubscriberStats()
        self.ready: deque[ReceivedEvent] = deque()
        self._notice = on_notice
        self._pending: dict[int, Item] = {}
        self._want = 0
        self._want_end = after is not None and replay  # the start-up catch-up (Clone pattern)
        self._evidence = False
        """The current fill was started by evidence of loss (not the start-up catch-up)."""
        self._recovered = 0
        """Sequence numbers the current fill covered that had not arrived live."""
        self._previous_log: int | None = None
        self._warned_behind = False

    # -- inputs ------------------------------------------------------------------------------

    def on_live(self, event: ReceivedEvent, wanted: bool, epoch: int | None) -> None:
        seq = event.sequence
        assert seq is not None
        self._see_epoch(epoch)
        covered = self.covered
        if covered is None:  # "from now": the first event anchors the subscriber
            covered = self.covered = seq - 1
        if seq <= covered:
            self.stats.duplicates += 1
            return
        if seq == covered + 1 and not self._pending:
            self.covered = seq
            if wanted:
                self.stats.live += 1
                self.ready.append(event)
            self._settle()
            return
        self._pending[seq] = (event, wanted)
        self._advance()
        if self._pending and not self._want_end:  # (held behind a catch-up: no evidence)
            self._evidence = True
        self._settle()

    def on_heartbeat(self, *, epoch: int | None, last_sequence: int,
                     log_sequence: int | None, replay: bool) -> None:
        self.stats.heartbeats += 1
        self._see_epoch(epoch)
        self.replay_offered = replay
        if self.covered is None:
            self.covered = last_sequence if last_sequence else (log_sequence or 0)
            self._drop_covered_pending()
            self._advance()
        covered = self.covered
        if last_sequence > covered:  # published before this heartbeat, never arrived
            self._need(last_sequence)
        previous = self._previous_log
        if previous is not None and previous > covered:  # logged a period ago, never published
            self._need(previous)
        self._previous_log = log_sequence
        if log_sequence is not None and log_sequence < covered and not self._warned_behind:
            self._warned_behind = True
            self._notice(Notice(kind="log_behind", text=(
                f"the publisher's event log ends at {log_sequence}, before this subscriber's "
                f"position {covered}: a different or reset log?")))
        self._settle()

    def on_reply(self, *, after: int, through: int, events: list[ReceivedEvent],
                 last_sequence: int) -> None:
        """An ``ok`` reply: every matching event in (after, through] is in ``events``."""
        if self._want_end:
            self._want_end = False
            self._want = max(self._want, last_sequence)
        covered = self.covered
        assert covered is not None
        live_seen = sum(1 for s in self._pending if s <= through)
        for event in events:
            seq = event.sequence
            assert seq is not None
            if seq <= self._covered():
                self.stats.duplicates += 1
                continue
            self._release_below(seq)
            if self._pending.pop(seq, None) is not None:
                self.stats.duplicates += 1  # the live copy
            self.covered = seq
            event.replayed = True
            self.stats.replayed += 1
            self.ready.append(event)
        self._release_below(through + 1)
        if through > self._covered():
            self.covered = through
        self._recovered += max(0, self._covered() - covered - live_seen)
        self._advance()
        self._settle()

    def on_not_retained(self, *, first_sequence: int, last_sequence: int) -> None:
        if self._want_end:
            self._want_end = False
            self._want = max(self._want, last_sequence)
        if first_sequence - 1 > self._covered():
            self._give_up_through(first_sequence - 1,
                                  f"the event log starts at {first_sequence} now")
        self._settle()

    def give_up(self, why: str) -> None:
        """Replay is unavailable: declare every gap known now unfillable (up to the newest
        event held) and deliver what is held."""
        target = max(self._want, max(self._pending, default=0) - 1)
        self._want_end = False
        if target > self._covered():
            self._give_up_through(target, why)
        self._want = 0
        self._settle()

    # -- what the socket layer asks ----------------------------------------------------------

    def replay_usable(self) -> bool:
        return self.replay_configured and self.replay_offered

    def needs_replay(self) -> bool:
        """A request ``after=covered`` is due."""
        if self.covered is None:
            return False
        return self._want_end or self._target() is not None

    # -- internals ---------------------------------------------------------------------------

    def _covered(self) -> int:
        covered = self.covered
        assert covered is not None
        return covered

    def _target(self) -> int | None:
        """How far the current fill must get (None: nothing missing)."""
        covered = self._covered()
        target = self._want if self._want > covered else None
        if self._pending:
            below = min(self._pending) - 1
            if below > covered:
                target = below if target is None else max(target, below)
        return target

    def _need(self, through: int) -> None:
        self._evidence = True
        self._want = max(self._want, through)

    def _see_epoch(self, epoch: int | None) -> None:
        if epoch is None or epoch == self.epoch:
            return
        previous, self.epoch = self.epoch, epoch
        self.stats.epochs += 1
        if previous is None:
            return
        self._notice(Notice(kind="epoch", text=f"publisher restarted (epoch {epoch})"))
        if self.replay_configured and self.covered is not None:
            self._want_end = True  # catch up on what the old incarnation may have lost
            self._evidence = True

    def _advance(self) -> None:
        pending = self._pending
        covered = self._covered()
        while covered + 1 in pending:
            covered += 1
            event, wanted = pending.pop(covered)
            if wanted:
                self.stats.live += 1
                self.ready.append(event)
        self.covered = covered

    def _drop_covered_pending(self) -> None:
        covered = self._covered()
        for seq in [s for s in self._pending if s <= covered]:
            del self._pending[seq]

    def _release_below(self, limit: int) -> None:
        """Yield pending live events below ``limit`` (a replay range proved nothing older is
        missing from them)."""
        for seq in sorted(s for s in self._pending if s < limit):
            event, wanted = self._pending.pop(seq)
            if seq <= self._covered():
                self.stats.duplicates += 1
                continue
            self.covered = seq
            if wanted:
                self.stats.live += 1
                self.ready.append(event)

    def _give_up_through(self, through: int, why: str) -> None:
        """Everything up to ``through`` not held in ``pending`` is lost: say so and move on."""
        start = self._covered() + 1
        held = sorted(s for s in self._pending if s <= through)
        holes: list[tuple[int, int]] = []
        for seq in [*held, through + 1]:
            if seq > start:
                holes.append((start, seq - 1))
            start = seq + 1
        for first, last in holes:
            self.stats.unfillable_gaps += 1
            self.stats.unfillable_events += last - first + 1
            self._notice(Notice(kind="unfillable", first=first, last=last, text=(
                f"events {first}..{last} are lost: {why}")))
        self._release_below(through + 1)
        self.covered = max(self._covered(), through)
        self._advance()

    def _settle(self) -> None:
        """After every input: give up at once when replay is off, and close a finished fill."""
        if self.covered is None:
            return
        if not self.replay_usable() and (self._want_end or self._target() is not None):
            self._want_end = False
            self.give_up("replay is off" if not self.replay_configured
                         else "the publisher serves no replay")
            return
        if not self._want_end and self._target() is None:
            if self._evidence and self._recovered:
                self.stats.gaps_filled += 1
            self._evidence = False
            self._recovered = 0
