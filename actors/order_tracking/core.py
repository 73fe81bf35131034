"""`OrderTrackerCore`: the single writer of order state, with no threads and no I/O.

Every input goes through `handle(message, now_ns)`: the handler computes its changes in a
`Change` (stage.py) that reads this core's committed state; if anything changed, the input is
appended to the journal (``[now_ns, message]``) and only then applied. Replaying the journal
through the same handlers with ``replay=True`` rebuilds the state exactly and publishes nothing
(events and requests are dropped), so a recovered tracker never emits an event twice.

Imports run one way: this module imports the handler modules (commands, evidence, fills,
upkeep), they import `stage`, `records` and `lifecycle`, and nothing in the folder imports this
module (the handlers see the committed state through `stage.Committed`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import attrs
import msgpack

from actors.order_tracking import commands, evidence, fills, upkeep
from actors.order_tracking.config import TrackerConfig
from actors.order_tracking.index import OrderIndex
from actors.order_tracking.records import OrderRecord, record_from_list, record_to_list
from actors.order_tracking.stage import Change
from messages import codec
from messages.account import NonUserCancelReported
from messages.commands import CancelAll, CancelOrder, ModifyOrder, SubmitOrder
from messages.enums import OrderState
from messages.gate import SignerBacklog
from messages.ids import ClientOrderId, ExchangeOrderId
from messages.orders import OrderEvent
from messages.tracking import (
    OrderDenied,
    OrderFill,
    ReconcileAll,
    RequestSent,
    TrackedOrder,
    TrackerRecovered,
    TrackerTick,
)
from messages.venue import (
    CancelAnswered,
    FillReported,
    FillsReported,
    ModifyAnswered,
    NonceInvalidated,
    OpenOrdersReported,
    OrderNotFoundReported,
    OrderStatusReported,
    RequestFailed,
    SubmitAnswered,
)

log = logging.getLogger(__name__)
SNAPSHOT_VERSION = 1
_TERMINAL = (OrderState.FILLED, OrderState.CANCELLED, OrderState.FAILED)


class JournalWriter(Protocol):
    def append(self, payload: bytes) -> int: ...


@attrs.frozen
class Outcome:
    """What one input produced: order events (for subscribers) and requests for other actors."""

    events: tuple[object, ...] = ()
    outbox: tuple[object, ...] = ()


Handler = Callable[[Change, Any, int], None]

_HANDLERS: dict[type, Handler] = {
    SubmitOrder: commands.on_submit,
    OrderDenied: commands.on_denied,
    RequestSent: commands.on_sent,
    RequestFailed: commands.on_request_failed,
    CancelOrder: commands.on_cancel,
    CancelAll: commands.on_cancel_all,
    ModifyOrder: commands.on_modify,
    SubmitAnswered: evidence.on_submit_answered,
    CancelAnswered: evidence.on_cancel_answered,
    ModifyAnswered: evidence.on_modify_answered,
    OrderStatusReported: evidence.on_status,
    OrderNotFoundReported: evidence.on_not_found,
    FillReported: fills.on_fill,
    FillsReported: fills.on_fills,
    OpenOrdersReported: evidence.on_open_orders,
    NonUserCancelReported: evidence.on_non_user_cancel,
    NonceInvalidated: evidence.on_nonce_invalidated,
    TrackerTick: upkeep.on_tick,
    TrackerRecovered: upkeep.on_recovered,
    ReconcileAll: upkeep.on_reconcile_all,
    SignerBacklog: commands.on_signer_started,
}

INPUT_TYPES = tuple(_HANDLERS)


class OrderTrackerCore:
    """The committed state (a `stage.Committed`), and the one entry point that changes it."""

    def __init__(self, config: TrackerConfig | None = None,
                 journal: JournalWriter | None = None) -> None:
        self.config = config or TrackerConfig()
        self.journal = journal
        self.orders: dict[ClientOrderId, OrderRecord] = {}
        self.oid_index: dict[ExchangeOrderId, ClientOrderId] = {}
        self.sequence = 0
        self.last_fill_ms: int | None = None
        self.forgotten_fill_keys: OrderedDict[tuple[int, int], None] = OrderedDict()
        self.unmatched_fills: list[FillReported] = []
        self.journaled = 0
        """Records appended since start (drives snapshot cadence)."""
        self.live_count = 0
        """Orders not yet terminal (the open-order cap)."""
        self.index = OrderIndex()
        """Live orders in order, finished ones by age: a tick visits only what it must."""
        self.next_reconcile_ns: int | None = None
        """When the periodic reconciliation is due (not state: a new incarnation reconciles at
        recovery and starts counting again)."""
        self.fills_complete_ms: int | None = None
        """Every fill up to this venue time is booked: a complete, echoed fills answer that
        started at or before the previous mark proved it. Full reconciliations ask from here.
        Journaled and snapshotted like state: a new incarnation asks from where the last one
        had got to (before any mark, from `fills_floor_ms`)."""
        self.recovered_events: list[OrderEvent] = []
        """Events rebuilt by `restore` with ``reemit_after`` (for the durable event log)."""
        self.reemit_gap: tuple[int, int] | None = None
        """Events `restore` was asked to rebuild but could not: they precede the snapshot."""

    # --- the one entry point --------------------------------------------------------------
    def handle(self, message: object, now_ns: int, *, replay: bool = False,
               rebuild_after: int | None = None) -> Outcome:
        handler = _HANDLERS.get(type(message))
        if handler is None:
            raise TypeError(f"the order tracker does not handle {type(message).__name__}")
        change = Change(self, replay, rebuild_after)
        handler(change, message, now_ns)
        self._match_unmatched(change, now_ns)
        if change.changed:
            if not replay and self.journal is not None:
                self.journal.append(encode_record(message, now_ns))
                self.journaled += 1
            self._commit(change)
        self.fills_complete_ms = change.fills_complete_ms
        if replay:
            if change.events:
                self.recovered_events.extend(
                    e for e in change.events if isinstance(e, OrderEvent))
            return Outcome()
        self.next_reconcile_ns = change.next_reconcile_ns
        return Outcome(tuple(change.events), tuple(change.outbox))

    def _commit(self, change: Change) -> None:
        orders = self.orders
        self.index.commit(orders, change.removed, change.orders)
        live = self.live_count
        for cloid in change.removed:
            record = orders.pop(cloid, None)
            if record is not None:
                live -= not record.state.is_terminal
                for oid in (record.exchange_order_id, *record.replaced_oids):
                    if oid is not None and self.oid_index.get(oid) == cloid:
                        del self.oid_index[oid]
        for cloid, record in change.orders.items():
            # (tuple membership compares by identity first: no enum hashing on the hot path)
            old = orders.get(cloid)
            if old is None:
                live += record.state not in _TERMINAL
            elif old.state is not record.state:
                live += (record.state not in _TERMINAL) - (old.state not in _TERMINAL)
        self.live_count = live
        orders.update(change.orders)
        self.oid_index.update(change.oids)
        for record in change.orders.values():
            for oid in record.replaced_oids:
                self.oid_index[oid] = record.client_order_id
        self.sequence = change.sequence
        self.last_fill_ms = change.last_fill_ms
        window = self.forgotten_fill_keys
        for key in change.fill_keys_forgotten:
            window[key] = None
        while len(window) > self.config.fill_key_window:
            window.popitem(last=False)
        if change.unmatched_remove:
            self.unmatched_fills = [
                f for f in self.unmatched_fills
                if (int(f.trade_id), int(f.exchange_order_id)) not in change.unmatched_remove
            ]
        if change.unmatched_add:
            self.unmatched_fills.extend(change.unmatched_add)
            del self.unmatched_fills[: max(0, len(self.unmatched_fills)
                                           - self.config.unmatched_fill_limit)]

    def _match_unmatched(self, change: Change, now: int) -> None:
        """Book buffered fills whose order became known through this input."""
        if not self.unmatched_fills or not change.orders:
            return
        for fill in list(self.unmatched_fills):
            key = (int(fill.trade_id), int(fill.exchange_order_id))
            if key in change.unmatched_remove:
                continue
            record = None
            if fill.client_order_id is not None:
                record = change.orders.get(fill.client_order_id)
            if record is None:
                cloid = change.oids.get(fill.exchange_order_id)
                record = change.orders.get(cloid) if cloid is not None else None
            if record is not None:
                change.unmatched_remove.add(key)
                fills.book_fill(change, record, fill, now)

    # --- queries ---------------------------------------------------------------------------
    def get(self, cloid: ClientOrderId) -> TrackedOrder | None:
        record = self.orders.get(cloid)
        return None if record is None else record.view()

    def open_orders(
        self, trading_pair: str | None = None, strategy_id: str | None = None
    ) -> tuple[TrackedOrder, ...]:
        return tuple(
            r.view() for r in sorted(self.orders.values(), key=lambda r: r.created_ns)
            if not r.state.is_terminal
            and (trading_pair is None or r.trading_pair == trading_pair)
            and (strategy_id is None or r.strategy_id == strategy_id)
        )

    def orders_of_pair(self, trading_pair: str) -> tuple[TrackedOrder, ...]:
        return tuple(r.view() for r in self.orders.values() if r.trading_pair == trading_pair)

    def fills(self, cloid: ClientOrderId) -> tuple[OrderFill, ...]:
        record = self.orders.get(cloid)
        return () if record is None else record.fills

    def state_digest(self) -> dict[str, Any]:
        """Everything that defines the tracker's state (equality = same state)."""
        return {
            "orders": {c: record_to_list(r) for c, r in sorted(self.orders.items())},
            "sequence": self.sequence,
            "last_fill_ms": self.last_fill_ms,
            "forgotten": list(self.forgotten_fill_keys),
            "unmatched": [codec.to_primitive(f) for f in self.unmatched_fills],
        }

    # --- persistence -----------------------------------------------------------------------
    def snapshot(self) -> bytes:
        packed: bytes = msgpack.packb({
            "v": SNAPSHOT_VERSION,
            "sequence": self.sequence,
            "last_fill_ms": self.last_fill_ms,
            "fills_complete_ms": self.fills_complete_ms,
            "orders": [record_to_list(r) for r in self.orders.values()],
            "forgotten": [list(k) for k in self.forgotten_fill_keys],
            "unmatched": [codec.to_primitive(f) for f in self.unmatched_fills],
        }, use_bin_type=True)
        return packed

    def restore(self, snapshot: bytes | None, records: Iterable[bytes], *,
                reemit_after: int | None = None) -> int:
        """Rebuild state from a snapshot and the journal records after it; returns how many
        records were replayed. Publishes nothing.

        With ``reemit_after``, the events the replay computes whose sequence is above it are
        built exactly as the live run built them (same fields, same timestamps: each record
        carries its input's time) and collected in `recovered_events`: what a crashed
        incarnation emitted but the durable event log may not have recorded. Events at or
        below the snapshot's sequence cannot be rebuilt (`reemit_gap` says which were asked).
        """
        self.recovered_events = []
        self.reemit_gap = None
        if snapshot is not None:
            self._load_snapshot(snapshot)
            if reemit_after is not None and reemit_after < self.sequence:
                self.reemit_gap = (reemit_after + 1, self.sequence)
                log.warning("order events %d..%d precede the tracker snapshot and cannot be "
                            "rebuilt", reemit_after + 1, self.sequence)
        replayed = 0
        for payload in records:
            now_ns, message = decode_record(payload)
            self.handle(message, now_ns, replay=True, rebuild_after=reemit_after)
            replayed += 1
        return replayed

    def _load_snapshot(self, snapshot: bytes) -> None:
        data = msgpack.unpackb(snapshot, raw=False)
        if data.get("v") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported tracker snapshot version {data.get('v')!r}")
        self.orders = {}
        self.oid_index = {}
        for item in data["orders"]:
            record = record_from_list(item)
            self.orders[record.client_order_id] = record
            for oid in (record.exchange_order_id, *record.replaced_oids):
                if oid is not None:
                    self.oid_index[oid] = record.client_order_id
        self.live_count = sum(not r.state.is_terminal for r in self.orders.values())
        self.index.rebuild(self.orders)
        self.sequence = data["sequence"]
        self.last_fill_ms = data["last_fill_ms"]
        self.fills_complete_ms = data.get("fills_complete_ms")  # absent before it was kept
        self.forgotten_fill_keys = OrderedDict((tuple(k), None) for k in data["forgotten"])
        self.unmatched_fills = [codec.from_primitive(f) for f in data["unmatched"]]


def encode_record(message: object, now_ns: int) -> bytes:
    packed: bytes = msgpack.packb([now_ns, codec.to_primitive(message)], use_bin_type=True)
    return packed


def decode_record(payload: bytes) -> tuple[int, object]:
    try:
        now_ns, primitive = msgpack.unpackb(payload, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise codec.CodecError(f"not a tracker journal record: {exc}") from exc
    message = codec.from_primitive(primitive)
    if type(message) not in _HANDLERS:
        raise codec.CodecError(f"journal record holds a {type(message).__name__}")
    return now_ns, message
