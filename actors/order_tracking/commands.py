"""Handlers for what execution tells the tracker: new orders, cancels, modifies, sends."""

from __future__ import annotations

import attrs

from actors.order_tracking import legs
from actors.order_tracking.config import TrackerConfig
from actors.order_tracking.lifecycle import Trigger
from actors.order_tracking.outcomes import uncertain
from actors.order_tracking.records import OrderRecord, PendingModify
from actors.order_tracking.stage import Change
from messages.commands import CancelAll, CancelOrder, ModifyOrder, SubmitOrder
from messages.enums import OrderState, RequestKind
from messages.gate import SignerBacklog
from messages.ids import ClientOrderId
from messages.signing import CancelTarget, ModifyTarget, SignCancels, SignModifies, SignOrders
from messages.tracking import CommandRejected, OrderDenied, RequestSent
from messages.venue import RequestFailed

S = OrderState


def _reject(
    change: Change, command: str, cloid: ClientOrderId | None, strategy: str, reason: str, now: int
) -> None:
    change.send(
        CommandRejected(
            command=command, client_order_id=cloid, strategy_id=strategy, reason=reason,
            ts_init=now,
        )
    )


def _expiry_ms(cfg: TrackerConfig, now: int) -> int | None:
    """The bound on a request's ``expiresAfter``: the signer signs when the rate budget admits
    it and never later than this (it reports the exact value in `RequestSent`)."""
    expiry = cfg.submit_expiry_s
    return None if expiry is None else (now + cfg.ns(expiry)) // 1_000_000


def on_submit(change: Change, msg: SubmitOrder, now: int) -> None:
    if change.get(msg.client_order_id) is not None:
        _reject(change, "SubmitOrder", msg.client_order_id, msg.strategy_id,
                "duplicate client order id", now)
        return
    record = OrderRecord.from_submit(msg, now)
    cap = change.config.max_open_orders
    if change.committed.live_count >= cap:
        # Never sent: the venue would refuse it (tooManyOpenOrdersRejected), after costing a
        # request of the address budget.
        tracked = _track(change, record, now)
        change.fire(tracked, Trigger.DENY, now, extra={
            "reason": f"open-order cap reached: {change.committed.live_count} orders not yet final "
                      f"(max_open_orders = {cap})"})
        return
    expires = _expiry_ms(change.config, now)
    grace = change.config.ns(change.config.not_found_grace_s)
    # Until the signer reports the exact expiry, the bound is the proof time: past it (+ grace)
    # an order the venue does not know can no longer be placed.
    record = _track(change, record, now, expires_after_ms=expires,
                    deadline_ns=None if expires is None else expires * 1_000_000 + grace)
    change.send(SignOrders(orders=(msg,), expires_after_ms=expires, ts_init=now))


def _track(change: Change, record: OrderRecord, now: int, **changes: object) -> OrderRecord:
    return change.create(record, Trigger.TRACK, now, **changes)


def on_denied(change: Change, msg: OrderDenied, now: int) -> None:
    record = change.get(msg.order.client_order_id)
    if record is None:
        record = _track(change, OrderRecord.from_submit(msg.order, now), now)
    change.fire(record, Trigger.DENY, now, extra={"reason": msg.reason})


def on_sent(change: Change, msg: RequestSent, now: int) -> None:
    cfg = change.config
    for cloid in msg.client_order_ids:
        record = change.get(cloid)
        if record is None:
            continue
        if msg.kind is RequestKind.SUBMIT:
            changes: dict[str, object] = {"sent_ns": now}
            if msg.expires_after_ms is not None:
                changes["expires_after_ms"] = msg.expires_after_ms
            if record.state is S.PENDING_CREATE:
                changes["deadline_ns"] = now + cfg.ns(cfg.submit_timeout_s)
                sent = change.fire(record, Trigger.SEND, now, changes=changes)
                if sent is not None and sent.cancel_queued:
                    _request_cancel(change, sent, now)
            else:
                # Evidence from the stream beat our own bookkeeping; keep what it established.
                change.update(record, now, **changes)
        elif msg.kind is RequestKind.CANCEL and record.state is S.PENDING_CANCEL:
            change.update(record, now, deadline_ns=now + cfg.ns(cfg.cancel_timeout_s))
        elif msg.kind is RequestKind.MODIFY and record.pending_modify is not None and (
            record.pending_modify.stage == "sent"
        ):
            pm = record.pending_modify
            expires = msg.expires_after_ms if msg.expires_after_ms is not None else (
                pm.expires_after_ms)
            change.update(record, now, pending_modify=attrs.evolve(
                pm, reported_sent=True, expires_after_ms=expires,
                deadline_ns=now + cfg.ns(cfg.modify_timeout_s)))


