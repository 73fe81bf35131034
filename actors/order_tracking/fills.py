"""Fills: booking them (deduplicated, never beyond what the order can fill), matching fills for
orders not known yet, paging through fill queries, and settling orders that wait for fills.

A fill on a leg a modify replaced raises the order's amount with it: the venue sized the
replacement from the fills known when the modify was sent (amount = fills on replaced legs +
the current leg's size), so a fill of the old leg that arrives later is on top of it.
"""

from __future__ import annotations

import logging

from actors.order_tracking import legs
from actors.order_tracking.lifecycle import Trigger
from actors.order_tracking.outcomes import finish
from actors.order_tracking.records import OrderRecord
from actors.order_tracking.stage import Change
from messages import orders
from messages.enums import EvidenceSource, OrderState
from messages.ids import ClientOrderId, ExchangeOrderId
from messages.tracking import FillsQuery, FillUnmatched, OrderFill, ReconcileRequested
from messages.venue import FillReported, FillsReported

log = logging.getLogger(__name__)
S = OrderState


def find(change: Change, cloid: ClientOrderId | None, oid: ExchangeOrderId) -> OrderRecord | None:
    if cloid is not None:
        record = change.get(cloid)
        if record is not None:
            return record
    return change.by_oid(oid)


def on_fills(change: Change, msg: FillsReported, now: int) -> None:
    for fill in msg.fills:
        on_fill(change, fill, now)
    query = msg.query
    paged = query is not None or (bool(msg.fills) and all(
        f.source is EvidenceSource.QUERY for f in msg.fills))
    if paged and len(msg.fills) >= change.config.fills_page_size:
        _next_page(change, msg, query, now)
        return
    if query is not None:
        _mark_complete(change, query, now)
    if query is not None or msg.is_snapshot:
        _settle_verifications(change, msg, query, now)


def _mark_complete(change: Change, query: FillsQuery, now: int) -> None:
    """A complete answer (its last page) holds every fill from its origin until it was asked:
    if nothing before its origin was missing, every fill up to then is booked now."""
    mark = change.fills_complete_ms
    floor = mark if mark is not None else change.fills_floor_ms(now)
    if query.origin_ms > floor:
        return  # it leaves a gap before it
    done = query.requested_ns // 1_000_000 - int(change.config.fills_lookback_s * 1000)
    if mark is None or done > mark:
        change.fills_complete_ms = done
        # Journaled (and in the snapshot), so a restarted tracker asks for the fills since the
        # mark, not for every fill of the last `retention_s`: a soak restarting the tracker
        # every few seconds paged through thousands of fills each time (120 weight a page),
        # more than the whole query budget, and the status queries waited behind them.
        change.changed = True


def _next_page(change: Change, msg: FillsReported, query: FillsQuery | None, now: int) -> None:
    """A full page: ask for the next one, from the last fill time (inclusive: the boundary
    fill comes again and is deduplicated, PROTOCOL §15.9)."""
    since = max(f.ts_event for f in msg.fills) // 1_000_000
    if query is not None and since <= query.since_ms:
        # A whole page within one millisecond: step past it (the rest of that ms is lost to
        # paging; the order-level checks will ask again if a fill is missing).
        log.warning("a full page of fills within %d ms; paging past it", since)
        since = query.since_ms + 1
    origin = query.origin_ms if query is not None else since
    requested = query.requested_ns if query is not None else now
    change.send(ReconcileRequested(
        client_order_ids=(), open_orders=False, fills_since_ms=since, reason="next fills page",
        ts_init=now, fills_query=FillsQuery(since_ms=since, origin_ms=origin,
                                            requested_ns=requested)))


