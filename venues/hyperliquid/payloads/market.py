"""Market data: ``l2Book``, ``bbo``, ``trades``, ``allMids`` (HTTP and stream) and candles.

The book path is hot (every l2Book frame is a full 20+20 level snapshot). Consecutive snapshots
repeat most levels, so `MarketParser` interns them: a bounded ``(px, sz, n) -> PriceLevel`` cache
and a bounded ``str -> Decimal`` cache. A level is validated once, when it first enters the
cache; a hit costs one tuple and one dict lookup. Caches are cleared wholesale at their bound.

Keys the venue adds to these objects later are ignored here (the messages have no room for
them); everything the messages carry is rendered back exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from messages.ids import TradeId
from messages.market import BestBidOffer, BookSnapshot, MidsUpdated, PriceLevel, TradeReceived
from venues.hyperliquid.models import Candle
from venues.hyperliquid.payloads.common import (
    SIDE_FROM_WIRE,
    SIDE_TO_WIRE,
    CoinMapper,
    DecimalCache,
    PayloadError,
    Reader,
    expect_dict,
    expect_list,
    fmt_decimal,
    put_extra,
)

_NS = 1_000_000
_MALFORMED = (KeyError, TypeError, ValueError, IndexError, AttributeError)


class MarketParser:
    """Converts market-data payloads to messages, interning numbers and levels.

    One instance per stream (it is not locked; CPython's dict operations keep concurrent use
    safe, at worst a few extra misses).
    """

    __slots__ = ("_levels", "coins", "decimals", "level_cache_size", "level_clears",
                 "level_misses")

    def __init__(
        self,
        coins: CoinMapper | None = None,
        *,
        level_cache_size: int = 20_000,
        decimal_cache_size: int = 50_000,
    ) -> None:
        self.coins = coins if coins is not None else CoinMapper()
        self.decimals = DecimalCache(decimal_cache_size)
        self._levels: dict[tuple[Any, Any, Any], PriceLevel] = {}
        self.level_cache_size = level_cache_size
        self.level_misses = 0
        self.level_clears = 0

    def _new_level(self, key: tuple[Any, Any, Any]) -> PriceLevel:
        px, sz, n = key
        if type(n) is not int or n < 0:
            raise PayloadError(f"level n must be a non-negative integer, got {n!r}")
        dec = self.decimals
        level = PriceLevel(price=dec(px, "level px"), size=dec(sz, "level sz"), orders=n)
        self.level_misses += 1
        if len(self._levels) >= self.level_cache_size:
            self._levels.clear()
            self.level_clears += 1
        self._levels[key] = level
        return level

    def _side(self, raw: Sequence[Mapping[str, Any]]) -> tuple[PriceLevel, ...]:
        get = self._levels.get
        out = []
        for lv in raw:
            key = (lv["px"], lv["sz"], lv["n"])
            level = get(key)
            if level is None:
                level = self._new_level(key)
            out.append(level)
        return tuple(out)

    def _level(self, raw: Mapping[str, Any] | None) -> PriceLevel | None:
        if raw is None:
            return None
        key = (raw["px"], raw["sz"], raw["n"])
        level = self._levels.get(key)
        return level if level is not None else self._new_level(key)

    def book(self, data: Any, ts_init: int) -> BookSnapshot:
        """``{"coin", "time", "levels": [bids, asks]}`` → `BookSnapshot` (levels best-first)."""
        try:
            ms = data["time"]
            if type(ms) is not int:
                raise PayloadError(f"l2Book.time must be an integer, got {type(ms).__name__}")
            bids, asks = data["levels"]
            return BookSnapshot(
                trading_pair=self.coins.to_pair(data["coin"]),
                bids=self._side(bids),
                asks=self._side(asks),
                ts_event=ms * _NS,
                ts_init=ts_init,
            )
        except PayloadError as exc:
            raise PayloadError(f"l2Book: {exc}") from None
        except _MALFORMED as exc:
            raise PayloadError(f"l2Book: malformed ({type(exc).__name__}: {exc})") from None

    def bbo(self, data: Any, ts_init: int) -> BestBidOffer:
        """``{"coin", "time", "bbo": [bid | null, ask | null]}`` → `BestBidOffer`."""
        try:
            ms = data["time"]
            if type(ms) is not int:
                raise PayloadError(f"bbo.time must be an integer, got {type(ms).__name__}")
            bid, ask = data["bbo"]
            return BestBidOffer(
                trading_pair=self.coins.to_pair(data["coin"]),
                bid=self._level(bid),
                ask=self._level(ask),
                ts_event=ms * _NS,
                ts_init=ts_init,
            )
        except PayloadError as exc:
            raise PayloadError(f"bbo: {exc}") from None
        except _MALFORMED as exc:
            raise PayloadError(f"bbo: malformed ({type(exc).__name__}: {exc})") from None

    def trades(self, data: Any, ts_init: int) -> tuple[TradeReceived, ...]:
        """A list of WsTrade → trades (the venue may send an empty list)."""
        out = []
        dec = self.decimals
        for i, t in enumerate(expect_list(data, "trades")):
            try:
                ms, tid, tx_hash = t["time"], t["tid"], t["hash"]
                buyer, seller = t["users"]
                side = SIDE_FROM_WIRE[t["side"]]
                if type(ms) is not int or type(tid) is not int:
                    raise PayloadError("time and tid must be integers")
                if type(tx_hash) is not str or type(buyer) is not str or type(seller) is not str:
                    raise PayloadError("hash and users must be strings")
                out.append(
                    TradeReceived(
                        trading_pair=self.coins.to_pair(t["coin"]),
                        side=side,
                        price=dec(t["px"], "px"),
                        size=dec(t["sz"], "sz"),
                        trade_id=TradeId(tid),
                        tx_hash=tx_hash,
                        buyer=buyer,
                        seller=seller,
                        ts_event=ms * _NS,
                        ts_init=ts_init,
                    )
                )
            except PayloadError as exc:
                raise PayloadError(f"trades[{i}]: {exc}") from None
            except _MALFORMED as exc:
                kind = type(exc).__name__
                raise PayloadError(f"trades[{i}]: malformed ({kind}: {exc})") from None
        return tuple(out)

    def mids(self, mids: Any, ts_init: int, where: str = "allMids") -> MidsUpdated:
        """``{coin: px}`` → `MidsUpdated` keyed by trading pair, in the venue's order."""
        to_pair, dec = self.coins.to_pair, self.decimals
        try:
            return MidsUpdated(
                mids=tuple((to_pair(c), dec(px, f"{where}.{c}")) for c, px in
                           expect_dict(mids, where).items()),
                ts_init=ts_init,
            )
        except PayloadError as exc:
            raise PayloadError(f"{where}: {exc}") from None


