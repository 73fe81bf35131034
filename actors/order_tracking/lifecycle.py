"""The order lifecycle: the one transition table (mirrored in docs/order-lifecycle.md).

A transition is ``(from_state, trigger) -> to_state`` and emits exactly one event class. Inputs
that match no row change nothing and emit nothing (duplicates, stale acks, evidence about a
terminal order). Self-loops (a further fill, a modify) are transitions too: they emit their one
event. ``RESTORE`` as a target means "the state the order had before the cancel was requested".
"""

from __future__ import annotations

import enum

from messages import orders
from messages.enums import OrderState

S = OrderState


class Trigger(enum.Enum):
    TRACK = "track"
    """A validated SubmitOrder is tracked and journaled before anything is signed."""
    DENY = "deny"
    """Refused before sending: by execution (risk, precision, unknown market) or by the
    tracker (the open-order cap)."""
    SEND = "send"
    """The signed request left the process."""
    ACCEPT = "accept"
    """The venue says the order rests on its book."""
    ACCEPT_PARTIAL = "accept_partial"
    """The venue says an order of unknown fate is live, and it already has fills."""
    FILL = "fill"
    """A new fill that leaves quantity open."""
    FILL_COMPLETE = "fill_complete"
    """A new fill that completes the order's amount."""
    LATE_FILL = "late_fill"
    """A fill for an order already terminal: booked and reported, state kept (a FILLED order
    gets one only for a leg a modify replaced, which also raises its amount)."""
    REQUEST_CANCEL = "request_cancel"
    """We are sending a cancel for a live (or possibly live) order."""
    CANCELLED = "cancelled"
    """The venue cancelled the order (our cancel, IOC remainder, margin, scheduled cancel…)."""
    CANCEL_REJECTED = "cancel_rejected"
    """The venue refused our cancel and the order is still live."""
    REJECT = "reject"
    """The venue rejected the order."""
    TIMEOUT = "timeout"
    """No answer before the deadline: the outcome is unknown, never a failure."""
    UNCERTAIN = "uncertain"
    """The answer was contradictory, or a crash left it unclear whether the order was sent."""
    NEVER_PLACED = "never_placed"
    """The venue does not know the order and its request can no longer execute."""
    MODIFIED = "modified"
    """The venue replaced the order (new exchange id, price and/or amount)."""
    MODIFY_REJECTED = "modify_rejected"
    ADOPT = "adopt"
    """A venue order we did not place is adopted as an external order."""


RESTORE = "RESTORE"

_LIVE = (S.SUBMITTED, S.OPEN, S.PARTIALLY_FILLED, S.UNKNOWN)
_NOT_TERMINAL = (S.PENDING_CREATE, S.SUBMITTED, S.OPEN, S.PARTIALLY_FILLED, S.PENDING_CANCEL,
                 S.UNKNOWN)

Target = OrderState | str
_ROWS: list[tuple[OrderState | None, Trigger, Target, type[orders.OrderEvent]]] = [
    (None, Trigger.TRACK, S.PENDING_CREATE, orders.OrderTracked),
    (None, Trigger.ADOPT, S.OPEN, orders.OrderAdopted),
    (S.PENDING_CREATE, Trigger.DENY, S.FAILED, orders.OrderFailed),
    (S.PENDING_CREATE, Trigger.SEND, S.SUBMITTED, orders.OrderSubmitted),
    (S.PENDING_CREATE, Trigger.UNCERTAIN, S.UNKNOWN, orders.OrderStatusUnknown),
    (S.SUBMITTED, Trigger.TIMEOUT, S.UNKNOWN, orders.OrderStatusUnknown),
    (S.SUBMITTED, Trigger.UNCERTAIN, S.UNKNOWN, orders.OrderStatusUnknown),
    (S.PENDING_CANCEL, Trigger.TIMEOUT, S.UNKNOWN, orders.OrderStatusUnknown),
    (S.PENDING_CANCEL, Trigger.UNCERTAIN, S.UNKNOWN, orders.OrderStatusUnknown),
    (S.OPEN, Trigger.UNCERTAIN, S.UNKNOWN, orders.OrderStatusUnknown),
    (S.PARTIALLY_FILLED, Trigger.UNCERTAIN, S.UNKNOWN, orders.OrderStatusUnknown),
    (S.PENDING_CANCEL, Trigger.CANCEL_REJECTED, RESTORE, orders.OrderCancelRejected),
    (S.UNKNOWN, Trigger.ACCEPT_PARTIAL, S.PARTIALLY_FILLED, orders.OrderAccepted),
    (S.PENDING_CANCEL, Trigger.FILL, S.PENDING_CANCEL, orders.OrderFilled),
    (S.OPEN, Trigger.MODIFIED, S.OPEN, orders.OrderModified),
    (S.PARTIALLY_FILLED, Trigger.MODIFIED, S.PARTIALLY_FILLED, orders.OrderModified),
    (S.PENDING_CANCEL, Trigger.MODIFIED, S.PENDING_CANCEL, orders.OrderModified),
    (S.OPEN, Trigger.MODIFY_REJECTED, S.OPEN, orders.OrderModifyRejected),
    (S.PARTIALLY_FILLED, Trigger.MODIFY_REJECTED, S.PARTIALLY_FILLED, orders.OrderModifyRejected),
    (S.CANCELLED, Trigger.LATE_FILL, S.CANCELLED, orders.OrderFilled),
    (S.FAILED, Trigger.LATE_FILL, S.FAILED, orders.OrderFilled),
    (S.FILLED, Trigger.LATE_FILL, S.FILLED, orders.OrderFilled),
]
for _state in (S.PENDING_CREATE, S.SUBMITTED, S.UNKNOWN):
    _ROWS.append((_state, Trigger.ACCEPT, S.OPEN, orders.OrderAccepted))
    _ROWS.append((_state, Trigger.NEVER_PLACED, S.FAILED, orders.OrderFailed))
