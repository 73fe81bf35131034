"""Time-driven work: deadlines, fill waits, retention, recovery and reconnect reconciliation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.order_tracking.evidence import finish
from actors.order_tracking.lifecycle import Trigger
from actors.order_tracking.stage import Stage
from messages import orders
from messages.enums import OrderState
from messages.ids import ClientOrderId
from messages.tracking import ReconcileAll, TrackerRecovered, TrackerTick

if TYPE_CHECKING:
    from actors.order_tracking.core import OrderTrackerCore

S = OrderState


def on_tick(core: OrderTrackerCore, stage: Stage, msg: TrackerTick, now: int) -> None:
    cfg = core.config
    to_query: list[ClientOrderId] = []
    want_fills = False
    requery = now + cfg.ns(cfg.unknown_requery_s)
    for record in list(stage.all_orders()):
        if record.state.is_terminal:
            if record.terminal_ns is not None and now - record.terminal_ns >= cfg.ns(
                cfg.retention_s
            ):
                stage.remove(record)
                stage.fill_keys_forgotten.extend(
                    (int(f.trade_id), int(f.exchange_order_id)) for f in record.fills
                )
            continue
        pm = record.pending_modify
        if pm is not None and now - pm.sent_ns >= cfg.ns(cfg.modify_timeout_s):
            new = stage.fire(record, Trigger.UNCERTAIN, now,
                             changes={"pending_modify": None, "deadline_ns": requery},
                             extra={"reason": "no answer to a modify"})
            if new is not None:
                to_query.append(new.client_order_id)
            continue
        if record.deadline_ns is None or now < record.deadline_ns:
            continue
        awaiting = record.awaiting
        if awaiting is not None:
            if awaiting.attempts >= cfg.fill_wait_attempts:
                stage.emit(orders.OrderAnomalyDetected, record, now, None,
                           reason=f"venue reported {awaiting.expected_filled} filled; only "
                                  f"{record.filled} arrived after {awaiting.attempts} queries")
                finish(stage, record, awaiting.target, awaiting.reason, now)
                if awaiting.target is S.FILLED:
                    stage.update(record, now, awaiting=None, deadline_ns=None)
            else:
                stage.update(record, now,
                             awaiting=type(awaiting)(target=awaiting.target,
                                                     expected_filled=awaiting.expected_filled,
                                                     reason=awaiting.reason,
                                                     attempts=awaiting.attempts + 1),
                             deadline_ns=now + cfg.ns(cfg.fill_wait_s))
                want_fills = True
            continue
        if record.state in (S.SUBMITTED, S.PENDING_CANCEL):
            trigger, reason = Trigger.TIMEOUT, f"no answer within the {record.state.value} deadline"
        elif record.state is S.PENDING_CREATE:
            trigger, reason = Trigger.UNCERTAIN, "never reported sent before its expiry"
        elif record.state is S.UNKNOWN:
            stage.update(record, now, deadline_ns=requery)
            to_query.append(record.client_order_id)
            continue
        else:
            stage.update(record, now, deadline_ns=None)
            continue
        new = stage.fire(record, trigger, now, changes={"deadline_ns": requery},
                         extra={"reason": reason})
        if new is not None:
            to_query.append(new.client_order_id)
    _expire_unmatched(core, stage, now)
    if to_query:
        core.request_status(stage, tuple(to_query), now, "deadline")
    if want_fills:
        core.request_fills(stage, now, "waiting for fills the venue reported")


def _expire_unmatched(core: OrderTrackerCore, stage: Stage, now: int) -> None:
    ttl = core.config.ns(core.config.unmatched_fill_ttl_s)
    for fill in core.unmatched_fills:
        if now - fill.ts_init >= ttl:
            stage.unmatched_remove.add((int(fill.trade_id), int(fill.exchange_order_id)))
            stage.changed = True


def on_recovered(core: OrderTrackerCore, stage: Stage, msg: TrackerRecovered, now: int) -> None:
    """After journal recovery: orders caught between tracking and sending may be live."""
    requery = now + core.config.ns(core.config.unknown_requery_s)
    for record in list(stage.all_orders()):
        if record.state is S.PENDING_CREATE:
            stage.fire(record, Trigger.UNCERTAIN, now, changes={"deadline_ns": requery},
                       extra={"reason": "restarted before the order was reported sent"})
    reconcile_everything(core, stage, now, "recovery")


def on_reconcile_all(core: OrderTrackerCore, stage: Stage, msg: ReconcileAll, now: int) -> None:
    reconcile_everything(core, stage, now, msg.reason)


def reconcile_everything(core: OrderTrackerCore, stage: Stage, now: int, reason: str) -> None:
    uncertain = tuple(
        r.client_order_id for r in stage.all_orders()
        if r.state in (S.UNKNOWN, S.SUBMITTED, S.PENDING_CANCEL)
    )
    core.request_reconcile(stage, uncertain, now, reason, open_orders=True, fills=True)
