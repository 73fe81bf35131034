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
    error_type: str
    error_message: str
    ts_init: int


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
