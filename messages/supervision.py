"""Supervision events: what supervisors did to their children."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class ChildStarted:
    supervisor: str
    child_id: str
    incarnation: int
    ts_init: int


@attrs.frozen(kw_only=True)
class ChildFailed:
    """A child died. ``phase`` says where: handler, on_start, on_stop or hung (watchdog)."""

    supervisor: str
    child_id: str
    incarnation: int
    phase: str
    """handler | on_start | on_stop | hung | escalated (a sub-supervisor gave up)."""
    error_type: str
    error_message: str
    ts_init: int
    fatal: bool = False
    """A BaseException (SystemExit, KeyboardInterrupt, ...): the whole tree stops."""


@attrs.frozen(kw_only=True)
class ChildRestarted:
    supervisor: str
    child_id: str
    incarnation: int
    delay_ns: int
    """Back-off waited before the restart."""
    handed_over: int
    """Messages carried over from the dead incarnation's mailbox and the restart stash."""
    ts_init: int


@attrs.frozen(kw_only=True)
class ChildRestartScheduled:
    """A restart was decided; it happens after ``delay_ns`` (0: at once)."""

    supervisor: str
    child_id: str
    delay_ns: int
    attempt: int
    """Consecutive restarts of this child (back-off attempt; 0 without back-off)."""
    ts_init: int


@attrs.frozen(kw_only=True)
class ChildStopped:
    supervisor: str
    child_id: str
    incarnation: int
    reason: str
    ts_init: int


@attrs.frozen(kw_only=True)
class SupervisorEscalated:
    """Restart intensity exceeded (or a child could not be started): the subtree stops."""

    supervisor: str
    reason: str
    ts_init: int


@attrs.frozen(kw_only=True)
class DeadLetter:
    """A message that could not be delivered or that crashed its receiver (poison)."""

    target: str
    message_type: str
    reason: str
    ts_init: int
    incarnation: int = 0
    """The target's latest incarnation when the message was given up."""
    message_repr: str = ""
    """``repr`` of the message, truncated to 200 characters."""