def on_request_failed(change: Change, msg: RequestFailed, now: int) -> None:
    for cloid in msg.client_order_ids:
        record = change.get(cloid)
        if record is None or record.state.is_terminal:
            continue
        reason = f"{msg.kind.value.lower()} request failed: {msg.reason}"
        if msg.kind is RequestKind.SUBMIT:
            if record.exchange_order_id is not None or record.fills or record.replaced_oids:
                continue  # the venue's own evidence says it was placed
            if msg.definitive:
                change.fire(record, Trigger.REJECT, now, extra={"reason": reason})
            elif record.state is not S.UNKNOWN:
                uncertain(change, record, now, reason)
        elif msg.kind in (RequestKind.CANCEL, RequestKind.CANCEL_ALL):
            if record.state is not S.PENDING_CANCEL:
                continue
            if msg.definitive:
                change.fire(record, Trigger.CANCEL_REJECTED, now, extra={"reason": reason})
            else:
                uncertain(change, record, now, reason)
        elif msg.kind is RequestKind.MODIFY and record.pending_modify is not None and (
            record.pending_modify.stage != "rejected"
        ):
            if msg.definitive:  # the venue did not act on it
                legs.modify_never_executed(change, record, reason, now)
            else:  # it may have: the venue's status decides
                legs.modify_unknown(change, record, reason, now)


def _request_cancel(change: Change, record: OrderRecord, now: int) -> OrderRecord | None:
    new = change.fire(record, Trigger.REQUEST_CANCEL, now,
                      changes={"before_cancel": record.state, "cancel_queued": False,
                               "deadline_ns": _cancel_deadline(change, now)})
    if new is not None:
        change.send(SignCancels(targets=(cancel_target(new),), ts_init=now))
    return new


def _cancel_deadline(change: Change, now: int) -> int:
    """A cancel is on a deadline from the moment it is requested, not only once it is reported
    sent: a cancel lost before it was signed (the signer crashed while it waited for credit)
    must not leave its order PENDING_CANCEL forever. Past the deadline the order goes UNKNOWN
    and the venue's status decides (an order still open is OPEN again and can be cancelled
    anew); `on_sent` restarts the deadline when the cancel leaves."""
    cfg = change.config
    return now + cfg.ns(cfg.cancel_timeout_s)


def cancel_target(record: OrderRecord) -> CancelTarget:
    return CancelTarget(
        client_order_id=record.client_order_id,
        trading_pair=record.trading_pair,
        exchange_order_id=record.exchange_order_id,
        by_exchange_id=record.external,
    )


def on_cancel(change: Change, msg: CancelOrder, now: int) -> None:
    record = change.get(msg.client_order_id)
    if record is None:
        _reject(change, "CancelOrder", msg.client_order_id, msg.strategy_id, "unknown order", now)
        return
    _cancel_one(change, record, now, msg.strategy_id, batch=None)


def _cancel_one(
    change: Change, record: OrderRecord, now: int, strategy: str,
    batch: list[CancelTarget] | None,
) -> None:
    state = record.state
    if state.is_terminal:
        _reject(change, "CancelOrder", record.client_order_id, strategy,
                f"order is already {state.value}", now)
    elif state is S.PENDING_CANCEL:
        _reject(change, "CancelOrder", record.client_order_id, strategy,
                "a cancel is already in flight", now)
    elif state is S.PENDING_CREATE:
        # Not on the wire yet: the cancel goes out right after the order does (cancel by cloid
        # cannot overtake an order the venue has not seen).
        if not record.cancel_queued:
            change.update(record, now, cancel_queued=True)
    else:
        new = change.fire(record, Trigger.REQUEST_CANCEL, now,
                          changes={"before_cancel": state,
                                   "deadline_ns": _cancel_deadline(change, now)})
        if new is not None:
            if batch is None:
                change.send(SignCancels(targets=(cancel_target(new),), ts_init=now))
            else:
                batch.append(cancel_target(new))


