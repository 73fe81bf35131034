"""Account state: positions, margin, funding and the venue's request budget."""

from __future__ import annotations

from decimal import Decimal

import attrs


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
