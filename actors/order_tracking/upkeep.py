"""Time-driven work: deadlines, fill waits, retention, recovery, and reconciliation after
recovery, after reconnects and periodically while running."""

from __future__ import annotations

import attrs

from actors.order_tracking import legs
from actors.order_tracking.lifecycle import Trigger
from actors.order_tracking.outcomes import finish
from actors.order_tracking.records import OrderRecord, proof_ns
from actors.order_tracking.stage import Change
from messages import orders
from messages.enums import OrderState
from messages.ids import ClientOrderId
from messages.tracking import ReconcileAll, TrackerRecovered, TrackerTick

S = OrderState
MAX_FILL_WAIT_S = 60.0
"""Fill queries for an order the venue says filled go on at most this far apart."""


def on_tick(change: Change, msg: TrackerTick, now: int) -> None:
    cfg = change.config
    to_query: dict[ClientOrderId, None] = {}
    fills_from: list[int] = []
    # Only the live orders (in the committed order: it numbers the events a tick emits, live
    # and in a replay alike); finished ones are the index's business, oldest first.
    for cloid in change.committed.index.live_in_order():
        record = change.get(cloid)
        if record is None or record.state.is_terminal:
            continue
        pm = record.pending_modify
        if pm is not None and pm.deadline_ns is not None and now >= pm.deadline_ns:
            if legs.on_modify_deadline(change, record, now):
                to_query[record.client_order_id] = None
            got = change.get(record.client_order_id)
            assert got is not None
            record = got
        if record.deadline_ns is None or now < record.deadline_ns:
            continue
        if record.awaiting is not None:
            since = _fill_wait_over(change, record, now)
            if since is not None:
                fills_from.append(since)
            continue
        if record.state in (S.SUBMITTED, S.PENDING_CANCEL):
            trigger, reason = Trigger.TIMEOUT, f"no answer within the {record.state.value} deadline"
        elif record.state is S.PENDING_CREATE:
            trigger, reason = Trigger.UNCERTAIN, "never reported sent before its expiry"
        elif record.state is S.UNKNOWN:
            change.update(record, now, deadline_ns=now + cfg.ns(cfg.unknown_requery_s))
            to_query[record.client_order_id] = None
            continue
        else:
            change.update(record, now, deadline_ns=None)
            continue
        new = change.fire(record, trigger, now,
                          changes={"deadline_ns": now + cfg.ns(cfg.unknown_requery_s)},
                          extra={"reason": reason})
        if new is not None:
            to_query[new.client_order_id] = None
    _retain(change, now)
    _expire_unmatched(change, now)
    if to_query:
        change.request_status(tuple(to_query), now, "deadline")
    if fills_from:
        change.request_fills(now, "waiting for fills the venue reported", min(fills_from))
    _periodic(change, now)


def _retain(change: Change, now: int) -> None:
    """Finished orders leave memory after ``retention_s``, and beyond ``retention_max_orders``
    the ones that ended first leave first: memory (and the snapshot a restart loads) stays
    bounded whatever the order rate."""
    cfg = change.config
    horizon = now - cfg.ns(cfg.retention_s)
    finished = len(change.committed.orders) - change.committed.live_count
    index = change.committed.index
    while (oldest := index.oldest_finished()) is not None:
        ended, cloid = oldest
        record = change.get(cloid)
        if record is None or not record.state.is_terminal or (record.terminal_ns or 0) != ended:
            index.drop_oldest_finished()  # stale: revised or forgotten since
            continue
        if ended > horizon and finished <= cfg.retention_max_orders:
            return
        index.drop_oldest_finished()
        _forget(change, record)
        finished -= 1


def _forget(change: Change, record: OrderRecord) -> None:
    """A terminal order leaves memory (it stays in the journal's history); its fill keys are
    remembered a while longer, so a late duplicate fill is still recognised."""
    change.remove(record)
    change.fill_keys_forgotten.extend(
        (int(f.trade_id), int(f.exchange_order_id)) for f in record.fills)


