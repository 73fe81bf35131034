"""Market data: books, best bid/offer and trades."""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.enums import OrderSide
from messages.ids import TradeId
from messages.pairs import validate_trading_pair


@attrs.frozen(kw_only=True)
class PriceLevel:
    price: Decimal
    size: Decimal
    orders: int


@attrs.frozen(kw_only=True)
class BookSnapshot:
    """A full L2 book (the venue sends whole snapshots, never diffs); levels best-first."""

    trading_pair: str
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]
    ts_event: int
    ts_init: int

    @property
    def best_bid(self) -> PriceLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> PriceLevel | None:
        return self.asks[0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2

    @property
    def is_crossed(self) -> bool:
        return bool(self.bids and self.asks and self.bids[0].price >= self.asks[0].price)


@attrs.frozen(kw_only=True)
class BestBidOffer:
    """Top of book; a side is ``None`` when empty."""

    trading_pair: str
    bid: PriceLevel | None
    ask: PriceLevel | None
    ts_event: int
    ts_init: int


@attrs.frozen(kw_only=True)
class TradeReceived:
    """A public trade; ``side`` is the aggressor's. Unique key: (ts_event, trading_pair, id)."""

    trading_pair: str
    side: OrderSide
    price: Decimal
    size: Decimal
    trade_id: TradeId
    tx_hash: str
    buyer: str
    seller: str
    ts_event: int
    ts_init: int


@attrs.frozen(kw_only=True)
class MidsUpdated:
    """Mid prices of every coin the venue quotes (``allMids``)."""

    mids: tuple[tuple[str, Decimal], ...]
    ts_init: int


def _pair(_inst: object, _attribute: object, value: str) -> None:
    validate_trading_pair(value)


@attrs.frozen(kw_only=True)
class GetBook:
    """Ask the market stream for its latest tradable book of a pair (answer: `BookSnapshot` or
    ``None`` when it has none, or the latest one was crossed)."""

    trading_pair: str = attrs.field(validator=_pair)
