"""Errors raised by the supervision layer.

Every error says what happened to which child; none of them carries message contents beyond a
type name, so nothing sensitive can leak through an error string.
"""

from __future__ import annotations

import pykka


class SupervisionError(Exception):
    """Base class of the supervision layer's own errors."""


class FencedError(SupervisionError):
    """A side effect was attempted by an incarnation that has been replaced (a zombie)."""


class ChildStoppedError(pykka.ActorDeadError):
    """The child is permanently stopped: no incarnation will ever answer this message.

    A subclass of ``pykka.ActorDeadError`` so code written against plain pykka still catches it.
    """


class ChildHungError(SupervisionError):
    """The message was in flight when the watchdog declared its incarnation hung."""


class MailboxFullError(SupervisionError):
    """A bounded mailbox refused the message (back-pressure timed out, or drop-newest)."""


class InjectedCrash(SupervisionError):  # noqa: N818 - it is a deliberate crash, not an error class
    """Raised inside a child's thread by ``SupervisionTree.crash`` (chaos testing)."""


class TreeStartError(SupervisionError):
    """The tree (or a sub-supervisor) could not start one of its children."""


class JournalError(SupervisionError):
    """Base class of journal errors."""


class JournalLockedError(JournalError):
    """Another writer holds the journal directory."""


class JournalCorruptError(JournalError):
    """The journal cannot be recovered without losing records that a snapshot does not cover."""


class Escalation(SupervisionError):  # noqa: N818 - a control-flow signal, not an error class
    """Raised by a supervisor's handler to die and hand the failure to its parent."""

    def __init__(self, reason: str, *, fatal: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal
