"""How the venue's word ends an order (docs/order-lifecycle.md, "What the venue's status means").

* ``filled`` → FILLED, but only through fills: the tracker waits for the fills the venue
  reported (`expect_terminal`), querying them when they do not come;
* ``canceled``, any ``…Canceled``, ``scheduledCancel`` → CANCELLED with that status as reason,
  once the fills the venue reported for it are booked (bounded wait);
* ``rejected`` / any ``…Rejected`` → FAILED with that status as reason — unless the order has
  fills, which a FAILED order never has: then CANCELLED with that reason. A rejected
  *replacement* (a modify's new leg) may have fills on the legs it replaced that the stream
  lost, so before failing such an order the tracker asks for its fills (`rejected`).

An answer that leaves the order's fate unclear ends nothing: the order is UNKNOWN and the
venue is asked (`uncertain`).
"""

from __future__ import annotations

from decimal import Decimal

from actors.order_tracking.lifecycle import Trigger
from actors.order_tracking.records import Awaiting, OrderRecord
from actors.order_tracking.stage import Change
from messages.enums import OrderState

S = OrderState


def uncertain(change: Change, record: OrderRecord, now: int, reason: str) -> None:
    """The order's fate is unclear: UNKNOWN, and ask the venue now (then every re-query)."""
    cfg = change.config
    change.fire(record, Trigger.UNCERTAIN, now,
                changes={"deadline_ns": now + cfg.ns(cfg.unknown_requery_s)},
                extra={"reason": reason})
    change.request_status((record.client_order_id,), now, reason)


def expect_terminal(
    change: Change,
    record: OrderRecord,
    target: OrderState,
    expected_filled: Decimal,
    reason: str,
    now: int,
    ts_event: int | None = None,
    *,
    query_now: bool = False,
) -> None:
    """The venue says the order ended with ``expected_filled`` filled: finish it now if those
    fills are booked, else wait for them (``fill_wait_s``, then fill queries). ``query_now``:
    the fills are probably lost (the news came from a query, not the stream): ask at once."""
    if record.state.is_terminal:
        return
    expected = min(expected_filled, record.amount)
    if target is S.FILLED:
        expected = record.amount
    if record.filled >= expected:
        finish(change, record, target, reason, now, ts_event)
        return
    current = record.awaiting
    if current is not None and (current.target, current.expected_filled, current.reason) == (
        target, expected, reason
    ):
        return  # already waiting for exactly this
    cfg = change.config
    change.update(record, now,
                  awaiting=Awaiting(target=target, expected_filled=expected, reason=reason,
                                    attempts=1 if query_now else 0),
                  deadline_ns=now + cfg.ns(cfg.fill_wait_s))
    if query_now:
        change.request_fills(now, f"venue reports {reason}; fills missing",
                             change.fills_from_ms((record,)))


def finish(
    change: Change, record: OrderRecord, target: OrderState, reason: str, now: int,
    ts_event: int | None = None,
) -> None:
    if target is S.CANCELLED:
        change.fire(record, Trigger.CANCELLED, now, ts_event=ts_event, extra={"reason": reason})
    elif target is S.FAILED:
        if record.filled > 0:
            change.fire(record, Trigger.CANCELLED, now, ts_event=ts_event,
                        extra={"reason": reason})
        else:
            change.fire(record, Trigger.REJECT, now, ts_event=ts_event, extra={"reason": reason})
    elif target is S.FILLED:
        # Only a fill completes an order; a FILLED target with every fill booked is already
        # FILLED (see fills.book_fill), so there is nothing to do here.
        return
    else:
        raise AssertionError(f"unexpected terminal target {target}")


def rejected(
    change: Change, record: OrderRecord, reason: str, now: int,
    ts_event: int | None = None,
) -> None:
    """The order's latest leg was rejected (``reason`` is the venue's status string)."""
    if record.state.is_terminal:
        return
    if record.filled > 0 or not record.replaced_oids:
        # With fills it was live: CANCELLED. A first leg that was rejected never rested.
        finish(change, record, S.FAILED, reason, now, ts_event)
        return
    if record.awaiting is not None and record.awaiting.verify_ns is not None:
        return  # already asking
    # A rejected replacement: the legs it replaced may have fills the stream lost. Only the
    # venue's fills, asked for now, can say whether this order may be FAILED.
    cfg = change.config
    since = change.fills_from_ms((record,))
    change.update(record, now,
                  awaiting=Awaiting(target=S.FAILED, expected_filled=Decimal(0), reason=reason,
                                    attempts=1, verify_ns=now, from_ms=since),
                  deadline_ns=now + cfg.ns(cfg.fill_wait_s))
    change.request_fills(now, "rejected replacement: are there fills?", since)
