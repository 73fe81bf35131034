"""The tracker's internal order record, its public view and its snapshot encoding.

Records are immutable: every change builds a new record, so a change computed for an input can
be journaled before it replaces the old one (validate → journal → apply).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from messages import orders
from messages.commands import SubmitOrder
from messages.enums import LiquiditySide, OrderSide, OrderState, OrderType, TimeInForce
from messages.ids import ClientOrderId, ExchangeOrderId, TradeId
from messages.tracking import OrderFill, TrackedOrder

ZERO = Decimal(0)


@attrs.frozen(kw_only=True)
class PendingModify:
    """A modify whose outcome the venue has not settled yet.

    ``stage``: ``sent`` — waiting for the answer; ``unknown`` — the answer was lost (timeout,
    5xx): the venue's status decides; ``rejected`` — the venue refused it, but a refused
    replacement may already have cancelled the old leg: the venue's status decides whether the
    order lives on (PROTOCOL §5.4, cancel-and-replace).
    """

    price: Decimal | None
    amount: Decimal | None
    """The order's new total (None: unchanged)."""
    trigger_price: Decimal | None
    sent_ns: int
    """When the tracker asked for it (the signer may send it later)."""
    leg_size: Decimal = Decimal(0)
    """The replacement's own size as sent: the new total minus what had filled."""
    expires_after_ms: int | None = None
    """The bound given to the signer, then the exact ``expiresAfter`` once it was sent."""
    reported_sent: bool = False
    stage: str = "sent"
    error: str = ""
    deadline_ns: int | None = None


@attrs.frozen(kw_only=True)
class Awaiting:
    """The venue has reported a terminal outcome; its fills have not all arrived yet.

    With ``verify_ns`` set the target is FAILED (a rejected replacement): the order may have
    fills on the legs it replaced that never arrived, and an order with fills is never FAILED,
    so the tracker asks for the order's fills at ``verify_ns`` and decides on the answer.
    """

    target: OrderState
    expected_filled: Decimal
    reason: str
    attempts: int
    verify_ns: int | None = None
    from_ms: int = 0


@attrs.frozen(kw_only=True)
class OrderRecord:
    client_order_id: ClientOrderId
    trading_pair: str
    side: OrderSide
    order_type: OrderType
    time_in_force: TimeInForce
    price: Decimal | None
    trigger_price: Decimal | None
    amount: Decimal
    reduce_only: bool
    strategy_id: str
    external: bool
    exchange_order_id: ExchangeOrderId | None
    state: OrderState
    filled: Decimal
    fills: tuple[OrderFill, ...]
    created_ns: int
    updated_ns: int
    before_cancel: OrderState | None = None
    cancel_queued: bool = False
    """A cancel arrived before the order was sent; it goes out as soon as the order does."""
    replaced_oids: tuple[ExchangeOrderId, ...] = ()
    """Legs a modify replaced (oids only grow: a smaller oid is an older leg)."""
    leg_size: Decimal | None = None
    """Once modified: the current leg's size; ``amount`` = fills on replaced legs + this."""
    pending_modify: PendingModify | None = None
    deferred_cancel: str | None = None
    """A ``canceled`` of the current leg held while a modify may have caused it."""
    awaiting: Awaiting | None = None
    deadline_ns: int | None = None
    sent_ns: int | None = None
    expires_after_ms: int | None = None
    not_found: int = 0
    terminal_ns: int | None = None

    @classmethod
    def from_submit(cls, order: SubmitOrder, now_ns: int) -> OrderRecord:
        return cls(
            client_order_id=order.client_order_id,
            trading_pair=order.trading_pair,
            side=order.side,
            order_type=order.order_type,
            time_in_force=order.effective_time_in_force,
            price=order.price,
            trigger_price=order.trigger_price,
            amount=order.amount,
            reduce_only=order.reduce_only,
            strategy_id=order.strategy_id,
            external=False,
            exchange_order_id=None,
            state=OrderState.PENDING_CREATE,
            filled=ZERO,
            fills=(),
            created_ns=now_ns,
            updated_ns=now_ns,
        )

    def has_fill(self, trade_id: int, exchange_order_id: int) -> bool:
        return any(
            f.trade_id == trade_id and f.exchange_order_id == exchange_order_id for f in self.fills
        )

    def filled_off(self, oid: ExchangeOrderId | None) -> Decimal:
        """Booked fills on legs other than ``oid``."""
        return sum((f.amount for f in self.fills if f.exchange_order_id != oid), ZERO)

    def as_submit(self) -> SubmitOrder:
        """The order as a command (what the signer needs to place or replace it)."""
        return SubmitOrder(
            client_order_id=self.client_order_id,
            trading_pair=self.trading_pair,
            side=self.side,
            order_type=self.order_type,
            amount=self.amount,
            price=self.price,
            time_in_force=self.time_in_force,
            trigger_price=self.trigger_price,
            reduce_only=self.reduce_only,
            strategy_id=self.strategy_id,
        )

    def view(self) -> TrackedOrder:
        return TrackedOrder(
            client_order_id=self.client_order_id,
            exchange_order_id=self.exchange_order_id,
            trading_pair=self.trading_pair,
            side=self.side,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            price=self.price,
            trigger_price=self.trigger_price,
            amount=self.amount,
            filled_amount=self.filled,
            reduce_only=self.reduce_only,
            state=self.state,
            strategy_id=self.strategy_id,
            external=self.external,
            fills=self.fills,
            created_ns=self.created_ns,
            updated_ns=self.updated_ns,
        )


