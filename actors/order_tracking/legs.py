"""Legs and modifies: an order is a chain of venue orders under one cloid.

A modify is cancel-and-replace at the venue (PROTOCOL §5.4–5.5): the live leg is cancelled
(status ``canceled``) and a replacement is placed under the same cloid with a new oid. Oids
only grow, so a smaller oid than the current leg's is an older leg: its status never decides
the order (its fills still count), and a larger one is a replacement the tracker had not heard
of yet (the modify went through). What makes the races converge:

* the venue's status by cloid (a query) is about the latest leg and is final when terminal: a
  modify or cancel still on its way addresses the cloid, and a dead cloid refuses both;
* a ``canceled`` of the current leg from the stream while a modify is pending may be the
  modify's own cancel of that leg: it is held until the modify is settled, and a held cancel is
  only ever settled by the venue's status (or a newer leg);
* a pending modify is settled by its answer, by a newer leg, by proof that it never executed
  (a definitive failure, its nonce spent on a noop, its expiry passed while the venue still
  shows the old leg) — never by a timeout alone: a lost answer makes the order UNKNOWN and the
  venue's status decides;
* a refused modify may have cancelled the old leg before its replacement was rejected: the
  venue's status says whether the order lives on.
"""

from __future__ import annotations

import attrs

from actors.order_tracking.config import TrackerConfig
from actors.order_tracking.lifecycle import Trigger
from actors.order_tracking.records import OrderRecord, PendingModify
from actors.order_tracking.stage import Change
from messages.enums import OrderState
from messages.ids import ExchangeOrderId
from messages.venue import OrderStatusReported

S = OrderState
OLD, CURRENT, NEW = "old", "current", "new"
MODIFY_DEAD_TEXT = "Cannot modify canceled or filled order"


def relation(record: OrderRecord, oid: ExchangeOrderId) -> str:
    """Is ``oid`` the order's current leg, an older one, or a newer one (a replacement)?"""
    current = record.exchange_order_id
    if current is None:
        replaced = record.replaced_oids
        if oid in replaced or (replaced and oid < max(replaced)):
            return OLD
        return NEW
    if oid == current:
        return CURRENT
    if oid < current or oid in record.replaced_oids:
        return OLD
    return NEW


def advance(
    change: Change,
    record: OrderRecord,
    oid: ExchangeOrderId,
    now: int,
    *,
    report: OrderStatusReported | None = None,
    live: bool = True,
) -> OrderRecord:
    """The venue has a leg ``oid`` newer than any the tracker knows: the first one, or the
    replacement a modify placed. ``live``: it rested (a rejected replacement did not)."""
    current = record.exchange_order_id
    if current is None and not record.replaced_oids:
        return change.update(record, now, exchange_order_id=oid)  # the order's first leg
    replaced = record.replaced_oids if current is None else (*record.replaced_oids, current)
    pm = record.pending_modify
    price, trigger = record.price, record.trigger_price
    if pm is not None:
        leg_size = pm.leg_size
        price = pm.price if pm.price is not None else price
        trigger = pm.trigger_price if pm.trigger_price is not None else trigger
    elif report is not None and report.original_amount is not None:
        leg_size = report.original_amount
    elif current is None and record.leg_size is not None:
        leg_size = record.leg_size  # the answer said "replaced" without the new oid
    else:
        leg_size = record.amount - record.filled_off(oid)
    if pm is None:
        if report is not None:
            price = report.price
        else:
            # A modify the tracker had given up on went through after all: learn its terms.
            change.request_status((record.client_order_id,), now, "unexpected new leg")
    changes: dict[str, object] = {
        "replaced_oids": replaced, "exchange_order_id": oid, "leg_size": leg_size,
        "amount": max(record.filled_off(oid) + leg_size, record.filled), "price": price,
        "trigger_price": trigger, "pending_modify": None, "deferred_cancel": None,
    }
    if record.state.is_terminal:
        # E.g. our cancel hit the replacement a modify had just placed: its late fills and
        # statuses are recognised as this order's.
        return change.update(record, now, **changes)
    if live and current is not None:  # (without a current leg the modify was reported)
        fired = change.fire(record, Trigger.MODIFIED, now, changes=changes,
                            extra={"previous_exchange_order_id": current})
        if fired is not None:
            return fired
    return change.update(record, now, **changes)


def replaced_without_id(change: Change, record: OrderRecord, now: int) -> None:
    """The venue accepted the modify but did not say the new oid (a single ``modify`` answers
    ``default``): the current leg is gone; the next unknown leg under the cloid is the new one."""
    pm = record.pending_modify
    assert pm is not None
    current = record.exchange_order_id
    replaced = record.replaced_oids if current is None else (*record.replaced_oids, current)
    changes: dict[str, object] = {
        "replaced_oids": replaced, "exchange_order_id": None, "leg_size": pm.leg_size,
        "amount": max(record.filled + pm.leg_size, record.filled),
        "price": pm.price if pm.price is not None else record.price,
        "trigger_price": pm.trigger_price if pm.trigger_price is not None
        else record.trigger_price,
        "pending_modify": None, "deferred_cancel": None,
    }
    if change.fire(record, Trigger.MODIFIED, now, changes=changes,
                   extra={"previous_exchange_order_id": current}) is None:
        change.update(record, now, **changes)


