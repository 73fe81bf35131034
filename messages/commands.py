"""Commands: what strategies and operators ask the runtime to do (imperative names).

Commands are the runtime's input edge, so they validate themselves on construction: a bad
command raises ``ValueError``/``TypeError`` in the sender's thread and never reaches an actor.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages._validate import (
    non_negative_decimal,
    optional_positive_decimal,
    positive_decimal,
)
from messages.enums import MarketChannel, OrderSide, OrderType, TimeInForce
from messages.ids import ClientOrderId
from messages.pairs import validate_trading_pair

DEFAULT_SLIPPAGE = Decimal("0.05")


def _pair(_inst: object, _attribute: object, value: str) -> None:
    validate_trading_pair(value)


def _cloid(_inst: object, _attribute: object, value: ClientOrderId) -> None:
    if type(value) is not ClientOrderId:
        raise TypeError("client_order_id must be a ClientOrderId")


@attrs.frozen(kw_only=True)
class SubmitOrder:
    """Place one order.

    ``price`` is the limit price for limit and ``*_LIMIT`` trigger orders. For ``MARKET`` orders
    it is an optional reference price (the venue mid is used when absent) from which the worst
    acceptable price is computed with ``slippage``; for ``*_MARKET`` trigger orders the reference
    is the trigger price.
    """

    client_order_id: ClientOrderId = attrs.field(validator=_cloid)
    trading_pair: str = attrs.field(validator=_pair)
    side: OrderSide = attrs.field(validator=attrs.validators.instance_of(OrderSide))
    order_type: OrderType = attrs.field(validator=attrs.validators.instance_of(OrderType))
    amount: Decimal = attrs.field(validator=positive_decimal)
    price: Decimal | None = attrs.field(default=None, validator=optional_positive_decimal)
    time_in_force: TimeInForce = attrs.field(
        default=TimeInForce.GTC, validator=attrs.validators.instance_of(TimeInForce)
    )
    trigger_price: Decimal | None = attrs.field(default=None, validator=optional_positive_decimal)
    reduce_only: bool = False
    slippage: Decimal = attrs.field(default=DEFAULT_SLIPPAGE, validator=non_negative_decimal)
    strategy_id: str = ""
    ts_init: int = 0

    def __attrs_post_init__(self) -> None:
        kind = self.order_type
        if kind in (OrderType.LIMIT, OrderType.LIMIT_MAKER) and self.price is None:
            raise ValueError(f"{kind.value} order needs a price")
        if kind.is_trigger:
            if self.trigger_price is None:
                raise ValueError(f"{kind.value} order needs a trigger_price")
            if not kind.is_market_execution and self.price is None:
                raise ValueError(f"{kind.value} order needs a limit price")
        elif self.trigger_price is not None:
            raise ValueError(f"{kind.value} order cannot have a trigger_price")
        if kind is OrderType.LIMIT_MAKER and self.time_in_force is not TimeInForce.GTC and (
            self.time_in_force is not TimeInForce.ALO
        ):
            raise ValueError("LIMIT_MAKER orders are post-only (ALO)")
        if self.slippage >= 1:
            raise ValueError("slippage must be a fraction below 1 (0.05 = 5%)")

    @property
    def effective_time_in_force(self) -> TimeInForce:
        """What the venue is told: makers are ALO, market orders IOC."""
        if self.order_type is OrderType.LIMIT_MAKER:
            return TimeInForce.ALO
        if self.order_type is OrderType.MARKET:
            return TimeInForce.IOC
        return self.time_in_force


@attrs.frozen(kw_only=True)
class CancelOrder:
    """Cancel one order by client order id."""

    client_order_id: ClientOrderId = attrs.field(validator=_cloid)
    strategy_id: str = ""
    ts_init: int = 0


@attrs.frozen(kw_only=True)
class CancelAll:
    """Cancel every open order (of one trading pair, and of one strategy, when given)."""

    trading_pair: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(_pair),
    )
    strategy_id: str | None = None
    ts_init: int = 0


@attrs.frozen(kw_only=True)
class ModifyOrder:
    """Replace an open order's price and/or amount; it keeps its client order id.

    The venue implements this as cancel-and-replace: the order gets a new exchange order id.
    ``amount`` is the new total amount (filled quantity included).
    """

    client_order_id: ClientOrderId = attrs.field(validator=_cloid)
    price: Decimal | None = attrs.field(default=None, validator=optional_positive_decimal)
    amount: Decimal | None = attrs.field(default=None, validator=optional_positive_decimal)
    trigger_price: Decimal | None = attrs.field(default=None, validator=optional_positive_decimal)
    strategy_id: str = ""
    ts_init: int = 0

    def __attrs_post_init__(self) -> None:
        if self.price is None and self.amount is None and self.trigger_price is None:
            raise ValueError("ModifyOrder must change price, amount or trigger_price")


@attrs.frozen(kw_only=True)
class SubscribeMarket:
    """Ask the market stream for data on a trading pair."""

    trading_pair: str = attrs.field(validator=_pair)
    channels: tuple[MarketChannel, ...] = (
        MarketChannel.BOOK,
        MarketChannel.TRADES,
        MarketChannel.BBO,
    )
    subscriber_id: str = ""


@attrs.frozen(kw_only=True)
class UnsubscribeMarket:
    trading_pair: str = attrs.field(validator=_pair)
    channels: tuple[MarketChannel, ...] = (
        MarketChannel.BOOK,
        MarketChannel.TRADES,
        MarketChannel.BBO,
    )
    subscriber_id: str = ""
