"""updateLeverage and updateIsolatedMargin against the engine's accounts."""

from __future__ import annotations

from decimal import Decimal

from venues.simulator.accounts import Leverage
from venues.simulator.engine import Engine

ZERO = Decimal(0)


def update_leverage(
    engine: Engine, user: str, asset: int, *, is_cross: bool, leverage: int
) -> str | None:
    """Set the leverage (and cross/isolated mode) of one coin; the venue-style error or None."""
    spec = engine.coin_of(asset)
    if spec is None:
        return f"Asset {asset} is out of range."
    if not 1 <= leverage <= spec.max_leverage:
        return "Invalid leverage value"
    account = engine.accounts.get(user) or engine.fund(user, ZERO)
    current = account.leverage_for(spec.name, spec.max_leverage)
    if account.szi(spec.name) != 0 and current.is_cross != is_cross:
        return "Cannot switch leverage type with open position."
    account.leverage[spec.name] = Leverage(is_cross=is_cross, value=leverage)
    if engine.margin(user).available() < 0:
        account.leverage[spec.name] = current
        return "Insufficient margin for leverage update"
    return None


def update_isolated_margin(engine: Engine, user: str, asset: int, ntli: int) -> str | None:
    """Move ``ntli`` micro-USDC onto (positive) or off (negative) an isolated position."""
    spec = engine.coin_of(asset)
    if spec is None:
        return f"Asset {asset} is out of range."
    account = engine.accounts.get(user)
    pos = account.positions.get(spec.name) if account else None
    if account is None or pos is None or pos.szi == 0:
        return "Cannot update margin for empty position"
    if account.leverage_for(spec.name, spec.max_leverage).is_cross:
        return "Cannot update margin for cross position"
    amount = Decimal(ntli) / Decimal(1_000_000)
    if amount > 0 and amount > engine.margin(user).available():
        return "Insufficient margin to add"
    if amount < 0 and -amount > pos.isolated_extra:
        return "Insufficient isolated margin to remove"
    pos.isolated_extra += amount
    return None