def _compile_evolve() -> Any:
    """``evolve(record, changes)`` specialised for OrderRecord: one generated function that
    reads each field once (``attrs.evolve`` walks the class's fields generically and costs
    ~9 µs per call, the largest cost of a transition and of journal replay)."""
    names = [f.name for f in attrs.fields(OrderRecord)]
    args = ", ".join(f"{n}=c.get({n!r}, r.{n})" if n != "client_order_id"
                     else f"{n}=r.{n}" for n in names)
    namespace: dict[str, Any] = {"OrderRecord": OrderRecord}
    source = f"def evolve(r, c):\n    return OrderRecord({args})\n"
    exec(compile(source, "<OrderRecord.evolve>", "exec"), namespace)  # noqa: S102
    return namespace["evolve"]


evolve_record = _compile_evolve()
"""``evolve_record(record, changes: dict) -> OrderRecord`` (the cloid never changes)."""


def make_event(
    event_cls: type[orders.OrderEvent],
    record: OrderRecord,
    *,
    sequence: int,
    ts_event: int,
    ts_init: int,
    **extra: Any,
) -> orders.OrderEvent:
    return event_cls(
        client_order_id=record.client_order_id,
        exchange_order_id=record.exchange_order_id,
        trading_pair=record.trading_pair,
        side=record.side,
        order_type=record.order_type,
        price=record.price,
        amount=record.amount,
        filled_amount=record.filled,
        order_state=record.state,
        strategy_id=record.strategy_id,
        sequence=sequence,
        ts_event=ts_event,
        ts_init=ts_init,
        **extra,
    )


# --- snapshot encoding ------------------------------------------------------------------


