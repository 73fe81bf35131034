"""Venue evidence: facts the venue layer reports about orders (input to the order tracker).

These come from the answers to our requests, from the user stream and from queries; the order
tracker applies them through its transition table. They carry the venue's own status strings as
``raw_status``/``error`` so nothing the venue said is lost.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.enums import (
    EvidenceSource,
    LiquiditySide,
    OrderSide,
    RequestKind,
    SubmitOutcome,
    VenueOrderStatus,
)
from messages.ids import ClientOrderId, ExchangeOrderId, TradeId
from messages.tracking import FillsQuery


@attrs.frozen(kw_only=True)
class SubmitAnswered:
    """The venue's answer for one order of a submitted batch (or of a modify)."""

    client_order_id: ClientOrderId
    outcome: SubmitOutcome
    exchange_order_id: ExchangeOrderId | None
    filled_amount: Decimal | None
    """For ``FILLED``: the size filled immediately (an IOC may fill less than asked)."""
    average_price: Decimal | None
    error: str
    ts_init: int


@attrs.frozen(kw_only=True)
class CancelAnswered:
    client_order_id: ClientOrderId
    success: bool
    error: str
    ts_init: int


@attrs.frozen(kw_only=True)
class ModifyAnswered:
    """The venue's answer to a modify: on success the order lives on under a new oid."""

    client_order_id: ClientOrderId
    outcome: SubmitOutcome
    exchange_order_id: ExchangeOrderId | None
    error: str
    ts_init: int


@attrs.frozen(kw_only=True)
class RequestFailed:
    """A request got no usable answer, or an answer that rejects the whole action.

    ``definitive`` is True only when the venue certainly did not act (an ``err`` answer for the
    whole action, or a 4xx); a timeout, a dropped connection or a 5xx is never definitive,
    because the action may have executed.
    """

    kind: RequestKind
    client_order_ids: tuple[ClientOrderId, ...]
    reason: str
    definitive: bool
    ts_init: int


@attrs.frozen(kw_only=True)
class NonceInvalidated:
    """The venue's answer to a ``noop`` that spent the nonce of a request whose outcome was
    unknown (execution → tracker).

    ``executed``: False — the request never executed and never will (the noop took its nonce);
    True — it had executed (the venue answered "duplicate nonce"); None — it can no longer
    execute (its nonce fell below the venue's window) but may have executed before.
    """

    kind: RequestKind
    client_order_ids: tuple[ClientOrderId, ...]
    nonce: int
    executed: bool | None
    ts_init: int


@attrs.frozen(kw_only=True)
class OrderStatusReported:
    """The venue's view of one order (orderUpdates, orderStatus, openOrders, historicalOrders)."""

    client_order_id: ClientOrderId | None
    exchange_order_id: ExchangeOrderId
    trading_pair: str
    side: OrderSide
    status: VenueOrderStatus
    raw_status: str
    price: Decimal
    original_amount: Decimal | None
    remaining_amount: Decimal
    source: EvidenceSource
    ts_event: int
    ts_init: int


@attrs.frozen(kw_only=True)
class OrderNotFoundReported:
    """The venue has no order with this client order id (orderStatus → unknownOid)."""

    client_order_id: ClientOrderId
    ts_init: int


@attrs.frozen(kw_only=True)
class FillReported:
    """One of the account's fills. Deduplication key: (trade_id, exchange_order_id)."""

    client_order_id: ClientOrderId | None
    exchange_order_id: ExchangeOrderId
    trade_id: TradeId
    trading_pair: str
    side: OrderSide
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: LiquiditySide
    closed_pnl: Decimal
    start_position: Decimal
    direction: str
    tx_hash: str
    source: EvidenceSource
    ts_event: int
    ts_init: int


@attrs.frozen(kw_only=True)
class OpenOrdersReported:
    """Every open order of the account, as one consistent snapshot (reconciliation input)."""

    orders: tuple[OrderStatusReported, ...]
    ts_init: int


@attrs.frozen(kw_only=True)
class FillsReported:
    """A batch of fills (a stream snapshot, or a query page)."""

    fills: tuple[FillReported, ...]
    is_snapshot: bool
    ts_init: int
    query: FillsQuery | None = None
    """For a query page: the `ReconcileRequested.fills_query` it answers (None: a stream batch,
    or a venue side that does not echo it)."""
