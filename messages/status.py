"""The runtime's status (what the live status line shows)."""

from __future__ import annotations

from decimal import Decimal

import attrs


@attrs.frozen(kw_only=True)
class GetStatus:
    pass


@attrs.frozen(kw_only=True)
class PairStatus:
    trading_pair: str
    position: Decimal
    cash_flow: Decimal
    """Quote currency received minus paid since the monitor started, fees included; PnL is this
    plus (position − position at start) × mark."""
    mark: Decimal | None
    pnl: Decimal | None


@attrs.frozen(kw_only=True)
class RuntimeStatus:
    open_orders: int
    orders_seen: int
    fills: int
    fees: Decimal
    pairs: tuple[PairStatus, ...]
    feed_age_ns: int | None
    """Time since the last market data; None before the first."""
    restarts: int
    ts_init: int
