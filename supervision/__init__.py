"""Supervision on pykka: supervisors, stable handles, fencing, the journal, injected time.

The semantics are documented in docs/supervision.md. Public API::

    from supervision import (
        Supervisor, SupervisorSpec, ChildSpec, ChildContext, SupervisedActor, SupervisionTree,
        Handle, Fence, Restart, Strategy, Overflow, Backoff, ChildCounters, ...
    )
    from supervision.journal import Journal, Durability, Recovery
"""

from supervision.actor import SupervisedActor
from supervision.errors import (
    ChildHungError,
    ChildStoppedError,
    FencedError,
    InjectedCrash,
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    MailboxFullError,
    SupervisionError,
    TreeStartError,
)
from supervision.fence import Fence, FenceAuthority
from supervision.handle import Handle
from supervision.observe import ChildCounters, DeadLetterRecord
from supervision.policy import Backoff, Overflow, Restart, Strategy
from supervision.spec import ChildContext, ChildSpec, EventSink, SupervisorSpec
from supervision.supervisor import Supervisor
from supervision.tree import SupervisionTree

__all__ = [
    "Backoff",
    "ChildContext",
    "ChildCounters",
    "ChildHungError",
    "ChildSpec",
    "ChildStoppedError",
    "DeadLetterRecord",
    "EventSink",
    "Fence",
    "FenceAuthority",
    "FencedError",
    "Handle",
    "InjectedCrash",
    "JournalCorruptError",
    "JournalError",
    "JournalLockedError",
    "MailboxFullError",
    "Overflow",
    "Restart",
    "Strategy",
    "SupervisedActor",
    "SupervisionError",
    "SupervisionTree",
    "Supervisor",
    "SupervisorSpec",
    "TreeStartError",
]
