"""Handlers for venue evidence: answers, order statuses, fills, open-order snapshots.

The rules that make reorderings converge:
* a terminal state absorbs: later evidence changes nothing except that fills are still booked
  (reported as late fills, the state kept);
* the venue's "filled" and "filled N of an IOC" answers do not finish an order by themselves —
  the order finishes when the fills the venue reported have arrived (or after a bounded wait and
  a fill query), so filled quantity always equals the sum of fill events;
* a status for an exchange order id that a modify replaced is about the old leg and is ignored;
  a cancel of the current leg while a modify is in flight is held until the modify's answer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from actors.order_tracking.commands import modify_rejected
from actors.order_tracking.lifecycle import Trigger
from actors.order_tracking.records import Awaiting, OrderRecord
from actors.order_tracking.stage import Stage, filled_at_venue
from messages import orders
from messages.account import NonUserCancelReported
from messages.enums import EvidenceSource, OrderState, SubmitOutcome, VenueOrderStatus
from messages.ids import ClientOrderId, ExchangeOrderId
from messages.tracking import FillUnmatched, OrderFill
from messages.venue import (
    CancelAnswered,
    FillReported,
    FillsReported,
    ModifyAnswered,
    OpenOrdersReported,
    OrderNotFoundReported,
    OrderStatusReported,
    SubmitAnswered,
)

if TYPE_CHECKING:
    from actors.order_tracking.core import OrderTrackerCore

S = OrderState
NOT_FOUND_TEXT = "never placed, already canceled, or filled"


def _with_oid(record: OrderRecord, oid: ExchangeOrderId | None) -> dict[str, object]:
    if oid is None or oid == record.exchange_order_id or oid in record.replaced_oids:
        return {}
    return {"exchange_order_id": oid}


def expect_terminal(
    core: OrderTrackerCore,
    stage: Stage,
    record: OrderRecord,
    target: OrderState,
    expected_filled: Decimal,
    reason: str,
    now: int,
    ts_event: int | None = None,
) -> None:
    """The venue says the order ended with ``expected_filled`` filled: finish it now if those
    fills are booked, else wait for them (bounded by fill_wait_s, then a fill query)."""
    if record.state.is_terminal:
        return
    expected = min(expected_filled, record.amount)
    if target is S.FILLED:
        expected = record.amount
    if record.filled >= expected:
        finish(stage, record, target, reason, now, ts_event)
        return
    awaiting = Awaiting(target=target, expected_filled=expected, reason=reason, attempts=0)
    if record.awaiting != awaiting:
        stage.update(record, now, awaiting=awaiting,
                     deadline_ns=now + core.config.ns(core.config.fill_wait_s))


def finish(
    stage: Stage, record: OrderRecord, target: OrderState, reason: str, now: int,
    ts_event: int | None = None,
) -> None:
    if target is S.CANCELLED:
        stage.fire(record, Trigger.CANCELLED, now, ts_event=ts_event, extra={"reason": reason})
    elif target is S.FILLED:
        # Only a fill completes an order; a FILLED target with every fill booked is already
        # FILLED (see on_fill), so there is nothing to do here.
        return
    else:
        raise AssertionError(f"unexpected terminal target {target}")


def on_submit_answered(
    core: OrderTrackerCore, stage: Stage, msg: SubmitAnswered, now: int
) -> None:
    record = stage.get(msg.client_order_id)
    if record is None:
        return
    oid_changes = _with_oid(record, msg.exchange_order_id)
    if oid_changes:
        record = stage.update(record, now, **oid_changes)
    if record.state.is_terminal:
        return
    outcome = msg.outcome
    if outcome in (SubmitOutcome.RESTING, SubmitOutcome.WAITING):
        stage.fire(record, Trigger.ACCEPT, now, changes={"deadline_ns": None})
    elif outcome is SubmitOutcome.FILLED:
        accepted = stage.fire(record, Trigger.ACCEPT, now, changes={"deadline_ns": None})
        record = accepted or record
        total = msg.filled_amount if msg.filled_amount is not None else record.amount
        if total >= record.amount:
            expect_terminal(core, stage, record, S.FILLED, record.amount, "filled", now)
        else:
            expect_terminal(core, stage, record, S.CANCELLED, total,
                            "unfilled remainder cancelled (IOC)", now)
    elif outcome is SubmitOutcome.REJECTED:
        if record.filled > 0:
            stage.emit(orders.OrderAnomalyDetected, record, now, None,
                       reason=f"rejected after fills: {msg.error}")
            return
        stage.fire(record, Trigger.REJECT, now, extra={"reason": msg.error or "rejected"})


def on_cancel_answered(
    core: OrderTrackerCore, stage: Stage, msg: CancelAnswered, now: int
) -> None:
    record = stage.get(msg.client_order_id)
    if record is None or record.state is not S.PENDING_CANCEL:
        return
    if msg.success:
        stage.fire(record, Trigger.CANCELLED, now, extra={"reason": "cancelled"})
    elif NOT_FOUND_TEXT in msg.error:
        # Already filled or already cancelled: only the venue's status can say which.
        new = stage.fire(record, Trigger.UNCERTAIN, now,
                         changes={"deadline_ns": now + core.config.ns(
                             core.config.unknown_requery_s)},
                         extra={"reason": f"cancel refused: {msg.error}"})
        if new is not None:
            core.request_status(stage, (new.client_order_id,), now, "cancel refused")
    else:
        stage.fire(record, Trigger.CANCEL_REJECTED, now, extra={"reason": msg.error})


def on_modify_answered(
    core: OrderTrackerCore, stage: Stage, msg: ModifyAnswered, now: int
) -> None:
    record = stage.get(msg.client_order_id)
    if record is None or record.pending_modify is None or record.state.is_terminal:
        return
    if msg.outcome is SubmitOutcome.REJECTED:
        modify_rejected(stage, record, now, msg.error or "modify rejected")
        return
    record = _apply_modify(stage, record, msg.exchange_order_id, None, now)
    if msg.outcome is SubmitOutcome.FILLED and record is not None:
        expect_terminal(core, stage, record, S.FILLED, record.amount, "filled", now)


def _apply_modify(
    stage: Stage,
    record: OrderRecord,
    new_oid: ExchangeOrderId | None,
    reported: OrderStatusReported | None,
    now: int,
) -> OrderRecord | None:
    pm = record.pending_modify
    assert pm is not None
    replaced = record.replaced_oids
    old = record.exchange_order_id
    if old is not None and new_oid is not None and new_oid != old:
        replaced = (*replaced, old)
    price = pm.price if pm.price is not None else record.price
    amount = pm.amount if pm.amount is not None else record.amount
    if reported is not None:
        price = reported.price
        if reported.original_amount is not None:
            amount = reported.original_amount
    changes: dict[str, object] = {
        "pending_modify": None,
        "deferred_cancel": None,
        "replaced_oids": replaced,
        "price": price,
        "amount": max(amount, record.filled),
        "trigger_price": pm.trigger_price if pm.trigger_price is not None
        else record.trigger_price,
    }
    if new_oid is not None:
        changes["exchange_order_id"] = new_oid
    return stage.fire(record, Trigger.MODIFIED, now, changes=changes,
                      extra={"previous_exchange_order_id": old})


def _find(stage: Stage, cloid: ClientOrderId | None, oid: ExchangeOrderId) -> OrderRecord | None:
    if cloid is not None:
        record = stage.get(cloid)
        if record is not None:
            return record
    return stage.by_oid(oid)


def on_status(core: OrderTrackerCore, stage: Stage, msg: OrderStatusReported, now: int) -> None:
    record = _find(stage, msg.client_order_id, msg.exchange_order_id)
    if record is None:
        return
    apply_status(core, stage, record, msg, now)


def apply_status(
    core: OrderTrackerCore, stage: Stage, record: OrderRecord, msg: OrderStatusReported, now: int
) -> None:
    oid = msg.exchange_order_id
    if oid in record.replaced_oids:
        return  # about the leg a modify replaced
    status = msg.status
    new_leg = (
        record.pending_modify is not None
        and record.exchange_order_id is not None
        and oid != record.exchange_order_id
        and status in (VenueOrderStatus.OPEN, VenueOrderStatus.FILLED, VenueOrderStatus.TRIGGERED)
    )
    if new_leg:
        # A new exchange order id under our cloid: the modify went through.
        modified = _apply_modify(stage, record, oid, msg, now)
        if modified is None:
            return
        record = modified
    if (record.pending_modify is not None and status is VenueOrderStatus.CANCELLED
            and oid == record.exchange_order_id):
        if record.deferred_cancel is None:
            stage.update(record, now, deferred_cancel=msg.raw_status)
        return
    changes = _with_oid(record, oid)
    if changes:
        record = stage.update(record, now, **changes)
    if record.state.is_terminal:
        return
    venue_filled = filled_at_venue(msg.original_amount, msg.remaining_amount)
    if status in (VenueOrderStatus.OPEN, VenueOrderStatus.TRIGGERED):
        trigger = Trigger.ACCEPT_PARTIAL if record.filled > 0 else Trigger.ACCEPT
        stage.fire(record, trigger, now, ts_event=msg.ts_event,
                   changes={"deadline_ns": None, "not_found": 0})
        if venue_filled is not None and venue_filled > record.filled and (
            msg.source is not EvidenceSource.STREAM
        ):
            core.request_fills(stage, now, "venue reports fills not yet booked")
    elif status is VenueOrderStatus.FILLED:
        expect_terminal(core, stage, record, S.FILLED, record.amount, msg.raw_status, now,
                        msg.ts_event)
    elif status is VenueOrderStatus.CANCELLED:
        expected = venue_filled if venue_filled is not None else record.filled
        expect_terminal(core, stage, record, S.CANCELLED, expected, msg.raw_status, now,
                        msg.ts_event)
    elif status is VenueOrderStatus.REJECTED:
        if record.filled > 0:
            stage.emit(orders.OrderAnomalyDetected, record, now, msg.ts_event,
                       reason=f"venue says {msg.raw_status} after fills")
            return
        stage.fire(record, Trigger.REJECT, now, ts_event=msg.ts_event,
                   extra={"reason": msg.raw_status})
    elif status is VenueOrderStatus.UNRECOGNIZED and msg.source is not EvidenceSource.QUERY:
        # A status string this version does not know: ask the venue, never guess.
        core.request_status(stage, (record.client_order_id,), now,
                            f"unrecognized status {msg.raw_status!r}")


def on_non_user_cancel(
    core: OrderTrackerCore, stage: Stage, msg: NonUserCancelReported, now: int
) -> None:
    """The venue cancelled an order on its own (margin, liquidation…); the event names only the
    exchange order id, so ask the venue how much had filled before finishing it."""
    record = stage.by_oid(msg.exchange_order_id)
    if record is None or record.state.is_terminal:
        return
    if msg.exchange_order_id in record.replaced_oids:
        return
    core.request_status(stage, (record.client_order_id,), now, "cancelled by the venue")
    stage.fire(record, Trigger.CANCELLED, now, extra={"reason": "nonUserCancel"})


def on_not_found(
    core: OrderTrackerCore, stage: Stage, msg: OrderNotFoundReported, now: int
) -> None:
    record = stage.get(msg.client_order_id)
    if record is None or record.state.is_terminal:
        return
    cfg = core.config
    if record.exchange_order_id is not None or record.fills:
        stage.emit(orders.OrderAnomalyDetected, record, now, None,
                   reason="venue does not know an order it acknowledged or filled")
        return
    now_ms = now // 1_000_000
    grace_ms = int(cfg.not_found_grace_s * 1000)
    expired = record.expires_after_ms is not None and now_ms > record.expires_after_ms + grace_ms
    count = record.not_found + 1
    age_s = (now - (record.sent_ns or record.created_ns)) / 1e9
    if expired:
        reason = "never placed: unknown to the venue after its expiresAfter passed"
    elif (record.expires_after_ms is None and count >= cfg.not_found_limit
          and age_s >= cfg.lost_min_age_s):
        reason = f"never placed: unknown to the venue after {count} queries"
    else:
        # Possibly still on its way to the venue: ask again after the re-query interval.
        stage.update(record, now, not_found=count,
                     deadline_ns=now + cfg.ns(cfg.unknown_requery_s))
        return
    stage.fire(record, Trigger.NEVER_PLACED, now, changes={"not_found": count},
               extra={"reason": reason})


def on_fills(core: OrderTrackerCore, stage: Stage, msg: FillsReported, now: int) -> None:
    for fill in msg.fills:
        on_fill(core, stage, fill, now)


def on_fill(core: OrderTrackerCore, stage: Stage, msg: FillReported, now: int) -> None:
    fill_ms = msg.ts_event // 1_000_000
    if stage.last_fill_ms is None or fill_ms > stage.last_fill_ms:
        stage.last_fill_ms = fill_ms
        stage.changed = True
    record = _find(stage, msg.client_order_id, msg.exchange_order_id)
    key = (int(msg.trade_id), int(msg.exchange_order_id))
    if record is None:
        if key in core.forgotten_fill_keys or any(
            (u.trade_id, u.exchange_order_id) == key for u in core.unmatched_fills
        ) or key in {(u.trade_id, u.exchange_order_id) for u in stage.unmatched_add}:
            return
        stage.unmatched_add.append(msg)
        stage.changed = True
        stage.send(FillUnmatched(exchange_order_id=msg.exchange_order_id,
                                 trade_id=msg.trade_id, trading_pair=msg.trading_pair,
                                 amount=msg.amount, ts_init=now))
        return
    book_fill(core, stage, record, msg, now)


def book_fill(
    core: OrderTrackerCore, stage: Stage, record: OrderRecord, msg: FillReported, now: int
) -> None:
    if record.has_fill(msg.trade_id, msg.exchange_order_id):
        return  # duplicate (snapshot replay, reconnect, query overlap)
    if msg.side is not record.side:
        stage.emit(orders.OrderAnomalyDetected, record, now, msg.ts_event,
                   reason=f"fill {msg.trade_id} is a {msg.side.value} for a "
                          f"{record.side.value} order; not booked")
        return
    room = record.amount - record.filled
    booked = min(msg.amount, room)
    if booked < msg.amount:
        stage.emit(orders.OrderAnomalyDetected, record, now, msg.ts_event,
                   reason=f"overfill: fill {msg.trade_id} of {msg.amount} exceeds the "
                          f"{room} left; {msg.amount - booked} not booked")
    if booked <= 0:
        return
    fill = OrderFill(trade_id=msg.trade_id, exchange_order_id=msg.exchange_order_id,
                     price=msg.price, amount=booked, fee=msg.fee, fee_asset=msg.fee_asset,
                     liquidity=msg.liquidity, ts_event=msg.ts_event)
    filled = record.filled + booked
    changes: dict[str, object] = {"filled": filled, "fills": (*record.fills, fill)}
    changes.update(_with_oid(record, msg.exchange_order_id if msg.exchange_order_id not in
                             record.replaced_oids else None))
    extra = {
        "fill_price": msg.price, "fill_amount": booked, "fee": msg.fee,
        "fee_asset": msg.fee_asset, "trade_id": msg.trade_id, "liquidity": msg.liquidity,
    }
    if record.state.is_terminal:
        stage.fire(record, Trigger.LATE_FILL, now, ts_event=msg.ts_event, changes=changes,
                   extra={**extra, "late": True})
        return
    trigger = Trigger.FILL_COMPLETE if filled >= record.amount else Trigger.FILL
    new = stage.fire(record, trigger, now, ts_event=msg.ts_event, changes=changes, extra=extra)
    if new is None:
        return
    awaiting = new.awaiting
    if awaiting is not None and not new.state.is_terminal and new.filled >= (
        awaiting.expected_filled
    ):
        finish(stage, new, awaiting.target, awaiting.reason, now)


def on_open_orders(
    core: OrderTrackerCore, stage: Stage, msg: OpenOrdersReported, now: int
) -> None:
    seen: set[ClientOrderId] = set()
    for report in msg.orders:
        record = _find(stage, report.client_order_id, report.exchange_order_id)
        if record is None:
            core.adopt(stage, report, now)
            continue
        seen.add(record.client_order_id)
        apply_status(core, stage, record, report, now)
    grace = core.config.ns(core.config.open_orders_grace_s)
    missing = tuple(
        r.client_order_id
        for r in stage.all_orders()
        if not r.state.is_terminal
        and r.state is not S.PENDING_CREATE
        and r.client_order_id not in seen
        and (r.sent_ns or r.created_ns) < msg.ts_init - grace
    )
    if missing:
        core.request_status(stage, missing, now, "live order missing from open orders")