# --- renderers (message → venue JSON) --------------------------------------------------------


def render_level(level: PriceLevel) -> dict[str, Any]:
    return {"px": fmt_decimal(level.price), "sz": fmt_decimal(level.size), "n": level.orders}


def render_book(book: BookSnapshot, coins: CoinMapper) -> dict[str, Any]:
    return {
        "coin": coins.to_coin(book.trading_pair),
        "time": book.ts_event // _NS,
        "levels": [[render_level(x) for x in book.bids], [render_level(x) for x in book.asks]],
    }


def render_bbo(bbo: BestBidOffer, coins: CoinMapper) -> dict[str, Any]:
    return {
        "coin": coins.to_coin(bbo.trading_pair),
        "time": bbo.ts_event // _NS,
        "bbo": [
            None if bbo.bid is None else render_level(bbo.bid),
            None if bbo.ask is None else render_level(bbo.ask),
        ],
    }


def render_trades(trades: Sequence[TradeReceived], coins: CoinMapper) -> list[dict[str, Any]]:
    return [
        {
            "coin": coins.to_coin(t.trading_pair),
            "side": SIDE_TO_WIRE[t.side],
            "px": fmt_decimal(t.price),
            "sz": fmt_decimal(t.size),
            "hash": t.tx_hash,
            "time": t.ts_event // _NS,
            "tid": int(t.trade_id),
            "users": [t.buyer, t.seller],
        }
        for t in trades
    ]


def render_mids(mids: MidsUpdated, coins: CoinMapper) -> dict[str, str]:
    """The ``allMids`` object (HTTP body; the stream wraps it as ``{"mids": ...}``)."""
    return {coins.to_coin(pair): fmt_decimal(px) for pair, px in mids.mids}


# --- candles ---------------------------------------------------------------------------------


def parse_candle(obj: object, where: str = "candle") -> Candle:
    r = Reader(obj, where)
    return Candle(
        open_time=r.integer("t"),
        close_time=r.integer("T"),
        coin=r.text("s"),
        interval=r.text("i"),
        open=r.dec("o"),
        close=r.dec("c"),
        high=r.dec("h"),
        low=r.dec("l"),
        volume=r.dec("v"),
        trades=r.integer("n"),
        extra=r.extra(),
    )


def render_candle(c: Candle) -> dict[str, Any]:
    out = {
        "t": c.open_time, "T": c.close_time, "s": c.coin, "i": c.interval,
        "o": fmt_decimal(c.open), "c": fmt_decimal(c.close), "h": fmt_decimal(c.high),
        "l": fmt_decimal(c.low), "v": fmt_decimal(c.volume), "n": c.trades,
    }
    return put_extra(out, c.extra)


def parse_candle_snapshot(payload: object) -> tuple[Candle, ...]:
    items = expect_list(payload, "candleSnapshot")
    return tuple(parse_candle(c, f"candleSnapshot[{i}]") for i, c in enumerate(items))


def render_candle_snapshot(candles: Sequence[Candle]) -> list[dict[str, Any]]:
    return [render_candle(c) for c in candles]