# A cancel sent to an order the venue never had (never acknowledged, unknown to the venue past
# its expiry): it can no longer exist; without this an order whose cancels kept being refused
# ("never placed, …") stayed PENDING_CANCEL / UNKNOWN for good.
_ROWS.append((S.PENDING_CANCEL, Trigger.NEVER_PLACED, S.FAILED, orders.OrderFailed))
for _state in (S.PENDING_CREATE, S.SUBMITTED, S.UNKNOWN, S.OPEN, S.PENDING_CANCEL):
    # The venue's rejection is final even after an ack (it is no longer live); an order with
    # fills is never failed: a rejected replacement of one ends CANCELLED (evidence.py).
    _ROWS.append((_state, Trigger.REJECT, S.FAILED, orders.OrderFailed))
for _state in (S.PENDING_CREATE, S.SUBMITTED, S.OPEN, S.PARTIALLY_FILLED, S.UNKNOWN):
    _ROWS.append((_state, Trigger.FILL, S.PARTIALLY_FILLED, orders.OrderFilled))
for _state in _NOT_TERMINAL:
    _ROWS.append((_state, Trigger.FILL_COMPLETE, S.FILLED, orders.OrderFilled))
    if _state is not S.PENDING_CREATE:
        _ROWS.append((_state, Trigger.CANCELLED, S.CANCELLED, orders.OrderCancelled))
for _state in _LIVE:
    _ROWS.append((_state, Trigger.REQUEST_CANCEL, S.PENDING_CANCEL, orders.OrderPendingCancel))

TABLE: dict[tuple[OrderState | None, Trigger], tuple[Target, type[orders.OrderEvent]]] = {}
for _from, _trigger, _to, _event in _ROWS:
    key = (_from, _trigger)
    if key in TABLE:
        raise AssertionError(f"duplicate transition {key}")
    TABLE[key] = (_to, _event)

RESTORABLE = frozenset({S.SUBMITTED, S.OPEN, S.PARTIALLY_FILLED, S.UNKNOWN})
"""States a refused cancel can restore (the states from which a cancel is requested)."""


def transition(
    state: OrderState | None, trigger: Trigger, before_cancel: OrderState | None = None
) -> tuple[OrderState, type[orders.OrderEvent]] | None:
    """The target state and event class, or None if the trigger does nothing in ``state``."""
    row = TABLE.get((state, trigger))
    if row is None:
        return None
    target, event = row
    if target == RESTORE:
        if before_cancel not in RESTORABLE:
            raise ValueError(f"cannot restore to {before_cancel} after a refused cancel")
        assert before_cancel is not None
        return before_cancel, event
    assert isinstance(target, OrderState)
    return target, event


def rows() -> list[tuple[str, str, str, str]]:
    """The table as text rows (from, trigger, to, event), in table order; for docs and tests."""
    return [
        ("—" if f is None else f.value, t.value, to if isinstance(to, str) else to.value,
         e.__name__)
        for (f, t), (to, e) in TABLE.items()
    ]
