"""Order events: what happened to an order (past-tense names).

Every lifecycle transition of the order tracker emits exactly one of these; fills that arrive
after an order is terminal are reported with ``OrderFilled(late=True)`` without changing the
state. Each event carries the order's full picture after the event (state, amounts, ids), so a
consumer never needs an earlier event to interpret a later one.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.enums import LiquiditySide, OrderSide, OrderState, OrderType
from messages.ids import ClientOrderId, ExchangeOrderId, TradeId


@attrs.frozen(kw_only=True)
class OrderEvent:
    """The fields every order event has (the seed's JSON ``data`` object plus provenance)."""

    client_order_id: ClientOrderId
    exchange_order_id: ExchangeOrderId | None
    trading_pair: str
    side: OrderSide
    order_type: OrderType
    price: Decimal | None
    amount: Decimal
    filled_amount: Decimal
    order_state: OrderState
    strategy_id: str
    sequence: int
    """Tracker-wide event number: strictly increasing, survives restarts, never reused."""
    ts_event: int
    ts_init: int


@attrs.frozen(kw_only=True)
class OrderTracked(OrderEvent):
    """The order is tracked and journaled (PENDING_CREATE); nothing has been sent yet."""


@attrs.frozen(kw_only=True)
class OrderSubmitted(OrderEvent):
    """The order is on the wire (SUBMITTED): it may be live even if no answer ever comes."""


@attrs.frozen(kw_only=True)
class OrderAccepted(OrderEvent):
    """The venue has the order resting on its book (OPEN)."""


@attrs.frozen(kw_only=True)
class OrderFilled(OrderEvent):
    """A fill: ``fill_*`` describe this fill, ``filled_amount`` the running total.

    ``late`` marks a fill booked after the order became terminal (it is accounted, the state
    does not change).
    """

    fill_price: Decimal
    fill_amount: Decimal
    fee: Decimal
    fee_asset: str
    trade_id: TradeId
    liquidity: LiquiditySide
    late: bool = False


@attrs.frozen(kw_only=True)
class OrderPendingCancel(OrderEvent):
    """A cancel for the order is on the wire (PENDING_CANCEL)."""


@attrs.frozen(kw_only=True)
class OrderCancelRejected(OrderEvent):
    """The venue refused the cancel and the order is still live."""

    reason: str


@attrs.frozen(kw_only=True)
class OrderCancelled(OrderEvent):
    """Cancelled by us or by the venue (IOC remainder, margin, reduce-only, scheduled cancel…)."""

    reason: str


@attrs.frozen(kw_only=True)
class OrderFailed(OrderEvent):
    """Rejected by the venue, denied by risk, or provably never placed."""

    reason: str


@attrs.frozen(kw_only=True)
class OrderStatusUnknown(OrderEvent):
    """The venue's answer was lost or contradictory; reconciliation will decide (UNKNOWN)."""

    reason: str


@attrs.frozen(kw_only=True)
class OrderModified(OrderEvent):
    """The order was replaced at the venue: new price/amount, same client order id.

    ``exchange_order_id`` is the new venue id; ``previous_exchange_order_id`` the replaced one.
    """

    previous_exchange_order_id: ExchangeOrderId | None


@attrs.frozen(kw_only=True)
class OrderModifyRejected(OrderEvent):
    """The venue refused a modify; the order is unchanged."""

    reason: str


@attrs.frozen(kw_only=True)
class OrderAnomalyDetected(OrderEvent):
    """Venue evidence that contradicts the books (overfill, fill for a different side…).

    Nothing is changed beyond what is safe; the anomaly is reported for operators and risk.
    """

    reason: str


@attrs.frozen(kw_only=True)
class OrderAdopted(OrderEvent):
    """A venue order the tracker did not know was adopted as an external order."""