def refresh(change: Change, record: OrderRecord, report: OrderStatusReported,
            now: int) -> OrderRecord:
    """A status of the current leg of a modified order: take the venue's price and size (after a
    replacement the tracker learned of without its terms)."""
    changes: dict[str, object] = {}
    if report.price != record.price:
        changes["price"] = report.price
    size = report.original_amount
    if size is not None and size != record.leg_size:
        changes["leg_size"] = size
        changes["amount"] = max(record.filled_off(record.exchange_order_id) + size,
                                record.filled)
    return change.update(record, now, **changes) if changes else record


# --- settling a pending modify --------------------------------------------------------------


def proof_ns(cfg: TrackerConfig, pm: PendingModify) -> int:
    """From when the venue still showing the old leg proves the modify never executed."""
    if pm.expires_after_ms is None:
        return pm.sent_ns + cfg.ns(cfg.lost_min_age_s)
    return (pm.expires_after_ms + int(cfg.not_found_grace_s * 1000) + 1) * 1_000_000


def next_check_ns(cfg: TrackerConfig, pm: PendingModify, now: int) -> int:
    """When to ask the venue again about an unsettled modify: the re-query cadence, but exactly
    at the proof time when that comes first."""
    requery = now + cfg.ns(cfg.unknown_requery_s)
    proof = proof_ns(cfg, pm)
    return min(requery, proof) if proof > now else requery


def modify_refused(change: Change, record: OrderRecord, error: str, now: int) -> None:
    """The venue answered the modify with an error. A replacement refused after the old leg was
    cancelled leaves nothing live: the venue's status says whether the order lives on."""
    pm = record.pending_modify
    assert pm is not None
    pm = attrs.evolve(pm, stage="rejected", error=error,
                      deadline_ns=now + change.config.ns(change.config.unknown_requery_s))
    dead = record.deferred_cancel is not None or MODIFY_DEAD_TEXT in error
    if not dead or change.fire(
        record, Trigger.UNCERTAIN, now, changes={"pending_modify": pm,
                                                 "deadline_ns": pm.deadline_ns},
        extra={"reason": f"modify refused: {error}"},
    ) is None:
        change.update(record, now, pending_modify=pm)
    change.request_status((record.client_order_id,), now, f"modify refused: {error}")


def modify_unknown(change: Change, record: OrderRecord, reason: str, now: int) -> None:
    """The modify's answer is lost: it may have executed or not. The order is UNKNOWN until the
    venue's status (or the modify's answer) says; the modify stays pending until settled."""
    pm = record.pending_modify
    assert pm is not None
    pm = attrs.evolve(pm, stage="unknown", deadline_ns=next_check_ns(change.config, pm, now))
    cfg = change.config
    if change.fire(record, Trigger.UNCERTAIN, now,
                   changes={"pending_modify": pm,
                            "deadline_ns": now + cfg.ns(cfg.unknown_requery_s)},
                   extra={"reason": reason}) is None:
        change.update(record, now, pending_modify=pm)
    change.request_status((record.client_order_id,), now, reason)


def modify_never_executed(change: Change, record: OrderRecord, reason: str, now: int) -> None:
    """Proof that the pending modify did not execute and never will: the order is as before."""
    if record.deferred_cancel is not None:
        # The held cancel was not the modify's, so the order was cancelled — but let the venue
        # confirm rather than trust that no other modify could have caused it.
        modify_refused(change, record, reason, now)
        return
    if change.fire(record, Trigger.MODIFY_REJECTED, now,
                   changes={"pending_modify": None, "deferred_cancel": None},
                   extra={"reason": reason}) is None:
        change.update(record, now, pending_modify=None)


def check_old_leg_live(change: Change, record: OrderRecord, now: int) -> None:
    """The venue's status (a query) shows the current leg live while a modify is pending."""
    pm = record.pending_modify
    if pm is None or record.deferred_cancel is not None:
        return  # a held cancel says the query predates the leg's end: ask again later
    if pm.stage == "rejected":
        modify_never_executed(change, record, pm.error, now)
    elif now >= proof_ns(change.config, pm):
        modify_never_executed(change, record,
                              "modify never executed: the venue still shows the order after "
                              "the modify's expiry", now)


def on_modify_deadline(change: Change, record: OrderRecord, now: int) -> bool:
    """The pending modify's deadline passed; True if the order's status should be queried."""
    pm = record.pending_modify
    assert pm is not None
    if pm.stage == "sent":
        reason = "no answer to a modify" if pm.reported_sent else "modify never reported sent"
        modify_unknown(change, record, reason, now)
        return False  # modify_unknown asked already
    change.update(record, now, pending_modify=attrs.evolve(
        pm, deadline_ns=next_check_ns(change.config, pm, now)))
    return True