def on_cancel_all(change: Change, msg: CancelAll, now: int) -> None:
    batch: list[CancelTarget] = []
    for record in list(change.live_orders()):
        if record.state is S.PENDING_CANCEL:
            continue
        if msg.trading_pair is not None and record.trading_pair != msg.trading_pair:
            continue
        if msg.strategy_id is not None and record.strategy_id != msg.strategy_id:
            continue
        _cancel_one(change, record, now, msg.strategy_id or "", batch)
    if batch:
        change.send(SignCancels(targets=tuple(batch), ts_init=now))


def on_signer_started(change: Change, msg: SignerBacklog, now: int) -> None:
    """A new signer incarnation: cancels its predecessor held unsigned died with it. Every
    PENDING_CANCEL order's cancel is sent again (a cancel is idempotent at the venue: one that
    did leave is answered first, and the copy's refusal comes for an order already ended; the
    signer drops a copy that meets its original in its queue). Without this each lost cancel
    waited for its deadline (`cancel_timeout_s`), then for a status query: a soak with a
    signer crash every ~25 s spent ~800 status queries on them."""
    if not msg.started:
        return
    batch: list[CancelTarget] = []
    for record in list(change.live_orders()):
        if record.state is S.PENDING_CANCEL:
            change.update(record, now, deadline_ns=_cancel_deadline(change, now))
            batch.append(cancel_target(record))
    if batch:
        change.send(SignCancels(targets=tuple(batch), ts_init=now))


def on_modify(change: Change, msg: ModifyOrder, now: int) -> None:
    record = change.get(msg.client_order_id)
    reason = None
    if record is None:
        reason = "unknown order"
    elif record.state not in (S.OPEN, S.PARTIALLY_FILLED):
        reason = f"only OPEN or PARTIALLY_FILLED orders can be modified ({record.state.value})"
    elif record.pending_modify is not None:
        reason = "a modify is already in flight"
    elif record.external:
        reason = "external orders cannot be modified"
    elif msg.amount is not None and msg.amount <= record.filled:
        reason = f"new amount {msg.amount} is not above the filled amount {record.filled}"
    if reason is not None or record is None:
        _reject(change, "ModifyOrder", msg.client_order_id, msg.strategy_id, reason or "", now)
        return
    # Modify is cancel-and-replace: the replacement is a new venue order of its own size, so
    # it is sized to what is left of the new total (what filled stays filled).
    total = msg.amount if msg.amount is not None else record.amount
    leg_size = total - record.filled
    expires = _expiry_ms(change.config, now)
    cfg = change.config
    # Not reported sent by its expiry bound (+ grace), or (without one) by the modify timeout:
    # the venue's status decides (legs.on_modify_deadline).
    pending = PendingModify(price=msg.price, amount=msg.amount, trigger_price=msg.trigger_price,
                            sent_ns=now, leg_size=leg_size, expires_after_ms=expires,
                            deadline_ns=now + cfg.ns(cfg.modify_timeout_s) if expires is None
                            else expires * 1_000_000 + cfg.ns(cfg.not_found_grace_s))
    new = change.update(record, now, pending_modify=pending)
    current = new.as_submit()
    replacement = SubmitOrder(
        client_order_id=current.client_order_id,
        trading_pair=current.trading_pair,
        side=current.side,
        order_type=current.order_type,
        amount=leg_size,
        price=msg.price if msg.price is not None else current.price,
        time_in_force=current.time_in_force,
        trigger_price=msg.trigger_price if msg.trigger_price is not None
        else current.trigger_price,
        reduce_only=current.reduce_only,
        strategy_id=current.strategy_id,
    )
    change.send(SignModifies(
        targets=(ModifyTarget(client_order_id=new.client_order_id,
                              exchange_order_id=new.exchange_order_id, order=replacement),),
        ts_init=now, expires_after_ms=expires,
    ))

