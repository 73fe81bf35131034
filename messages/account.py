"""Account state: positions, margin, funding and the venue's request budget."""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.ids import ExchangeOrderId


@attrs.frozen(kw_only=True)
class PositionReported:
    """One perpetual position; ``size`` is signed (positive long, negative short)."""

    trading_pair: str
    size: Decimal
    entry_price: Decimal | None
    unrealized_pnl: Decimal
    margin_used: Decimal
    leverage: int
    cross: bool
    liquidation_price: Decimal | None
    ts_init: int


@attrs.frozen(kw_only=True)
class AccountStateReported:
    account_value: Decimal
    total_margin_used: Decimal
    total_notional: Decimal
    withdrawable: Decimal
    positions: tuple[PositionReported, ...]
    ts_event: int
    ts_init: int


@attrs.frozen(kw_only=True)
class FundingPaid:
    """A funding payment; ``amount`` is signed from the account's point of view."""

    trading_pair: str
    amount: Decimal
    rate: Decimal
    position_size: Decimal
    ts_event: int
    ts_init: int


@attrs.frozen(kw_only=True)
class RateLimitReported:
    """The address-based request budget as the venue counts it."""

    cumulative_volume: Decimal
    requests_used: int
    requests_cap: int
    ts_init: int
    requests_surplus: int | None = None
    """Reserved requests not yet used (``nRequestsSurplus``); None when the venue omits it."""


@attrs.frozen(kw_only=True)
class LiquidationReported:
    """The venue liquidated the account (userEvents ``liquidation``)."""

    liquidation_id: int
    liquidator: str
    liquidated_user: str
    liquidated_notional: Decimal
    liquidated_account_value: Decimal
    ts_init: int


@attrs.frozen(kw_only=True)
class NonUserCancelReported:
    """The venue cancelled one of the account's orders on its own (userEvents ``nonUserCancel``).

    The event names only the coin and the oid: no side, price, size or reason, so it cannot be an
    `OrderStatusReported`; the tracker resolves the order by ``exchange_order_id`` (and may query
    ``orderStatus`` for the reason).
    """

    exchange_order_id: ExchangeOrderId
    trading_pair: str
    ts_init: int
