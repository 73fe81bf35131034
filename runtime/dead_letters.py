"""A strategy command that died in an actor comes back to its sender as a rejection.

The supervision library reports a message an actor raised on (poison), hung on or could not
queue as a `DeadLetter` event and goes on; it knows nothing of trading. The runtime does: a
strategy that sent such a command would otherwise wait forever (a phantom PENDING_CREATE order,
a modify that never answers). So the launcher passes every dead letter to `CommandBouncer`:

* a dead ``SubmitOrder`` becomes an ``OrderDenied`` told to the order tracker, whatever actor
  died on it: the tracker records the order FAILED (only if it is not already past
  PENDING_CREATE), publishes it and the strategy hears ``OrderFailed`` with the reason;
* a dead ``OrderDenied`` (the tracker died on the submit and again on its denial, or on
  execution's own denial) becomes a ``CommandRejected`` told to the strategy, which drops the
  order from its view. A command therefore costs at most two crashes of the tracker: never a
  loop, since nothing a strategy receives is bounced again;
* a dead ``CancelOrder``, ``CancelAll`` or ``ModifyOrder`` becomes a ``CommandRejected`` told to
  the strategy that sent it (``strategies/<strategy_id>``).

Reasons name the actor and the error (``execution failed on this SubmitOrder: poison:
InvalidOperation: ...``). Dead letters of an orderly stop (``child stopped``, abandoned at
shutdown) are not bounced: nobody is left to hear them.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence

from actors import paths
from messages.commands import CancelAll, CancelOrder, ModifyOrder, SubmitOrder
from messages.ids import ClientOrderId
from messages.supervision import DeadLetter
from messages.tracking import CommandRejected, OrderDenied
from supervision.handle import Handle
from supervision.observe import DeadLetterRecord

log = logging.getLogger(__name__)

BOUNCED_REASONS = ("poison", "hung", "mailbox full", "overflow")
"""Dead-letter reasons that lose a live command (the others are the tail of a stop)."""
_BOUNCED_TYPES = frozenset({"SubmitOrder", "OrderDenied", "CancelOrder", "CancelAll",
                            "ModifyOrder"})


class CommandBouncer:
    """Turns dead-lettered strategy commands into the rejection their sender hears."""

    def __init__(
        self,
        *,
        lookup: Callable[[str], Handle],
        records: Callable[[], Sequence[DeadLetterRecord]],
        now_ns: Callable[[], int],
        strategy_path: Callable[[str], str | None],
        tracker: str = paths.ORDER_TRACKER,
        memory: int = 10_000,
    ) -> None:
        self._lookup = lookup
        self._records = records
        self._now_ns = now_ns
        self._strategy_path = strategy_path
        self._tracker = tracker
        self._memory = memory
        self._denied: OrderedDict[ClientOrderId, None] = OrderedDict()
        """Submits already turned into an OrderDenied (each is bounced once)."""
        self.bounced = 0

    def __call__(self, event: DeadLetter) -> None:
        if event.message_type not in _BOUNCED_TYPES or not event.reason.startswith(
            BOUNCED_REASONS
        ):
            return
        message = self._message_of(event)
        if message is None:
            log.warning("dead %s for %s: the message is no longer in the dead-letter log; its "
                        "sender is not told", event.message_type, event.target)
            return
        reason = f"{event.target} failed on this {event.message_type}: {event.reason}"
        if isinstance(message, SubmitOrder):
            self._deny(message, reason)
        elif isinstance(message, OrderDenied):
            order = message.order
            self._reject("SubmitOrder", order.client_order_id, order.strategy_id,
                         f"{reason} (denying it: {message.reason})")
        elif isinstance(message, CancelOrder | ModifyOrder):
            self._reject(type(message).__name__, message.client_order_id, message.strategy_id,
                         reason)
        elif isinstance(message, CancelAll):
            self._reject("CancelAll", None, message.strategy_id or "", reason)

    def _message_of(self, event: DeadLetter) -> object | None:
        """The dead message itself: the event carries only its repr (it is published), the
        tree's log keeps the object. The log is appended just before the event is emitted, on
        the same thread, so the match is near the end."""
        for record in reversed(self._records()):
            if (record.ts_init == event.ts_init and record.child_id == event.target
                    and record.reason == event.reason
                    and type(record.message).__name__ == event.message_type):
                message: object = record.message
                return message
        return None

    def _deny(self, order: SubmitOrder, reason: str) -> None:
        cloid = order.client_order_id
        if cloid in self._denied:
            return
        self._denied[cloid] = None
        while len(self._denied) > self._memory:
            self._denied.popitem(last=False)
        self.bounced += 1
        log.error("order %s of %r lost in an actor; telling the tracker it is denied: %s",
                  cloid, order.strategy_id, reason)
        self._lookup(self._tracker).tell(
            OrderDenied(order=order, reason=reason, ts_init=self._now_ns()))

    def _reject(self, command: str, cloid: ClientOrderId | None, strategy_id: str,
                reason: str) -> None:
        path = self._strategy_path(strategy_id) if strategy_id else None
        if path is None:
            log.error("%s %s (no strategy to tell) lost in an actor: %s", command, cloid or "",
                      reason)
            return
        try:
            owner = self._lookup(path)
        except KeyError:
            log.error("%s %s of unknown strategy %r lost in an actor: %s", command,
                      cloid or "", strategy_id, reason)
            return
        self.bounced += 1
        log.error("%s %s of %r lost in an actor; rejecting it to the strategy: %s", command,
                  cloid or "", strategy_id, reason)
        owner.tell(CommandRejected(command=command, client_order_id=cloid,
                                   strategy_id=strategy_id, reason=reason,
                                   ts_init=self._now_ns()))
