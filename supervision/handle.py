"""Stable handles: what peers hold instead of a pykka ``ActorRef``.

A `Handle` belongs to a child slot, not to an incarnation. ``tell``/``ask`` put the message in
the slot's persistent mailbox, so they reach whichever incarnation is current; while the child
is restarting (or backing off) messages wait there, in order, and the next incarnation
receives them first. Once the child is permanently stopped, tells become dead letters and asks
raise `ChildStoppedError`.

A handle sits just above the mailbox, below the spec and the slot: of the slot that owns it, it
reads only its path and its incarnation count (`Owner`), so it does not import `supervision.slot`.
"""

from __future__ import annotations

from typing import Any, Protocol

import pykka
from pykka._envelope import Envelope

from supervision.mailbox import Mailbox


class Owner(Protocol):
    """What a handle reads of the slot it belongs to (a `supervision.slot.Slot`); a structural
    type so the handle module stays below the slot module."""

    @property
    def path(self) -> str: ...

    @property
    def incarnation(self) -> int:
        """The number of the latest incarnation started (0 before the first start)."""
        ...


class Handle:
    """A stable address for one supervised child."""

    __slots__ = ("_mailbox", "_put", "_slot", "child_id")

    def __init__(self, slot: Owner, mailbox: Mailbox) -> None:
        self.child_id = slot.path
        self._slot = slot
        self._mailbox = mailbox
        self._put = mailbox.put

    def __repr__(self) -> str:
        return f"Handle({self.child_id!r}, incarnation={self.incarnation})"

    def tell(self, message: Any) -> None:
        """Fire and forget. Blocks only when a BLOCK mailbox is full (back-pressure); raises
        `MailboxFullError` if it stays full for the child's ``block_timeout``."""
        self._put(Envelope(message))

    __call__ = tell
    """A handle is also an event sink: ``events=handle``."""

    def ask_future(self, message: Any) -> pykka.Future[Any]:
        future: pykka.Future[Any] = pykka.ThreadingFuture()
        self._put(Envelope(message, reply_to=future))
        return future

    def ask(self, message: Any, timeout: float | None = None) -> Any:
        """Send and wait for the answer; raises what the handler raised, `pykka.Timeout`,
        `ChildStoppedError` (permanently stopped) or `ChildHungError`."""
        return self.ask_future(message).get(timeout=timeout)

    @property
    def incarnation(self) -> int:
        """The number of the latest incarnation started (1-based; 0 before the first start)."""
        return self._slot.incarnation

    def is_alive(self) -> bool:
        """False once the child is permanently stopped; True while running or restarting."""
        return not self._mailbox.closed

    def is_serving(self) -> bool:
        """True while an incarnation is attached to the mailbox (not restarting)."""
        return self._mailbox.attached

    def pending(self) -> int:
        """Messages queued and not yet taken by an incarnation."""
        return len(self._mailbox)
