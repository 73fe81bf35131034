"""One coin's limit order book: price levels of FIFO queues, price-time priority matching.

The book knows prices, sizes, owners and arrival order; nothing about margin or fees. Matching
returns what happened and leaves accounting to the engine.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from decimal import Decimal

import attrs

from venues.simulator.model import Order


@attrs.frozen(kw_only=True)
class Match:
    maker: Order
    px: Decimal
    sz: Decimal


@attrs.define(kw_only=True)
class MatchResult:
    matches: list[Match] = attrs.Factory(list)
    # Resting orders of the taker's own account met on the way: removed, not traded
    # (self-trade prevention, "expire maker").
    self_trade: list[Order] = attrs.Factory(list)

    @property
    def filled(self) -> Decimal:
        return sum((m.sz for m in self.matches), Decimal(0))


class _Side:
    """Price levels of one side; ``_keys`` is ascending in *priority* order."""

    __slots__ = ("_keys", "_levels", "_sign")

    def __init__(self, is_bid: bool) -> None:
        self._sign = -1 if is_bid else 1
        self._keys: list[Decimal] = []
        self._levels: dict[Decimal, deque[Order]] = {}

    def add(self, order: Order) -> None:
        level = self._levels.get(order.limit_px)
        if level is None:
            level = self._levels[order.limit_px] = deque()
            bisect.insort(self._keys, order.limit_px * self._sign)
        level.append(order)

    def remove(self, order: Order) -> bool:
        level = self._levels.get(order.limit_px)
        if level is None:
            return False
        try:
            level.remove(order)
        except ValueError:
            return False
        if not level:
            self._drop_level(order.limit_px)
        return True

    def _drop_level(self, px: Decimal) -> None:
        del self._levels[px]
        key = px * self._sign
        i = bisect.bisect_left(self._keys, key)
        del self._keys[i]

    def best(self) -> Decimal | None:
        return self._keys[0] * self._sign if self._keys else None

    def first_level(self) -> deque[Order] | None:
        return self._levels[self._keys[0] * self._sign] if self._keys else None

    def levels(self) -> Iterator[tuple[Decimal, deque[Order]]]:
        for key in self._keys:
            px = key * self._sign
            yield px, self._levels[px]

    def __len__(self) -> int:
        return sum(len(q) for q in self._levels.values())


class OrderBook:
    def __init__(self, coin: str) -> None:
        self.coin = coin
        self._bids = _Side(is_bid=True)
        self._asks = _Side(is_bid=False)

    def best_bid(self) -> Decimal | None:
        return self._bids.best()

    def best_ask(self) -> Decimal | None:
        return self._asks.best()

    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2

    def would_cross(self, is_buy: bool, px: Decimal) -> bool:
        best = self.best_ask() if is_buy else self.best_bid()
        if best is None:
            return False
        return px >= best if is_buy else px <= best

    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level (it must not cross)."""
        (self._bids if order.is_buy else self._asks).add(order)

    def remove(self, order: Order) -> bool:
        return (self._bids if order.is_buy else self._asks).remove(order)

    def match(self, user: str, is_buy: bool, limit_px: Decimal, qty: Decimal) -> MatchResult:
        """Take up to ``qty`` from the opposite side at prices no worse than ``limit_px``.

        Makers' remaining sizes are reduced and fully filled makers leave the book; the caller
        books the fills. Makers owned by ``user`` are removed instead of traded.
        """
        result = MatchResult()
        opposite = self._asks if is_buy else self._bids
        remaining = qty
        while remaining > 0:
            best = opposite.best()
            if best is None or (best > limit_px if is_buy else best < limit_px):
                break
            level = opposite.first_level()
            assert level is not None
            maker = level[0]
            if maker.user == user:
                level.popleft()
                if not level:
                    opposite._drop_level(best)
                result.self_trade.append(maker)
                continue
            take = min(remaining, maker.sz)
            maker.sz -= take
            remaining -= take
            result.matches.append(Match(maker=maker, px=best, sz=take))
            if maker.sz == 0:
                level.popleft()
                if not level:
                    opposite._drop_level(best)
        return result

    def available(self, user: str, is_buy: bool, limit_px: Decimal) -> Decimal:
        """Size a taker could get at ``limit_px`` or better, ignoring its own orders."""
        total = Decimal(0)
        for px, level in (self._asks if is_buy else self._bids).levels():
            if px > limit_px if is_buy else px < limit_px:
                break
            total += sum((o.sz for o in level if o.user != user), Decimal(0))
        return total

    def depth(self, is_bid: bool, n: int) -> list[tuple[Decimal, Decimal, int]]:
        """The best ``n`` levels of one side: ``(px, total size, order count)``."""
        out: list[tuple[Decimal, Decimal, int]] = []
        for px, level in (self._bids if is_bid else self._asks).levels():
            if len(out) >= n:
                break
            out.append((px, sum((o.sz for o in level), Decimal(0)), len(level)))
        return out

    def orders(self) -> Iterator[Order]:
        for side in (self._bids, self._asks):
            for _px, level in side.levels():
                yield from level

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)