def _fill_wait_over(change: Change, record: OrderRecord, now: int) -> int | None:
    """A wait for fills the venue reported ran out: query them (from the order's own time), or
    finish a cancelled order without them. Returns where the fill query should start."""
    cfg = change.config
    awaiting = record.awaiting
    assert awaiting is not None
    attempts = awaiting.attempts + 1
    if awaiting.verify_ns is not None:
        # A rejected replacement is never failed on a guess: ask until the venue answers.
        change.update(record, now, awaiting=attrs.evolve(awaiting, attempts=attempts),
                      deadline_ns=now + cfg.ns(min(cfg.fill_wait_s * attempts, MAX_FILL_WAIT_S)))
        return awaiting.from_ms
    if awaiting.attempts >= cfg.fill_wait_attempts:
        if awaiting.attempts == cfg.fill_wait_attempts:
            change.emit(orders.OrderAnomalyDetected, record, now, None,
                        reason=f"venue reported {awaiting.expected_filled} filled; only "
                              f"{record.filled} arrived after {awaiting.attempts} queries")
        if awaiting.target is S.CANCELLED:
            finish(change, record, S.CANCELLED, awaiting.reason, now)
            return None
        # Only fills make an order FILLED: keep asking (less often) while the venue answers.
    change.update(record, now, awaiting=attrs.evolve(awaiting, attempts=attempts),
                  deadline_ns=now + cfg.ns(min(cfg.fill_wait_s * max(1, attempts
                                                                     - cfg.fill_wait_attempts),
                                               MAX_FILL_WAIT_S)))
    return change.fills_from_ms((record,))


def _expire_unmatched(change: Change, now: int) -> None:
    ttl = change.config.ns(change.config.unmatched_fill_ttl_s)
    for fill in change.committed.unmatched_fills:
        if now - fill.ts_init >= ttl:
            change.unmatched_remove.add((int(fill.trade_id), int(fill.exchange_order_id)))
            change.changed = True


def _periodic(change: Change, now: int) -> None:
    """The safety net: every ``reconcile_interval_s``, the open orders, the fills since the last
    one seen and the status of orders whose answer is overdue — one ``openOrders`` and one
    ``userFillsByTime`` per interval, plus one ``orderStatus`` per uncertain order."""
    interval = change.config.reconcile_interval_s
    if interval is None:
        return
    due = change.next_reconcile_ns
    if due is not None and now < due:
        return
    change.next_reconcile_ns = now + change.config.ns(interval)
    if due is not None:
        reconcile_everything(change, now, "periodic")


def on_recovered(change: Change, msg: TrackerRecovered, now: int) -> None:
    """After journal recovery: an order tracked but never reported sent may be live.

    It becomes UNKNOWN (its strategy hears it), but the venue is asked about it when an answer
    can decide: at its proof time (expiry + grace), as it would have been had the tracker not
    restarted. Until then its outcome is almost always on its way — the signer still holds it,
    or its `RequestSent` and answer wait in this tracker's mailbox — and the venue does not
    know a cloid lost with a crashed signer either way. Without an expiry there is no proof
    time: it is asked at once and every `unknown_requery_s`."""
    cfg = change.config
    requery = now + cfg.ns(cfg.unknown_requery_s)
    for record in list(change.live_orders()):
        if record.state is not S.PENDING_CREATE:
            continue
        proof = proof_ns(record, cfg.not_found_grace_s)
        deadline = proof if proof is not None and proof > now else requery
        change.fire(record, Trigger.UNCERTAIN, now, changes={"deadline_ns": deadline},
                    extra={"reason": "restarted before the order was reported sent"})
    reconcile_everything(change, now, "recovery")


def on_reconcile_all(change: Change, msg: ReconcileAll, now: int) -> None:
    reconcile_everything(change, now, msg.reason)


def reconcile_everything(change: Change, now: int, reason: str) -> None:
    """Open orders and the fills since the last seen. No order's own status: the venue's open
    orders settle every live order they list, and its answer asks the status of those it
    does not list (`evidence.on_open_orders`) — a live order missing from it has ended (or
    was never placed), which only its status can say.

    Asking each uncertain order's status here as well cost one query per order in flight at
    every recovery and reconnect: each waits in execution's queue for the venue's query
    budget (~3.5 a second) and is answered when that order has long ended, and hundreds of
    them (a restart under load) came ahead of the queries that settle the uncertain orders (a
    soak ended with orders lost in a crashed signer still UNKNOWN: their proof waited behind
    such queries until the stop). An uncertain order's own deadline still asks about it."""
    change.request_reconcile((), now, reason, open_orders=True, fills=True)
