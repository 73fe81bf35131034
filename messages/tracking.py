"""The order tracker's protocol: what execution tells it, what it asks for, what it answers.

`TrackedOrder` is the immutable picture of one order that queries return; `OrderFill` is one
booked fill inside it.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.commands import SubmitOrder
from messages.enums import LiquiditySide, OrderSide, OrderState, OrderType, RequestKind, TimeInForce
from messages.ids import ClientOrderId, ExchangeOrderId, TradeId


@attrs.frozen(kw_only=True)
class OrderFill:
    trade_id: TradeId
    exchange_order_id: ExchangeOrderId
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: LiquiditySide
    ts_event: int


@attrs.frozen(kw_only=True)
class TrackedOrder:
    """An order as the tracker knows it (query answer)."""

    client_order_id: ClientOrderId
    exchange_order_id: ExchangeOrderId | None
    trading_pair: str
    side: OrderSide
    order_type: OrderType
    time_in_force: TimeInForce
    price: Decimal | None
    trigger_price: Decimal | None
    amount: Decimal
    filled_amount: Decimal
    reduce_only: bool
    state: OrderState
    strategy_id: str
    external: bool
    """Adopted from the venue (not placed by this runtime)."""
    fills: tuple[OrderFill, ...]
    created_ns: int
    updated_ns: int

    @property
    def remaining_amount(self) -> Decimal:
        return self.amount - self.filled_amount

    @property
    def average_fill_price(self) -> Decimal | None:
        if not self.fills:
            return None
        notional = sum((f.price * f.amount for f in self.fills), Decimal(0))
        size = sum((f.amount for f in self.fills), Decimal(0))
        return notional / size if size else None

    @property
    def fees(self) -> Decimal:
        return sum((f.fee for f in self.fills), Decimal(0))


@attrs.frozen(kw_only=True)
class OrderDenied:
    """Execution refused an order before it was sent (risk, precision, unknown market…).

    The tracker records it (so the strategy hears OrderFailed) though nothing left the process.
    """

    order: SubmitOrder
    reason: str
    ts_init: int


@attrs.frozen(kw_only=True)
class RequestSent:
    """A signed request left the process (its bytes were written to the venue connection).

    ``expires_after_ms`` is the action's ``expiresAfter``: once the venue's clock is past it, an
    order the venue does not know was provably never placed.
    """

    kind: RequestKind
    client_order_ids: tuple[ClientOrderId, ...]
    nonce: int
    expires_after_ms: int | None
    ts_init: int


@attrs.frozen(kw_only=True)
class TrackerTick:
    """Periodic clock tick: deadlines, retention, re-queries."""

    ts_init: int


@attrs.frozen(kw_only=True)
class TrackerRecovered:
    """Journal recovery finished: orders that were about to be sent may be live — reconcile."""

    ts_init: int


@attrs.frozen(kw_only=True)
class ReconcileAll:
    """Reconcile every live order with the venue (e.g. after the user stream reconnected)."""

    reason: str
    ts_init: int


@attrs.frozen(kw_only=True)
class GetOrder:
    client_order_id: ClientOrderId


@attrs.frozen(kw_only=True)
class GetOpenOrders:
    trading_pair: str | None = None
    strategy_id: str | None = None


@attrs.frozen(kw_only=True)
class GetOrderFills:
    client_order_id: ClientOrderId


@attrs.frozen(kw_only=True)
class FillsQuery:
    """Which fills query a batch of fills answers (`ReconcileRequested.fills_query`, echoed by
    the venue side in `FillsReported.query`).

    A query's pages form a chain: the first page starts at ``origin_ms``, each next page at the
    last fill time of the page before (``since_ms``). ``requested_ns`` is when the tracker asked
    for the first page, so an answer proves the venue's fills from ``origin_ms`` up to at least
    that moment — what the tracker needs before it may say an order never filled.
    """

    since_ms: int
    origin_ms: int
    requested_ns: int


@attrs.frozen(kw_only=True)
class ReconcileRequested:
    """The tracker asks the venue side for evidence.

    ``client_order_ids``: query each order's status by cloid. ``open_orders``: fetch the account's
    open orders (full reconciliation). ``fills_since_ms``: fetch fills from that venue time on
    (one ``userFillsByTime`` page); ``fills_query`` describes that page, to be echoed in the
    answer's `FillsReported.query`.
    """

    client_order_ids: tuple[ClientOrderId, ...]
    open_orders: bool
    fills_since_ms: int | None
    reason: str
    ts_init: int
    fills_query: FillsQuery | None = None


@attrs.frozen(kw_only=True)
class CommandRejected:
    """A command the tracker could not act on (unknown order, order already terminal…)."""

    command: str
    client_order_id: ClientOrderId | None
    strategy_id: str
    reason: str
    ts_init: int


@attrs.frozen(kw_only=True)
class FillUnmatched:
    """A fill for no order the tracker knows (kept briefly in case its order shows up)."""

    exchange_order_id: ExchangeOrderId
    trade_id: TradeId
    trading_pair: str
    amount: Decimal
    ts_init: int


@attrs.frozen(kw_only=True)
class SendOpenOrders:
    """Ask the tracker, without blocking, to tell ``reply_to`` an `OpenOrdersSnapshot`."""

    strategy_id: str | None
    reply_to: str
    """The requester's path in the supervision tree."""


@attrs.frozen(kw_only=True)
class OpenOrdersSnapshot:
    orders: tuple[TrackedOrder, ...]
    ts_init: int
