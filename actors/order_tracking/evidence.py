"""Handlers for venue evidence: answers, order statuses, open-order snapshots, noop proofs.

The rules that make reorderings converge:
* a terminal state absorbs: later evidence changes nothing except that fills are still booked
  (reported as late fills, the state kept);
* the venue's "filled" and "filled N of an IOC" answers do not finish an order by themselves —
  the order finishes when the fills the venue reported have arrived (or after a bounded wait and
  fill queries), so filled quantity always equals the sum of fill events (outcomes.py);
* a status about a leg a modify replaced is ignored; a status about a newer leg means the
  modify went through; a ``canceled`` of the current leg while a modify is pending is held
  until the venue settles it (legs.py);
* an answer that says the order is dead ("already canceled, or filled", "Cannot modify
  canceled or filled order") makes the tracker ask the venue at once, never guess.
"""

from __future__ import annotations

import attrs

from actors.order_tracking import legs
from actors.order_tracking.commands import cancel_target
from actors.order_tracking.fills import find
from actors.order_tracking.lifecycle import Trigger
from actors.order_tracking.outcomes import expect_terminal, rejected, uncertain
from actors.order_tracking.records import ZERO, OrderRecord, proof_ahead, proof_ns
from actors.order_tracking.stage import Change, filled_at_venue
from messages import orders
from messages.account import NonUserCancelReported
from messages.enums import (
    EvidenceSource,
    OrderState,
    OrderType,
    RequestKind,
    SubmitOutcome,
    TimeInForce,
    VenueOrderStatus,
)
from messages.ids import ClientOrderId
from messages.signing import SignCancels
from messages.venue import (
    CancelAnswered,
    ModifyAnswered,
    NonceInvalidated,
    OpenOrdersReported,
    OrderNotFoundReported,
    OrderStatusReported,
    SubmitAnswered,
)

S = OrderState
VS = VenueOrderStatus
NOT_FOUND_TEXT = "never placed, already canceled, or filled"
_LIVE_STATUSES = (VS.OPEN, VS.TRIGGERED)


def on_submit_answered(change: Change, msg: SubmitAnswered, now: int) -> None:
    record = change.get(msg.client_order_id)
    if record is None:
        return
    oid = msg.exchange_order_id
    if oid is not None and record.exchange_order_id is None and not record.replaced_oids:
        record = change.update(record, now, exchange_order_id=oid)
    if record.state.is_terminal:
        return
    outcome = msg.outcome
    if outcome in (SubmitOutcome.RESTING, SubmitOutcome.WAITING):
        change.fire(record, Trigger.ACCEPT, now, changes={"deadline_ns": None})
    elif outcome is SubmitOutcome.FILLED:
        accepted = change.fire(record, Trigger.ACCEPT, now, changes={"deadline_ns": None})
        record = accepted or record
        total = msg.filled_amount if msg.filled_amount is not None else record.amount
        if total >= record.amount:
            expect_terminal(change, record, S.FILLED, record.amount, "filled", now)
        else:
            expect_terminal(change, record, S.CANCELLED, total,
                            "unfilled remainder cancelled (IOC)", now)
    elif outcome is SubmitOutcome.REJECTED:
        if record.filled > 0:
            change.emit(orders.OrderAnomalyDetected, record, now, None,
                        reason=f"rejected after fills: {msg.error}")
            return
        change.fire(record, Trigger.REJECT, now, extra={"reason": msg.error or "rejected"})


