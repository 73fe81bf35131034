"""Synthetic participants so books and trades move: a random-walk reference mid per coin, two
makers keeping ``levels`` quotes a side around it, and a taker that now and then crosses.

Everything goes through the engine like any account's orders (no signatures: these accounts
live inside the simulator). Driven by `step()`; seeded, so a run is reproducible.
"""

from __future__ import annotations

import random
from decimal import Decimal

from venues.hyperliquid.keys import keccak256
from venues.hyperliquid.numbers import (
    Rounding,
    round_price,
    round_price_for_side,
    round_size,
)
from venues.simulator.accounts import Leverage
from venues.simulator.config import CoinSpec, FlowConfig
from venues.simulator.engine import Engine
from venues.simulator.model import Order, OrderRequest

SPACING = Decimal("0.0002")  # 2 bp between quote levels
UNLIMITED = Decimal(10) ** 12


def synthetic_address(label: str, seed: int) -> str:
    return "0x" + keccak256(f"perpetuum-sim-{label}-{seed}".encode())[-20:].hex()


def tick_size(px: Decimal, sz_decimals: int) -> Decimal:
    """The smallest valid price step near ``px`` (5 significant figures, 6 - szDecimals)."""
    decimals = max(0, min(6 - sz_decimals, 4 - px.adjusted()))
    return Decimal(1).scaleb(-decimals)


class SyntheticFlow:
    def __init__(self, engine: Engine, config: FlowConfig, seed: int) -> None:
        self._engine = engine
        self._config = config
        self._rng = random.Random(seed)  # noqa: S311 - a reproducible market, not cryptography
        self.makers = (synthetic_address("maker-a", seed), synthetic_address("maker-b", seed))
        self.taker = synthetic_address("taker", seed)
        for account in (*self.makers, self.taker):
            acc = engine.fund(account, UNLIMITED)
            for spec in engine.coins:
                acc.leverage[spec.name] = Leverage(is_cross=True, value=spec.max_leverage)
        self.mids = {spec.name: spec.mid for spec in engine.coins}
        self.steps = 0

    def start(self) -> None:
        """Fill every book with the makers' initial quotes."""
        for asset, spec in enumerate(self._engine.coins):
            self._requote(asset, spec)

    def step(self) -> None:
        self.steps += 1
        for asset, spec in enumerate(self._engine.coins):
            self._move(spec)
            self._churn(asset, spec)
            self._requote(asset, spec)
            if self._rng.random() < self._config.taker_probability:
                self._take(asset, spec)

    def _move(self, spec: CoinSpec) -> None:
        mid = self.mids[spec.name]
        tick = tick_size(mid, spec.sz_decimals)
        moves = self._rng.randint(-self._config.max_move_ticks, self._config.max_move_ticks)
        new = mid + moves * tick
        if new > 0:
            mid = round_price(new, spec.sz_decimals)
        self.mids[spec.name] = mid
        self._engine.reference_px[spec.name] = mid

    def _quotes(self, coin: str) -> list[Order]:
        engine = self._engine
        return [o for m in self.makers for o in engine.live_orders(m) if o.coin == coin]

    def _targets(self, spec: CoinSpec, is_bid: bool) -> list[Decimal]:
        mid = self.mids[spec.name]
        step = max(tick_size(mid, spec.sz_decimals), mid * SPACING)
        out: list[Decimal] = []
        for i in range(self._config.levels):
            raw = mid - step * (i + 1) if is_bid else mid + step * (i + 1)
            if raw <= 0:
                break
            px = round_price_for_side(raw, spec.sz_decimals, is_buy=is_bid, aggressive=False)
            if px not in out:
                out.append(px)
        return out

    def _churn(self, asset: int, spec: CoinSpec) -> None:
        """Pull quotes the mid has moved through or away from, plus one at random."""
        mid = self.mids[spec.name]
        quotes = self._quotes(spec.name)
        bids, asks = self._targets(spec, True), self._targets(spec, False)
        floor = bids[-1] if bids else Decimal(0)
        ceiling = asks[-1] if asks else mid * 2
        stale = [
            o for o in quotes
            if (o.is_buy and not floor <= o.limit_px < mid)
            or (not o.is_buy and not mid < o.limit_px <= ceiling)
        ]
        if quotes:
            stale.append(self._rng.choice(quotes))
        for order in stale:
            self._engine.cancel(order.user, asset, order.oid)

    def _requote(self, asset: int, spec: CoinSpec) -> None:
        have = {(o.is_buy, o.limit_px) for o in self._quotes(spec.name)}
        for is_bid in (True, False):
            for i, px in enumerate(self._targets(spec, is_bid)):
                if (is_bid, px) in have:
                    continue
                notional = Decimal(self._rng.randint(200, 5000))
                sz = round_size(notional / px, spec.sz_decimals, rounding=Rounding.UP)
                req = OrderRequest(asset=asset, is_buy=is_bid, px=px, sz=sz, tif="Alo")
                self._engine.place(self.makers[i % 2], req)

    def _take(self, asset: int, spec: CoinSpec) -> None:
        is_buy = self._rng.random() < 0.5
        mid = self.mids[spec.name]
        limit = mid * (Decimal("1.005") if is_buy else Decimal("0.995"))
        px = round_price_for_side(limit, spec.sz_decimals, is_buy=is_buy, aggressive=True)
        notional = Decimal(self._rng.randint(50, 3000))
        sz = round_size(notional / mid, spec.sz_decimals, rounding=Rounding.UP)
        req = OrderRequest(asset=asset, is_buy=is_buy, px=px, sz=sz, tif="Ioc")
        self._engine.place(self.taker, req)
