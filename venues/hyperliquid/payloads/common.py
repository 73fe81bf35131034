"""Shared pieces of the payload layer: the error type, exact decimals, sides, coins, JSON readers.

Every parser raises `PayloadError` (a ``ValueError``) for malformed input, with a message that
names where the problem is (``userFills[3].px: ...``); no bare ``KeyError``/``TypeError`` escapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from messages.enums import OrderSide
from messages.ids import ClientOrderId
from messages.pairs import PERP_QUOTE
from venues.hyperliquid.models import ABSENT, NO_EXTRA, Json, JsonObject, SpotMeta

NS_PER_MS: Final = 1_000_000
SPOT_UNRESOLVED_QUOTE: Final = "SPOT"
"""Quote used for a spot coin ``@<index>`` whose tokens are unknown (no spotMeta given)."""


class PayloadError(ValueError):
    """A venue payload that does not have the shape this layer knows."""


def ms_to_ns(ms: int) -> int:
    return ms * NS_PER_MS


def ns_to_ms(ns: int) -> int:
    return ns // NS_PER_MS


# --- decimals --------------------------------------------------------------------------------


def parse_decimal(text: object, where: str) -> Decimal:
    """The exact Decimal of a venue number string (``"29792.0"`` keeps its exponent)."""
    if type(text) is not str:
        raise PayloadError(f"{where}: expected a decimal string, got {type(text).__name__}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise PayloadError(f"{where}: not a decimal string: {text[:40]!r}") from None
    if not value.is_finite():
        raise PayloadError(f"{where}: not a finite decimal: {text[:40]!r}")
    return value


def fmt_decimal(value: Decimal) -> str:
    """Inverse of `parse_decimal` for venue strings: plain notation, exponent kept."""
    return format(value, "f")


class DecimalCache:
    """A bounded ``str -> Decimal`` interning cache for streams that repeat the same numbers.

    Cleared wholesale when it reaches ``max_size`` (cheap, and a moving book refills it at once).
    Only misses are counted, so the hot path pays a single dict lookup.
    """

    __slots__ = ("_map", "clears", "max_size", "misses")

    def __init__(self, max_size: int = 50_000) -> None:
        self._map: dict[str, Decimal] = {}
        self.max_size = max_size
        self.misses = 0
        self.clears = 0

    def __len__(self) -> int:
        return len(self._map)

    def __call__(self, text: str, where: str = "number") -> Decimal:
        try:
            value = self._map.get(text)
        except TypeError:  # unhashable: not a string anyway
            raise PayloadError(f"{where}: expected a decimal string, got "
                               f"{type(text).__name__}") from None
        if value is None:
            value = parse_decimal(text, where)
            self.misses += 1
            if len(self._map) >= self.max_size:
                self._map.clear()
                self.clears += 1
            self._map[text] = value
        return value


# --- sides and ids ---------------------------------------------------------------------------

SIDE_FROM_WIRE: Final = {"B": OrderSide.BUY, "A": OrderSide.SELL}
SIDE_TO_WIRE: Final = {OrderSide.BUY: "B", OrderSide.SELL: "A"}


def parse_side(value: object, where: str) -> OrderSide:
    side = SIDE_FROM_WIRE.get(value) if isinstance(value, str) else None
    if side is None:
        raise PayloadError(f"{where}: side must be 'B' or 'A', got {str(value)[:20]!r}")
    return side


def parse_cloid(value: object, where: str) -> ClientOrderId:
    if type(value) is not str:
        raise PayloadError(f"{where}: cloid must be a string, got {type(value).__name__}")
    try:
        return ClientOrderId(value)
    except ValueError as exc:
        raise PayloadError(f"{where}: {exc}") from None


# --- coins and trading pairs -----------------------------------------------------------------


class CoinMapper:
    """Venue coin ↔ runtime trading pair, the same way in both directions.

    * perps (``BTC``, builder-dex ``xyz:TEST``) ↔ ``BTC-USD``, ``xyz:TEST-USD``;
    * spot pairs named ``BASE/QUOTE`` (``PURR/USDC``) ↔ ``PURR-USDC``;
    * spot pairs named ``@<index>`` ↔ ``BASE-QUOTE`` from ``spotMeta`` when given (``@107`` ↔
      ``HYPE-USDC``), else ``@107-SPOT`` (the tokens are unknown without spotMeta, and a guessed
      quote would be wrong for non-USDC pairs).

    A spot pair quoted in a token literally named ``USD`` would collide with perps; spotMeta
    containing one is refused.
    """

    __slots__ = ("_by_coin", "_by_pair")

    def __init__(self, spot_meta: SpotMeta | None = None) -> None:
        self._by_coin: dict[str, str] = {}
        self._by_pair: dict[str, str] = {}
        if spot_meta is not None:
            names = {t.index: t.name for t in spot_meta.tokens}
            for pair in spot_meta.universe:
                if len(pair.tokens) != 2 or not all(i in names for i in pair.tokens):
                    continue
                base, quote = names[pair.tokens[0]], names[pair.tokens[1]]
                if quote == PERP_QUOTE:
                    raise PayloadError(f"spotMeta: pair {pair.name} quoted in {quote!r}")
                trading_pair = f"{base}-{quote}"
                if trading_pair in self._by_pair:
                    continue  # the first pair with these tokens wins, as in the SDK
                self._by_coin[pair.name] = trading_pair
                self._by_pair[trading_pair] = pair.name

    def to_pair(self, coin: str) -> str:
        pair = self._by_coin.get(coin)
        if pair is not None:
            return pair
        if type(coin) is not str or not coin or "-" in coin:
            raise PayloadError(f"not a venue coin name: {str(coin)[:40]!r}")
        if coin[0] == "@":
            pair = f"{coin}-{SPOT_UNRESOLVED_QUOTE}"
        elif "/" in coin:
            base, _, quote = coin.partition("/")
            pair = f"{base}-{quote}"
        else:
            pair = f"{coin}-{PERP_QUOTE}"
        if len(self._by_coin) < 100_000:
            self._by_coin[coin] = pair
            self._by_pair.setdefault(pair, coin)
        return pair

    def to_coin(self, pair: str) -> str:
        coin = self._by_pair.get(pair)
        if coin is not None:
            return coin
        base, sep, quote = pair.rpartition("-")
        if not sep or not base or not quote:
            raise PayloadError(f"not a trading pair: {pair[:40]!r}")
        if quote in (PERP_QUOTE, SPOT_UNRESOLVED_QUOTE):
            return base
        return f"{base}/{quote}"


DEFAULT_COINS: Final = CoinMapper()
"""The context-free mapping (no spotMeta). Its only state is a memo of a pure function."""


# --- JSON readers and writers ----------------------------------------------------------------


def freeze(value: Any, where: str = "value") -> Json:
    """A JSON value as an immutable `Json` (objects → `JsonObject`, arrays → tuples)."""
    if value is None or type(value) in (str, int, float, bool):
        frozen: Json = value
        return frozen
    if type(value) is dict:
        return JsonObject(tuple((str(k), freeze(v, where)) for k, v in value.items()))
    if type(value) is list or type(value) is tuple:
        return tuple(freeze(v, where) for v in value)
    raise PayloadError(f"{where}: not a JSON value: {type(value).__name__}")


def thaw(value: Json) -> Any:
    if isinstance(value, JsonObject):
        return {k: thaw(v) for k, v in value.items}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``out[key]`` unless ``value`` is ``ABSENT`` (the key was not in the payload)."""
    if value is not ABSENT:
        out[key] = value


