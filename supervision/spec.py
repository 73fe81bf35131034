"""Child specs, supervisor specs and the context every incarnation is built with.

This module sits below `supervision.slot` and `supervision.actor`, which both read it, so it
names what it needs of them structurally: a factory builds a `ChildActor` (what the slot and the
supervisor read of a `SupervisedActor`), and a context carries its incarnation record as a
`Binding` (what the actor's constructor attaches to). Below it: fence, policy, mailbox, handle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Protocol

import attrs
from pykka._envelope import Envelope

from clock import Clock, Timers
from supervision.fence import Fence
from supervision.handle import Handle
from supervision.mailbox import InboxView
from supervision.policy import Backoff, Overflow, Restart, Strategy

EventSink = Callable[[object], None]
"""Where supervision events go: any callable taking one event (a `Handle` is one)."""


class ChildActor(Protocol):
    """What the supervision records read of a built incarnation: in practice a
    `supervision.actor.SupervisedActor` (the only class that binds itself to a context).

    The slot starts its thread and, when the incarnation is retired, takes its in-flight message,
    marks it stopped and banks its processed count; the supervisor's watchdog samples the
    in-flight message and when it began. Read-only here; the actor's own loop writes them.
    """

    @property
    def actor_stopped(self) -> threading.Event:
        """pykka's flag; the slot sets it when the incarnation is retired."""
        ...

    @property
    def _processed(self) -> int: ...

    @property
    def _current(self) -> Envelope[Any] | None: ...

    @property
    def _since_ns(self) -> int: ...

    def _take_in_flight(self) -> Envelope[Any] | None: ...

    def _start_actor_loop(self) -> None: ...


class Binding(Protocol):
    """What a `ChildContext` carries of its incarnation record (a `supervision.slot.Incarnation`):
    the actor built with the context attaches itself to it and takes its inbox view."""

    actor: ChildActor | None

    @property
    def view(self) -> InboxView: ...


Factory = Callable[["ChildContext"], ChildActor]
"""Builds one incarnation from its context: a `SupervisedActor` subclass, or a function
returning one."""

KeyFunction = Callable[[Any], Hashable | None]


def _check_id(_instance: object, _attribute: object, value: str) -> None:
    if not value or "/" in value:
        raise ValueError(f"child id must be non-empty and contain no '/': {value!r}")


def _check_positive_or_none(_instance: object, attribute: Any, value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be > 0 or None, got {value!r}")


@attrs.frozen(kw_only=True)
class ChildSpec:
    """How to build, restart and feed one worker child.

    * ``factory(ctx)`` constructs a new incarnation (a `SupervisedActor` built with ``ctx``).
    * ``restart``: permanent / transient / temporary (OTP).
    * ``shutdown_timeout``: seconds a graceful stop may take; then the incarnation is abandoned
      (fenced; its daemon thread is left to finish on its own). None waits forever.
    * ``start_timeout``: seconds ``on_started`` may take; then it counts as a failed start.
    * ``backoff``: delay restarts exponentially (children that talk to the exchange).
    * ``mailbox_limit`` / ``overflow`` / ``block_timeout`` / ``key``: the bounded mailbox.
      ``key`` (LATEST_WINS only) maps a message to its conflation key (e.g. the trading pair),
      or None for messages that must never be conflated.
    * ``heartbeat``: deadline in seconds for one handler call; a handler running longer is
      declared hung, its incarnation is fenced and abandoned, and the child is restarted.
    """

    id: str = attrs.field(validator=_check_id)
    factory: Factory
    restart: Restart = Restart.PERMANENT
    shutdown_timeout: float | None = attrs.field(default=5.0, validator=_check_positive_or_none)
    start_timeout: float | None = attrs.field(default=10.0, validator=_check_positive_or_none)
    backoff: Backoff | None = None
    mailbox_limit: int | None = 100_000
    overflow: Overflow = Overflow.BLOCK
    block_timeout: float = 5.0
    key: KeyFunction | None = None
    heartbeat: float | None = attrs.field(default=None, validator=_check_positive_or_none)

    def __attrs_post_init__(self) -> None:
        if self.mailbox_limit is not None and self.mailbox_limit < 1:
            raise ValueError("mailbox_limit must be >= 1 or None")
        if self.overflow is Overflow.LATEST_WINS and self.key is None:
            raise ValueError(f"child {self.id!r}: LATEST_WINS needs a key function")
        if self.key is not None and self.overflow is not Overflow.LATEST_WINS:
            raise ValueError(f"child {self.id!r}: a key function only applies to LATEST_WINS")


def _children(
    value: Iterable[ChildSpec | SupervisorSpec],
) -> tuple[ChildSpec | SupervisorSpec, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class SupervisorSpec:
    """A (sub-)supervisor: its strategy, restart intensity and children, started in order.

    More than ``intensity`` restarts within ``period`` seconds (counted over all children) make
    it stop its children in reverse order and fail to its parent (escalation). At the root,
    escalation calls the tree's ``on_escalate``.
    """

    id: str = attrs.field(validator=_check_id)
    strategy: Strategy = Strategy.ONE_FOR_ONE
    intensity: int = 3
    period: float = 60.0
    children: tuple[ChildSpec | SupervisorSpec, ...] = attrs.field(
        default=(), converter=_children
    )
    restart: Restart = Restart.PERMANENT
    shutdown_timeout: float | None = attrs.field(default=None, validator=_check_positive_or_none)
    start_timeout: float | None = attrs.field(default=None, validator=_check_positive_or_none)
    backoff: Backoff | None = None

    def __attrs_post_init__(self) -> None:
        if self.intensity < 0 or self.period <= 0:
            raise ValueError("intensity must be >= 0 and period > 0")
        seen: set[str] = set()
        for child in self.children:
            if child.id in seen:
                raise ValueError(f"supervisor {self.id!r}: duplicate child id {child.id!r}")
            seen.add(child.id)


AnySpec = ChildSpec | SupervisorSpec


@attrs.frozen(kw_only=True)
class ChildContext:
    """Everything an incarnation is built with; passed to ``ChildSpec.factory``.

    ``child_id`` is the child's path in the tree (``"strategies/mm"``); ``incarnation`` counts
    starts from 1; ``fence`` guards side effects; ``self_handle`` is the child's own stable
    handle (safe to capture in timer callbacks: it reaches whichever incarnation is current);
    ``lookup(path)`` returns the stable handle of any child in the tree.
    """

    child_id: str
    incarnation: int
    fence: Fence
    clock: Clock
    timers: Timers
    events: EventSink | None
    self_handle: Handle
    lookup: Callable[[str], Handle]
    binding: Binding = attrs.field(repr=False, eq=False)
    """Internal: the supervision record of this incarnation."""

    def emit(self, event: object) -> None:
        """Send an observability event to the tree's sink (no-op without one)."""
        if self.events is not None:
            self.events(event)