def _settle_verifications(
    change: Change, msg: FillsReported, query: FillsQuery | None, now: int
) -> None:
    """A complete fills answer settles the rejected replacements that waited for it: with no
    fill, FAILED; with fills, CANCELLED (outcomes.rejected)."""
    for record in list(change.live_orders()):
        awaiting = record.awaiting
        if awaiting is None or awaiting.verify_ns is None:
            continue
        if query is not None:
            proves = (query.requested_ns >= awaiting.verify_ns
                      and query.origin_ms <= awaiting.from_ms)
        else:
            # A venue side that does not echo its queries: take the next complete answer (or
            # stream snapshot) as the one asked for.
            proves = msg.ts_init >= awaiting.verify_ns
        if proves:
            finish(change, record, S.FAILED, awaiting.reason, now)


def on_fill(change: Change, msg: FillReported, now: int) -> None:
    fill_ms = msg.ts_event // 1_000_000
    if change.last_fill_ms is None or fill_ms > change.last_fill_ms:
        change.last_fill_ms = fill_ms
        change.changed = True
    record = find(change, msg.client_order_id, msg.exchange_order_id)
    key = (int(msg.trade_id), int(msg.exchange_order_id))
    if record is None:
        if key in change.committed.forgotten_fill_keys or any(
            (u.trade_id, u.exchange_order_id) == key for u in change.committed.unmatched_fills
        ) or key in {(u.trade_id, u.exchange_order_id) for u in change.unmatched_add}:
            return
        change.unmatched_add.append(msg)
        change.changed = True
        change.send(FillUnmatched(exchange_order_id=msg.exchange_order_id,
                                  trade_id=msg.trade_id, trading_pair=msg.trading_pair,
                                  amount=msg.amount, ts_init=now))
        return
    book_fill(change, record, msg, now)


def book_fill(change: Change, record: OrderRecord, msg: FillReported, now: int) -> None:
    if record.has_fill(msg.trade_id, msg.exchange_order_id):
        return  # duplicate (snapshot replay, reconnect, query overlap)
    if msg.side is not record.side:
        change.emit(orders.OrderAnomalyDetected, record, now, msg.ts_event,
                    reason=f"fill {msg.trade_id} is a {msg.side.value} for a "
                          f"{record.side.value} order; not booked")
        return
    oid = msg.exchange_order_id
    leg = legs.relation(record, oid)
    if leg == legs.NEW:
        record = legs.advance(change, record, oid, now)
    amount = record.amount
    if leg == legs.OLD and record.leg_size is not None:
        amount += msg.amount  # on top of the replacement the venue sized without it
    room = amount - record.filled
    booked = min(msg.amount, room)
    if booked < msg.amount:
        change.emit(orders.OrderAnomalyDetected, record, now, msg.ts_event,
                    reason=f"overfill: fill {msg.trade_id} of {msg.amount} exceeds the "
                          f"{room} left; {msg.amount - booked} not booked")
    if booked <= 0:
        return
    if leg == legs.OLD and record.leg_size is not None:
        amount = record.amount + booked
    fill = OrderFill(trade_id=msg.trade_id, exchange_order_id=oid, price=msg.price,
                     amount=booked, fee=msg.fee, fee_asset=msg.fee_asset,
                     liquidity=msg.liquidity, ts_event=msg.ts_event)
    filled = record.filled + booked
    changes: dict[str, object] = {"filled": filled, "fills": (*record.fills, fill)}
    if amount != record.amount:
        changes["amount"] = amount
    extra = {
        "fill_price": msg.price, "fill_amount": booked, "fee": msg.fee,
        "fee_asset": msg.fee_asset, "trade_id": msg.trade_id, "liquidity": msg.liquidity,
    }
    if record.state.is_terminal:
        change.fire(record, Trigger.LATE_FILL, now, ts_event=msg.ts_event, changes=changes,
                    extra={**extra, "late": True})
        return
    trigger = Trigger.FILL_COMPLETE if filled >= amount else Trigger.FILL
    new = change.fire(record, trigger, now, ts_event=msg.ts_event, changes=changes, extra=extra)
    if new is None:
        return
    awaiting = new.awaiting
    if awaiting is not None and not new.state.is_terminal and new.filled >= (
        awaiting.expected_filled
    ):
        # (a rejected replacement waiting for its fills ends CANCELLED: it has one now)
        finish(change, new, awaiting.target, awaiting.reason, now)