def _d(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _D(value: str | None) -> Decimal | None:  # noqa: N802 - mirrors _d
    return None if value is None else Decimal(value)


def _fill_to_list(f: OrderFill) -> list[Any]:
    return [f.trade_id, f.exchange_order_id, str(f.price), str(f.amount), str(f.fee),
            f.fee_asset, f.liquidity.value, f.ts_event]


def _fill_from_list(v: list[Any]) -> OrderFill:
    return OrderFill(
        trade_id=TradeId(v[0]), exchange_order_id=ExchangeOrderId(v[1]), price=Decimal(v[2]),
        amount=Decimal(v[3]), fee=Decimal(v[4]), fee_asset=v[5], liquidity=LiquiditySide(v[6]),
        ts_event=v[7],
    )


def _pm_to_list(pm: PendingModify) -> list[Any]:
    return [_d(pm.price), _d(pm.amount), _d(pm.trigger_price), pm.sent_ns, str(pm.leg_size),
            pm.expires_after_ms, pm.reported_sent, pm.stage, pm.error, pm.deadline_ns]


def _pm_from_list(v: list[Any]) -> PendingModify:
    pm = PendingModify(price=_D(v[0]), amount=_D(v[1]), trigger_price=_D(v[2]), sent_ns=v[3])
    if len(v) > 4:  # snapshots written before issue 10 stop here
        pm = attrs.evolve(pm, leg_size=Decimal(v[4]), expires_after_ms=v[5],
                          reported_sent=v[6], stage=v[7], error=v[8], deadline_ns=v[9])
    return pm


def _aw_to_list(aw: Awaiting) -> list[Any]:
    return [aw.target.value, str(aw.expected_filled), aw.reason, aw.attempts, aw.verify_ns,
            aw.from_ms]


def _aw_from_list(v: list[Any]) -> Awaiting:
    extra = {"verify_ns": v[4], "from_ms": v[5]} if len(v) > 4 else {}
    return Awaiting(target=OrderState(v[0]), expected_filled=Decimal(v[1]), reason=v[2],
                    attempts=v[3], **extra)


def record_to_list(r: OrderRecord) -> list[Any]:
    pm = r.pending_modify
    aw = r.awaiting
    return [
        str(r.client_order_id), r.trading_pair, r.side.value, r.order_type.value,
        r.time_in_force.value, _d(r.price), _d(r.trigger_price), str(r.amount), r.reduce_only,
        r.strategy_id, r.external, r.exchange_order_id, r.state.value, str(r.filled),
        [_fill_to_list(f) for f in r.fills], r.created_ns, r.updated_ns,
        None if r.before_cancel is None else r.before_cancel.value, r.cancel_queued,
        list(r.replaced_oids),
        None if pm is None else _pm_to_list(pm),
        r.deferred_cancel,
        None if aw is None else _aw_to_list(aw),
        r.deadline_ns, r.sent_ns, r.expires_after_ms, r.not_found, r.terminal_ns,
        _d(r.leg_size),
    ]


_SIDES = {e.value: e for e in OrderSide}
_TYPES = {e.value: e for e in OrderType}
_TIFS = {e.value: e for e in TimeInForce}
_STATES = {e.value: e for e in OrderState}


def record_from_list(v: list[Any]) -> OrderRecord:
    """Decode a snapshot record. Snapshots are written by this module and CRC-checked by the
    journal, so the cloid is trusted as is (re-validating 10k ids is a third of recovery)."""
    pm, aw = v[20], v[22]
    return OrderRecord(
        client_order_id=str.__new__(ClientOrderId, v[0]), trading_pair=v[1], side=_SIDES[v[2]],
        order_type=_TYPES[v[3]], time_in_force=_TIFS[v[4]], price=_D(v[5]),
        trigger_price=_D(v[6]), amount=Decimal(v[7]), reduce_only=v[8], strategy_id=v[9],
        external=v[10], exchange_order_id=v[11],
        state=_STATES[v[12]], filled=Decimal(v[13]),
        fills=tuple(_fill_from_list(f) for f in v[14]) if v[14] else (), created_ns=v[15],
        updated_ns=v[16],
        before_cancel=None if v[17] is None else _STATES[v[17]], cancel_queued=v[18],
        replaced_oids=tuple(ExchangeOrderId(o) for o in v[19]),
        pending_modify=None if pm is None else _pm_from_list(pm),
        deferred_cancel=v[21],
        awaiting=None if aw is None else _aw_from_list(aw),
        deadline_ns=v[23], sent_ns=v[24], expires_after_ms=v[25], not_found=v[26],
        terminal_ns=v[27], leg_size=_D(v[28]) if len(v) > 28 else None,
    )


def proof_ns(record: OrderRecord, grace_s: float) -> int | None:
    """From when "unknown to the venue" proves the order never placed (its expiresAfter +
    grace has passed; None without an expiry)."""
    expires = record.expires_after_ms
    return None if expires is None else (expires + int(grace_s * 1000) + 1) * 1_000_000


def proof_ahead(record: OrderRecord, grace_s: float, now: int) -> bool:
    """Never reported sent (and no sign of the venue's), before its proof time (`proof_ns`):
    "unknown to the venue" cannot decide yet, so asking the venue is wasted (its deadline asks
    at the proof time at the latest)."""
    proof = proof_ns(record, grace_s)
    return (record.sent_ns is None and record.exchange_order_id is None and not record.fills
            and not record.replaced_oids and proof is not None and now < proof)