def on_cancel_answered(change: Change, msg: CancelAnswered, now: int) -> None:
    record = change.get(msg.client_order_id)
    if record is None or record.state.is_terminal or record.state is S.PENDING_CREATE:
        return
    if msg.success:
        # Our cancel (by cloid) hit the leg live at the venue: nothing under the cloid can
        # live after it, whatever else was on its way (a modify of a dead cloid is refused).
        change.fire(record, Trigger.CANCELLED, now, extra={"reason": "canceled"})
    elif NOT_FOUND_TEXT in msg.error:
        # Already filled or already cancelled: only the venue's status can say which.
        cfg = change.config
        if proof_ahead(record, cfg.not_found_grace_s, now):
            # Never reported sent: not at the venue now, but it may still arrive until its
            # expiry; asked at its proof time, when "unknown to the venue" decides (asked now,
            # and at every cancel-all of a stop, the answer proves nothing).
            proof = proof_ns(record, cfg.not_found_grace_s)
            if record.state is S.PENDING_CANCEL:
                change.fire(record, Trigger.UNCERTAIN, now, changes={"deadline_ns": proof},
                            extra={"reason": f"cancel refused: {msg.error}"})
        elif record.state is S.PENDING_CANCEL:
            uncertain(change, record, now, f"cancel refused: {msg.error}")
        else:
            change.request_status((record.client_order_id,), now, "cancel refused")
    elif record.state is S.PENDING_CANCEL:
        change.fire(record, Trigger.CANCEL_REJECTED, now, extra={"reason": msg.error})


def on_modify_answered(change: Change, msg: ModifyAnswered, now: int) -> None:
    record = change.get(msg.client_order_id)
    if record is None or record.state.is_terminal:
        return
    pm = record.pending_modify
    if msg.outcome is SubmitOutcome.REJECTED:
        if pm is not None and pm.stage != "rejected":
            legs.modify_refused(change, record, msg.error or "modify rejected", now)
        return
    oid = msg.exchange_order_id
    if oid is None:
        if pm is not None:
            legs.replaced_without_id(change, record, now)
        return
    leg = legs.relation(record, oid)
    if leg == legs.OLD:
        return  # the answer to an earlier modify, settled already
    if leg == legs.NEW:
        record = legs.advance(change, record, oid, now)
        if record.state is S.UNKNOWN:
            trigger = Trigger.ACCEPT_PARTIAL if record.filled > 0 else Trigger.ACCEPT
            record = change.fire(record, trigger, now, changes={"deadline_ns": None}) or record
    if msg.outcome is SubmitOutcome.FILLED:
        expect_terminal(change, record, S.FILLED, record.amount, "filled", now)


def on_status(change: Change, msg: OrderStatusReported, now: int) -> None:
    record = find(change, msg.client_order_id, msg.exchange_order_id)
    if record is None:
        return
    apply_status(change, record, msg, now)


def apply_status(change: Change, record: OrderRecord, msg: OrderStatusReported, now: int) -> None:
    oid = msg.exchange_order_id
    status = msg.status
    leg = legs.relation(record, oid)
    if leg == legs.OLD:
        return  # about a leg a modify replaced: its fills count, its status does not
    query = msg.source is EvidenceSource.QUERY
    if leg == legs.NEW:
        if status is VS.UNRECOGNIZED:
            if not query:
                change.request_status((record.client_order_id,), now,
                                      f"unrecognized status {msg.raw_status!r}")
            return
        record = legs.advance(change, record, oid, now, report=msg,
                              live=status is not VS.REJECTED)
    elif record.leg_size is not None and record.pending_modify is None and status in (
        *_LIVE_STATUSES, VS.FILLED
    ) and not record.state.is_terminal:
        record = legs.refresh(change, record, msg, now)
    if record.state.is_terminal:
        return
    if (status is VS.CANCELLED and msg.raw_status == "canceled" and not query
            and record.pending_modify is not None):
        # Maybe the pending modify's own cancel of this leg: held until the modify is
        # settled (a query about the cloid is about its latest leg, so it is never held).
        if record.deferred_cancel is None:
            change.update(record, now, deferred_cancel=msg.raw_status)
        return
    venue_filled = filled_at_venue(msg.original_amount, msg.remaining_amount)
    if venue_filled is not None:
        venue_filled += record.filled_off(oid)  # what earlier legs filled
    if status in _LIVE_STATUSES:
        trigger = Trigger.ACCEPT_PARTIAL if record.filled > 0 else Trigger.ACCEPT
        record = change.fire(record, trigger, now, ts_event=msg.ts_event,
                             changes={"deadline_ns": None, "not_found": 0}) or record
        if query and record.pending_modify is not None:
            legs.check_old_leg_live(change, record, now)
        if venue_filled is not None and venue_filled > record.filled and query:
            change.request_fills(now, "venue reports fills not yet booked",
                                 change.fills_from_ms((record,)))
    elif status is VS.FILLED:
        expect_terminal(change, record, S.FILLED, record.amount, msg.raw_status, now,
                        msg.ts_event, query_now=query)
    elif status is VS.CANCELLED:
        expected = venue_filled if venue_filled is not None else record.filled
        expect_terminal(change, record, S.CANCELLED, expected, msg.raw_status, now,
                        msg.ts_event, query_now=query)
    elif status is VS.REJECTED:
        rejected(change, record, msg.raw_status, now, msg.ts_event)
    elif status is VS.UNRECOGNIZED and not query:
        # A status string this version does not know: ask the venue, never guess.
        change.request_status((record.client_order_id,), now,
                              f"unrecognized status {msg.raw_status!r}")


