"""Accounts: USDC balance, one-way positions per coin, leverage settings, margin arithmetic.

Margin model (documented in docs/simulator.md): an account's value is its balance plus the
unrealized PnL of its positions at mark; a position uses ``|szi| * mark / leverage`` of margin
(plus any margin added to an isolated position); a resting order that is not reduce-only
reserves ``sz * limitPx / leverage``. A new order is accepted only if what it would reserve fits
in the value not yet used. The balance changes only by deposits, closed PnL and fees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import attrs

from venues.simulator.model import usd

ZERO = Decimal(0)


@attrs.define(kw_only=True)
class Position:
    coin: str
    szi: Decimal = ZERO
    entry_px: Decimal = ZERO
    # Extra margin moved onto an isolated position by updateIsolatedMargin.
    isolated_extra: Decimal = ZERO
    cum_funding: Decimal = ZERO

    def unrealized(self, mark: Decimal) -> Decimal:
        return self.szi * (mark - self.entry_px)


@attrs.frozen(kw_only=True)
class Leverage:
    is_cross: bool
    value: int


@attrs.frozen(kw_only=True)
class FillEffect:
    start_position: Decimal
    closed_pnl: Decimal
    dir: str


def _direction(start: Decimal, end: Decimal) -> str:
    if start >= 0 and end >= 0:
        return "Open Long" if end > start else "Close Long"
    if start <= 0 and end <= 0:
        return "Open Short" if end < start else "Close Short"
    return "Long > Short" if start > 0 else "Short > Long"


@attrs.define(kw_only=True)
class Account:
    address: str
    balance: Decimal = ZERO
    positions: dict[str, Position] = attrs.Factory(dict)
    leverage: dict[str, Leverage] = attrs.Factory(dict)
    cum_volume: Decimal = ZERO
    n_requests: int = 0
    # Venue time (ms) of the last action the address budget let through.
    last_allowed_ms: int | None = None
    # Sub-account master, if this account is one.
    master: str | None = None

    def position(self, coin: str) -> Position:
        pos = self.positions.get(coin)
        if pos is None:
            pos = self.positions[coin] = Position(coin=coin)
        return pos

    def szi(self, coin: str) -> Decimal:
        pos = self.positions.get(coin)
        return pos.szi if pos is not None else ZERO

    def leverage_for(self, coin: str, max_leverage: int) -> Leverage:
        lev = self.leverage.get(coin)
        return lev if lev is not None else Leverage(is_cross=True, value=min(20, max_leverage))

    def apply_fill(
        self, coin: str, is_buy: bool, px: Decimal, sz: Decimal, fee: Decimal
    ) -> FillEffect:
        """Update the position and balance for one fill; returns what the fill record needs."""
        pos = self.position(coin)
        start = pos.szi
        signed = sz if is_buy else -sz
        end = start + signed
        closed = ZERO
        if start != 0 and (start > 0) != is_buy:
            closing = min(sz, abs(start))
            per_unit = (px - pos.entry_px) if start > 0 else (pos.entry_px - px)
            closed = usd(per_unit * closing)
        if end == 0:
            pos.entry_px = ZERO
            pos.isolated_extra = ZERO
        elif start == 0 or (start > 0) != (end > 0):
            pos.entry_px = px  # opened, or flipped: the remainder opened at px
        elif abs(end) > abs(start):
            pos.entry_px = (pos.entry_px * abs(start) + px * sz) / abs(end)
        pos.szi = end
        self.balance += closed - fee
        self.cum_volume += px * sz
        return FillEffect(start_position=start, closed_pnl=closed, dir=_direction(start, end))


class MarginView:
    """Margin figures of one account at the engine's current marks."""

    def __init__(
        self,
        account: Account,
        mark: Callable[[str], Decimal],
        max_leverage: Callable[[str], int],
        order_ntl: Mapping[str, Decimal],
    ) -> None:
        self.account = account
        self._mark = mark
        self._max_lev = max_leverage
        # Notional of resting orders that can add exposure, per coin (kept by the engine).
        self._order_ntl = order_ntl

    def lev(self, coin: str) -> Leverage:
        return self.account.leverage_for(coin, self._max_lev(coin))

    def position_margin(self, pos: Position) -> Decimal:
        lev = self.lev(pos.coin)
        base = abs(pos.szi) * self._mark(pos.coin) / lev.value
        return base + (pos.isolated_extra if not lev.is_cross else ZERO)

    def unrealized(self) -> Decimal:
        return sum(
            (p.unrealized(self._mark(c)) for c, p in self.account.positions.items() if p.szi),
            ZERO,
        )

    def account_value(self) -> Decimal:
        return self.account.balance + self.unrealized()

    def positions_margin(self) -> Decimal:
        return sum(
            (self.position_margin(p) for p in self.account.positions.values() if p.szi), ZERO
        )

    def orders_margin(self) -> Decimal:
        return sum(
            (ntl / self.lev(coin).value for coin, ntl in self._order_ntl.items() if ntl), ZERO
        )

    def available(self) -> Decimal:
        return self.account_value() - self.positions_margin() - self.orders_margin()

    def notional(self) -> Decimal:
        return sum(
            (abs(p.szi) * self._mark(c) for c, p in self.account.positions.items() if p.szi),
            ZERO,
        )

    def signed_notional(self) -> Decimal:
        return sum(
            (p.szi * self._mark(c) for c, p in self.account.positions.items() if p.szi), ZERO
        )

    def maintenance(self) -> Decimal:
        return sum(
            (
                abs(p.szi) * self._mark(c) / (2 * self._max_lev(c))
                for c, p in self.account.positions.items()
                if p.szi
            ),
            ZERO,
        )

    def increase_margin(self, coin: str, is_buy: bool, sz: Decimal, px: Decimal) -> Decimal:
        """Margin a new order needs: only the part that can increase exposure counts."""
        szi = self.account.szi(coin)
        reducing = max(ZERO, -szi) if is_buy else max(ZERO, szi)
        increasing = max(ZERO, sz - reducing)
        return increasing * px / self.lev(coin).value
