"""The markets of a Hyperliquid network: trading pair ↔ coin ↔ asset id, and precision rules.

Built from the venue's ``meta`` (and optionally ``spotMeta``) so mainnet, testnet and a local
exchange each get their own asset ids (they differ between networks).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import attrs

from messages.pairs import coin_to_trading_pair
from venues.hyperliquid import numbers
from venues.hyperliquid.models import PerpMeta, SpotMeta

SPOT_ASSET_OFFSET = 10_000


class UnknownMarketError(ValueError):
    """A trading pair, coin or asset id this network does not list."""


@attrs.frozen(kw_only=True)
class Market:
    trading_pair: str
    coin: str
    asset: int
    sz_decimals: int
    max_leverage: int
    is_spot: bool = False
    delisted: bool = False

    def round_price(self, price: Decimal, *, is_buy: bool, aggressive: bool) -> Decimal:
        return numbers.round_price_for_side(price, self.sz_decimals, is_buy=is_buy,
                                            aggressive=aggressive, is_spot=self.is_spot)

    def round_size(self, size: Decimal) -> Decimal:
        return numbers.round_size(size, self.sz_decimals)

    def price_is_valid(self, price: Decimal) -> bool:
        return numbers.price_is_valid(price, self.sz_decimals, is_spot=self.is_spot)

    def size_is_valid(self, size: Decimal) -> bool:
        return numbers.size_is_valid(size, self.sz_decimals)


class MarketRegistry:
    def __init__(self, markets: Iterable[Market]) -> None:
        self._by_pair: dict[str, Market] = {}
        self._by_coin: dict[str, Market] = {}
        self._by_asset: dict[int, Market] = {}
        for market in markets:
            if market.trading_pair in self._by_pair or market.asset in self._by_asset:
                raise ValueError(f"duplicate market {market.trading_pair} / {market.asset}")
            self._by_pair[market.trading_pair] = market
            self._by_coin[market.coin] = market
            self._by_asset[market.asset] = market

    @classmethod
    def from_meta(cls, meta: PerpMeta, spot_meta: SpotMeta | None = None) -> MarketRegistry:
        markets = [
            Market(
                trading_pair=coin_to_trading_pair(asset.name),
                coin=asset.name,
                asset=index,
                sz_decimals=asset.sz_decimals,
                max_leverage=asset.max_leverage,
                delisted=asset.is_delisted is True,
            )
            for index, asset in enumerate(meta.universe)
        ]
        if spot_meta is not None:
            tokens = {t.index: t for t in spot_meta.tokens}
            for pair in spot_meta.universe:
                if len(pair.tokens) != 2 or not all(i in tokens for i in pair.tokens):
                    continue
                base, quote = tokens[pair.tokens[0]], tokens[pair.tokens[1]]
                trading_pair = f"{base.name}-{quote.name}"
                if any(m.trading_pair == trading_pair for m in markets):
                    continue
                markets.append(Market(
                    trading_pair=trading_pair, coin=pair.name,
                    asset=SPOT_ASSET_OFFSET + pair.index, sz_decimals=base.sz_decimals,
                    max_leverage=1, is_spot=True,
                ))
        return cls(markets)

    def by_pair(self, trading_pair: str) -> Market:
        try:
            return self._by_pair[trading_pair]
        except KeyError:
            raise UnknownMarketError(f"unknown trading pair {trading_pair[:40]!r}") from None

    def by_coin(self, coin: str) -> Market:
        try:
            return self._by_coin[coin]
        except KeyError:
            raise UnknownMarketError(f"unknown coin {coin[:40]!r}") from None

    def by_asset(self, asset: int) -> Market:
        try:
            return self._by_asset[asset]
        except KeyError:
            raise UnknownMarketError(f"unknown asset id {asset}") from None

    def pairs(self) -> tuple[str, ...]:
        return tuple(self._by_pair)

    def __contains__(self, trading_pair: object) -> bool:
        return trading_pair in self._by_pair

    def __len__(self) -> int:
        return len(self._by_pair)