def on_non_user_cancel(change: Change, msg: NonUserCancelReported, now: int) -> None:
    """The venue cancelled an order on its own (margin, liquidation…); the event names only the
    exchange order id, so ask the venue how much had filled before finishing it."""
    record = change.by_oid(msg.exchange_order_id)
    if record is None or record.state.is_terminal:
        return
    leg = legs.relation(record, msg.exchange_order_id)
    if leg == legs.OLD:
        return
    change.request_status((record.client_order_id,), now, "cancelled by the venue")
    if leg == legs.CURRENT:
        change.fire(record, Trigger.CANCELLED, now, extra={"reason": "nonUserCancel"})


def on_not_found(change: Change, msg: OrderNotFoundReported, now: int) -> None:
    record = change.get(msg.client_order_id)
    if record is None or record.state.is_terminal:
        return
    cfg = change.config
    if record.exchange_order_id is not None or record.fills or record.replaced_oids:
        change.emit(orders.OrderAnomalyDetected, record, now, None,
                    reason="venue does not know an order it acknowledged or filled")
        return
    now_ms = now // 1_000_000
    grace_ms = int(cfg.not_found_grace_s * 1000)
    expires = record.expires_after_ms
    expired = expires is not None and now_ms > expires + grace_ms
    count = record.not_found + 1
    age_s = (now - (record.sent_ns or record.created_ns)) / 1e9
    if expired:
        reason = "never placed: unknown to the venue after its expiresAfter passed"
    elif expires is None and count >= cfg.not_found_limit and age_s >= cfg.lost_min_age_s:
        reason = f"never placed: unknown to the venue after {count} queries"
    else:
        # Possibly still on its way to the venue: ask again after the re-query interval, and
        # exactly when its expiry (+ grace) will prove it never placed, if that comes first.
        deadline = now + cfg.ns(cfg.unknown_requery_s)
        proof = proof_ns(record, cfg.not_found_grace_s)
        if proof is not None:
            deadline = min(deadline, proof)
        change.update(record, now, not_found=count, deadline_ns=deadline)
        return
    change.fire(record, Trigger.NEVER_PLACED, now, changes={"not_found": count},
                extra={"reason": reason})


