"""One input's changes, staged: computed first, journaled, then applied (or dropped on error).

Handlers never mutate the tracker's state directly. Each gets the input's `Change`, which
overlays the changes computed so far on the committed state (`Committed`, read-only here) and
takes their writes, and which carries what they need besides: the configuration and the
requests to the venue side. The tracker journals the input only if the change holds something,
then commits it in one step — so a handler that raises leaves the state and the journal exactly
as they were.

This module sits below the handler modules and `core` (which owns the committed state and
satisfies `Committed`): it imports neither, so the folder's imports run one way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from actors.order_tracking.config import TrackerConfig
from actors.order_tracking.index import OrderIndex
from actors.order_tracking.lifecycle import Trigger, transition
from actors.order_tracking.records import OrderRecord, evolve_record, make_event
from messages import orders
from messages.enums import OrderState
from messages.ids import ClientOrderId, ExchangeOrderId
from messages.tracking import FillsQuery, ReconcileRequested
from messages.venue import FillReported


class Committed(Protocol):
    """The tracker's committed state as an input's `Change` reads it, and its handlers through
    ``change.committed`` (`OrderTrackerCore` holds it).

    Read-only for handlers: what an input changes goes into its `Change`, which the core
    commits after journaling. (One exception: retention pops the stale entries and the orders
    it forgets off ``index``'s heap of finished orders as it goes.)"""

    @property
    def config(self) -> TrackerConfig: ...
    @property
    def orders(self) -> Mapping[ClientOrderId, OrderRecord]: ...
    @property
    def oid_index(self) -> Mapping[ExchangeOrderId, ClientOrderId]: ...
    @property
    def index(self) -> OrderIndex: ...
    @property
    def live_count(self) -> int: ...
    @property
    def sequence(self) -> int: ...
    @property
    def last_fill_ms(self) -> int | None: ...
    @property
    def forgotten_fill_keys(self) -> Mapping[tuple[int, int], None]: ...
    @property
    def unmatched_fills(self) -> Sequence[FillReported]: ...
    @property
    def next_reconcile_ns(self) -> int | None: ...
    @property
    def fills_complete_ms(self) -> int | None: ...


class Change:
    """The changes one input makes. Reads see staged changes over the committed state."""

    __slots__ = (
        "changed", "committed", "config", "events", "fill_keys_forgotten", "fills_complete_ms",
        "last_fill_ms", "next_reconcile_ns", "oids", "orders", "outbox", "rebuild_after",
        "removed", "replay", "sequence", "unmatched_add", "unmatched_remove",
    )

    def __init__(self, committed: Committed, replay: bool = False,
                 rebuild_after: int | None = None) -> None:
        self.committed = committed
        self.config = committed.config
        self.replay = replay
        """Replaying the journal: events only advance the sequence (they are never published),
        except those past ``rebuild_after``, which are built as the live run built them."""
        self.rebuild_after = rebuild_after
        self.next_reconcile_ns = committed.next_reconcile_ns
        self.fills_complete_ms = committed.fills_complete_ms
        self.orders: dict[ClientOrderId, OrderRecord] = {}
        self.removed: set[ClientOrderId] = set()
        self.oids: dict[ExchangeOrderId, ClientOrderId] = {}
        self.events: list[object] = []
        self.outbox: list[object] = []
        self.sequence = committed.sequence
        self.last_fill_ms = committed.last_fill_ms
        self.unmatched_add: list[FillReported] = []
        self.unmatched_remove: set[tuple[int, int]] = set()
        self.fill_keys_forgotten: list[tuple[int, int]] = []
        self.changed = False
        """Something to journal and commit (a change need not touch an order)."""

    # --- reads ----------------------------------------------------------------------------
    def get(self, cloid: ClientOrderId) -> OrderRecord | None:
        if cloid in self.removed:
            return None
        staged = self.orders.get(cloid)
        return staged if staged is not None else self.committed.orders.get(cloid)

    def by_oid(self, oid: ExchangeOrderId) -> OrderRecord | None:
        cloid = self.oids.get(oid) or self.committed.oid_index.get(oid)
        return None if cloid is None else self.get(cloid)

    def all_orders(self) -> Iterator[OrderRecord]:
        """Committed orders in their dict order, then the ones this input created. The order is
        the same live and in a replay in another process (a set of str would follow the
        process's hash seed), so events numbered across several orders get the same numbers
        when a recovery rebuilds them."""
        committed = self.committed.orders
        cloids = list(committed)
        cloids.extend(c for c in self.orders if c not in committed)
        for cloid in cloids:
            record = self.get(cloid)
            if record is not None:
                yield record

    def live_orders(self) -> Iterator[OrderRecord]:
        """The orders not terminal: the committed live ones in their dict order (the index
        knows them without a scan of the finished ones), then those this input created or
        revived."""
        index = self.committed.index
        live = index.live
        cloids = index.live_in_order()
        cloids.extend(c for c, r in self.orders.items()
                      if c not in live and not r.state.is_terminal)
        for cloid in cloids:
            record = self.get(cloid)
            if record is not None and not record.state.is_terminal:
                yield record

    # --- writes ---------------------------------------------------------------------------
    def put(self, record: OrderRecord) -> None:
        self.orders[record.client_order_id] = record
        self.removed.discard(record.client_order_id)
        if record.exchange_order_id is not None:
            self.oids[record.exchange_order_id] = record.client_order_id
        self.changed = True

    def remove(self, record: OrderRecord) -> None:
        self.orders.pop(record.client_order_id, None)
        self.removed.add(record.client_order_id)
        self.changed = True

    def emit(
        self,
        event_cls: type[orders.OrderEvent],
        record: OrderRecord,
        now: int,
        ts_event: int | None,
        **extra: Any,
    ) -> orders.OrderEvent | None:
        self.sequence += 1
        self.changed = True
        if self.replay and (self.rebuild_after is None or self.sequence <= self.rebuild_after):
            return None
        event = make_event(
            event_cls, record, sequence=self.sequence, ts_event=ts_event or now, ts_init=now,
            **extra,
        )
        self.events.append(event)
        return event

    def send(self, message: object) -> None:
        self.outbox.append(message)

    # --- requests to the venue side (messages into the outbox) ----------------------------
    def request_status(self, cloids: tuple[ClientOrderId, ...], now: int, reason: str) -> None:
        self.request_reconcile(cloids, now, reason, open_orders=False, fills=False)

    def request_fills(self, now: int, reason: str, since_ms: int) -> None:
        self.send(ReconcileRequested(
            client_order_ids=(), open_orders=False, fills_since_ms=since_ms, reason=reason,
            ts_init=now, fills_query=FillsQuery(since_ms=since_ms, origin_ms=since_ms,
                                                requested_ns=now)))

    def request_reconcile(
        self, cloids: tuple[ClientOrderId, ...], now: int, reason: str,
        *, open_orders: bool, fills: bool,
    ) -> None:
        since = None
        if fills:
            since = self.fills_complete_ms
            if since is None:
                since = self.fills_floor_ms(now)
        self.send(ReconcileRequested(
            client_order_ids=cloids, open_orders=open_orders, fills_since_ms=since,
            reason=reason, ts_init=now,
            fills_query=None if since is None else FillsQuery(since_ms=since, origin_ms=since,
                                                              requested_ns=now)))

    def fills_from_ms(self, records: Iterable[OrderRecord]) -> int:
        """Where a fill query for these orders starts: the oldest one's own time (a fill the
        stream lost may be older than the last fill seen), minus the lookback."""
        oldest = min(r.created_ns for r in records)
        return oldest // 1_000_000 - int(self.config.fills_lookback_s * 1000)

    def fills_floor_ms(self, now: int) -> int:
        """Where a full fill query starts when no earlier answer proved the fills complete: the
        oldest order held (a fill the stream lost may belong to an order already finished),
        but no further back than ``retention_s`` (older live orders are checked one by one
        against the venue's open orders), minus the lookback."""
        cfg = self.config
        oldest = min((r.created_ns for r in self.all_orders()), default=now)
        oldest = max(oldest, now - cfg.ns(cfg.retention_s))
        return oldest // 1_000_000 - int(cfg.fills_lookback_s * 1000)

    def fire(
        self,
        record: OrderRecord,
        trigger: Trigger,
        now: int,
        *,
        ts_event: int | None = None,
        changes: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> OrderRecord | None:
        """Apply ``trigger`` through the lifecycle table; None (and no change) if it does not
        apply in the record's state. ``changes`` are other record fields to set at the same
        time; ``extra`` are the event's own fields (reason, fill details…)."""
        before = record.before_cancel
        if before is OrderState.OPEN and record.filled > 0:
            before = OrderState.PARTIALLY_FILLED  # filled while the cancel was in flight
        result = transition(record.state, trigger, before)
        if result is None:
            return None
        target, event_cls = result
        fields: dict[str, Any] = {"state": target, "updated_ns": now}
        if changes:
            fields.update(changes)
        if target.is_terminal and not record.state.is_terminal:
            fields.setdefault("terminal_ns", now)
            fields["deadline_ns"] = None
            fields["awaiting"] = None
            fields["pending_modify"] = None
        if target is not OrderState.PENDING_CANCEL and record.state is OrderState.PENDING_CANCEL:
            fields.setdefault("before_cancel", None)
        new: OrderRecord = evolve_record(record, fields)
        self.put(new)
        self.emit(event_cls, new, now, ts_event, **(extra or {}))
        return new

    def create(
        self, record: OrderRecord, trigger: Trigger, now: int, **changes: Any
    ) -> OrderRecord:
        """Start tracking ``record`` through a row that begins from no state (TRACK, ADOPT)."""
        result = transition(None, trigger)
        if result is None:
            raise ValueError(f"{trigger} does not start an order")
        target, event_cls = result
        changes.setdefault("state", target)
        new: OrderRecord = evolve_record(record, changes)
        self.put(new)
        self.emit(event_cls, new, now, None)
        return new

    def update(self, record: OrderRecord, now: int, **changes: Any) -> OrderRecord:
        """Change bookkeeping fields without a lifecycle transition (no event)."""
        changes["updated_ns"] = now
        new: OrderRecord = evolve_record(record, changes)
        self.put(new)
        return new


def filled_at_venue(original: Decimal | None, remaining: Decimal) -> Decimal | None:
    return None if original is None else original - remaining