def put_extra(out: dict[str, Any], extra: JsonObject) -> dict[str, Any]:
    for key, value in extra.items:
        out[key] = thaw(value)
    return out


def opt(value: Any, fn: Any) -> Any:
    """Apply ``fn`` unless the value is ABSENT or None (they pass through)."""
    if value is ABSENT or value is None:
        return value
    return fn(value)


def expect_list(value: object, where: str) -> list[Any]:
    if type(value) is not list:
        raise PayloadError(f"{where}: expected an array, got {type(value).__name__}")
    return value


def expect_dict(value: object, where: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise PayloadError(f"{where}: expected an object, got {type(value).__name__}")
    return value


class Reader:
    """Typed access to one JSON object; remembers which keys were read to collect the rest."""

    __slots__ = ("_read", "obj", "where")

    def __init__(self, obj: object, where: str) -> None:
        self.obj: Mapping[str, Any] = expect_dict(obj, where)
        self.where = where
        self._read: list[str] = []

    def _get(self, key: str) -> Any:
        try:
            value = self.obj[key]
        except KeyError:
            raise PayloadError(f"{self.where}: missing key {key!r}") from None
        self._read.append(key)
        return value

    def has(self, key: str) -> bool:
        return key in self.obj

    def raw(self, key: str) -> Any:
        return self._get(key)

    def text(self, key: str) -> str:
        value = self._get(key)
        if type(value) is not str:
            raise PayloadError(f"{self.where}.{key}: expected a string, got {_kind(value)}")
        return value

    def integer(self, key: str) -> int:
        value = self._get(key)
        if type(value) is not int:
            raise PayloadError(f"{self.where}.{key}: expected an integer, got {_kind(value)}")
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if type(value) is not bool:
            raise PayloadError(f"{self.where}.{key}: expected a boolean, got {_kind(value)}")
        return value

    def dec(self, key: str) -> Decimal:
        return parse_decimal(self._get(key), f"{self.where}.{key}")

    def side(self, key: str) -> OrderSide:
        return parse_side(self._get(key), f"{self.where}.{key}")

    def cloid(self, key: str) -> ClientOrderId:
        return parse_cloid(self._get(key), f"{self.where}.{key}")

    def array(self, key: str) -> list[Any]:
        return expect_list(self._get(key), f"{self.where}.{key}")

    def optional(self, key: str, read: Any, *, nullable: bool = False) -> Any:
        """``read(key)`` if the key is present, ``ABSENT`` if not; ``None`` kept if nullable."""
        if key not in self.obj:
            return ABSENT
        if nullable and self.obj[key] is None:
            self._read.append(key)
            return None
        return read(key)

    def nullable(self, key: str, read: Any) -> Any:
        """A key that must be present but may be ``null``."""
        if key in self.obj and self.obj[key] is None:
            self._read.append(key)
            return None
        return read(key)

    def extra(self) -> JsonObject:
        read = set(self._read)
        if len(read) >= len(self.obj):
            return NO_EXTRA
        return JsonObject(
            tuple(
                (k, freeze(v, f"{self.where}.{k}")) for k, v in self.obj.items() if k not in read
            )
        )


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