def on_open_orders(change: Change, msg: OpenOrdersReported, now: int) -> None:
    seen: set[object] = set()
    for report in msg.orders:
        record = find(change, report.client_order_id, report.exchange_order_id)
        if record is None:
            adopt(change, report, now)
            continue
        seen.add(record.client_order_id)
        apply_status(change, record, report, now)
    cfg = change.config
    grace = cfg.ns(cfg.open_orders_grace_s)
    missing = tuple(
        r.client_order_id
        for r in change.live_orders()
        if r.state is not S.PENDING_CREATE
        and r.client_order_id not in seen
        and (r.sent_ns or r.created_ns) < msg.ts_init - grace
        and not proof_ahead(r, cfg.not_found_grace_s, now)
    )
    if missing:
        change.request_status(missing, now, "live order missing from open orders")


def adopt(change: Change, report: OrderStatusReported, now: int) -> None:
    """A live order at the venue that the tracker does not know: track it as external, and
    with ``external_orders = "cancel"`` cancel it at once."""
    if report.status not in _LIVE_STATUSES:
        return
    cloid = report.client_order_id or ClientOrderId.derive(
        "external", int(report.exchange_order_id)
    )
    if change.get(cloid) is not None:
        return
    record = OrderRecord(
        client_order_id=cloid, trading_pair=report.trading_pair, side=report.side,
        order_type=OrderType.LIMIT, time_in_force=TimeInForce.GTC, price=report.price,
        trigger_price=None, amount=report.remaining_amount, reduce_only=False,
        strategy_id="", external=True, exchange_order_id=report.exchange_order_id,
        state=OrderState.OPEN, filled=ZERO, fills=(),
        created_ns=now, updated_ns=now,
    )
    adopted = change.create(record, Trigger.ADOPT, now)
    if change.config.external_orders == "cancel":
        new = change.fire(adopted, Trigger.REQUEST_CANCEL, now,
                          changes={"before_cancel": adopted.state,
                                   "deadline_ns": now + change.config.ns(
                                       change.config.cancel_timeout_s)})
        if new is not None:
            change.send(SignCancels(targets=(cancel_target(new),), ts_init=now))


def on_nonce_invalidated(change: Change, msg: NonceInvalidated, now: int) -> None:
    """Execution spent the nonce of a request whose outcome was lost on a ``noop``: the answer
    proves that it never executed (``executed`` False), that it did (True), or that it can no
    longer execute (None)."""
    grace_ms = int(change.config.not_found_grace_s * 1000)
    for cloid in msg.client_order_ids:
        record = change.get(cloid)
        if record is None or record.state.is_terminal:
            continue
        if msg.kind is RequestKind.SUBMIT:
            if msg.executed is False and record.exchange_order_id is None and not record.fills:
                trigger = (Trigger.REJECT if record.state is S.PENDING_CANCEL
                           else Trigger.NEVER_PLACED)
                change.fire(record, trigger, now, extra={
                    "reason": "never placed: its nonce was spent before it executed"})
                continue
            if msg.executed is None:
                # It can no longer execute: from now on "unknown to the venue" is proof.
                limit = now // 1_000_000 - grace_ms
                if record.expires_after_ms is None or record.expires_after_ms > limit:
                    record = change.update(record, now, expires_after_ms=limit)
        elif msg.kind is RequestKind.MODIFY and record.pending_modify is not None:
            if msg.executed is False:
                legs.modify_never_executed(
                    change, record, "modify never executed: its nonce was spent", now)
                after = change.get(cloid)
                if after is None or after.state is not S.UNKNOWN:
                    continue  # as it was before the modify; else the venue's status says
            elif msg.executed is None:
                # It can no longer execute: the venue still showing the old leg is proof.
                record = change.update(record, now, pending_modify=attrs.evolve(
                    record.pending_modify, expires_after_ms=now // 1_000_000 - grace_ms - 1))
        elif msg.kind in (RequestKind.CANCEL, RequestKind.CANCEL_ALL) and (
            msg.executed is False and record.state is S.PENDING_CANCEL
        ):
            change.fire(record, Trigger.CANCEL_REJECTED, now,
                        extra={"reason": "cancel never executed: its nonce was spent"})
            continue
        change.request_status((cloid,), now, "outcome of a lost request")

