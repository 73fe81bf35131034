"""Hyperliquid number rules: wire strings, integer scaling, price/size rounding and validity.

Prices and sizes travel as decimal strings inside signed actions, and the venue re-serialises
them canonically before checking the signature, so the string must be canonical: no exponent,
no trailing zeros, no trailing dot, at most 8 decimals.

Where the official SDK has a quirk (PROTOCOL §9.1, §18) this module gives the canonical answer
or a clear ``ValueError`` instead:

* ``-0.0`` (and negatives that round to zero) → ``"0"`` (the SDK gives ``"-0"``);
* NaN and ±infinity → ``ValueError`` (the SDK formats ``"NaN"``/``"Infinity"``);
* floats ≥ 1e7 with a fraction → the shortest decimal that round-trips (``991485394.4`` →
  ``"991485394.4"``; the SDK prints binary noise ``"991485394.39999998"``);
* values with more than 28 significant digits → exact digits (the SDK rounds in a 28-digit
  decimal context).

Everything else is byte-identical to the SDK (the test suite runs every vector).
"""

from __future__ import annotations

import enum
import functools
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation

MAX_WIRE_DECIMALS = 8
MAX_SIG_FIGS = 5
MAX_DECIMALS_PERP = 6
MAX_DECIMALS_SPOT = 8

Number = float | int | Decimal | str


def _to_decimal(x: Number, what: str) -> Decimal:
    if isinstance(x, bool):
        raise TypeError(f"{what} must be a number, not bool")
    if isinstance(x, Decimal):
        d = x
    elif isinstance(x, int):
        d = Decimal(x)
    elif isinstance(x, str):
        try:
            d = Decimal(x.strip())
        except InvalidOperation:
            raise ValueError(f"{what} is not a decimal number: {x[:40]!r}") from None
    elif isinstance(x, float):
        if not math.isfinite(x):
            raise ValueError(f"{what} must be finite, got {x!r}")
        d = Decimal(repr(x))
    else:
        raise TypeError(f"{what} must be a number, not {type(x).__name__}")
    if not d.is_finite():
        raise ValueError(f"{what} must be finite, got {d}")
    return d


def decimal_to_wire(d: Decimal) -> str:
    """Canonical string of a finite Decimal: plain notation, no trailing zeros, ``-0`` → ``0``."""
    if not d.is_finite():
        raise ValueError(f"cannot send a non-finite number ({d})")
    if d.is_zero():
        return "0"
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def float_to_wire(x: Number) -> str:
    """The wire string of a price or size (``float_to_wire`` of the SDK, minus its quirks).

    Raises ``ValueError`` when the value cannot be written with at most 8 decimals (the SDK's
    "float_to_wire causes rounding") or is not finite.
    """
    if isinstance(x, float):
        if not math.isfinite(x):
            raise ValueError(f"float_to_wire: value must be finite, got {x!r}")
        rounded = f"{x:.8f}"
        if abs(float(rounded) - x) >= 1e-12:
            raise ValueError("float_to_wire causes rounding", x)
        shortest = Decimal(repr(x))
        exponent = shortest.as_tuple().exponent
        assert isinstance(exponent, int)  # finite
        # The shortest round-trip repr is the value the caller meant; fall back to the SDK's
        # 8-decimal rounding only when that repr needs more than 8 decimals (tiny noise).
        d = shortest if exponent >= -MAX_WIRE_DECIMALS else Decimal(rounded)
        return decimal_to_wire(d)
    if type(x) is Decimal and x.is_finite():
        return _decimal_wire(x)
    d = _to_decimal(x, "float_to_wire value")
    return _decimal_wire(d)


# The order path renders the same few prices and sizes again and again; these pure functions
# of a Decimal's value (equal Decimals give equal results) are memoised, bounded.
@functools.lru_cache(maxsize=8192)
def _decimal_wire(d: Decimal) -> str:
    if d.normalize().as_tuple().exponent < -MAX_WIRE_DECIMALS:  # type: ignore[operator]
        raise ValueError("float_to_wire causes rounding", d)
    return decimal_to_wire(d)


def float_to_int(x: Number, power: int) -> int:
    """``x * 10**power`` as an exact integer; ``ValueError`` if that would round (SDK rule)."""
    if isinstance(x, float):
        if not math.isfinite(x):
            raise ValueError(f"float_to_int: value must be finite, got {x!r}")
        with_decimals: float = x * float(10**power)
        if abs(round(with_decimals) - with_decimals) >= 1e-3:
            raise ValueError("float_to_int causes rounding", x)
        return round(with_decimals)
    scaled = _to_decimal(x, "float_to_int value").scaleb(power)
    if scaled != scaled.to_integral_value():
        raise ValueError("float_to_int causes rounding", x)
    return int(scaled)


def float_to_int_for_hashing(x: Number) -> int:
    return float_to_int(x, 8)


def float_to_usd_int(x: Number) -> int:
    """USDC amount in micro-units (``updateIsolatedMargin.ntli``)."""
    return float_to_int(x, 6)


class Rounding(enum.Enum):
    NEAREST = ROUND_HALF_EVEN
    DOWN = ROUND_FLOOR
    UP = ROUND_CEILING


def max_price_decimals(sz_decimals: int, is_spot: bool = False) -> int:
    return max(0, (MAX_DECIMALS_SPOT if is_spot else MAX_DECIMALS_PERP) - sz_decimals)


def _require_positive(d: Decimal, what: str) -> None:
    if d <= 0:
        raise ValueError(f"{what} must be > 0, got {decimal_to_wire(d)}")


def round_price(
    px: Number,
    sz_decimals: int,
    *,
    is_spot: bool = False,
    rounding: Rounding = Rounding.NEAREST,
) -> Decimal:
    """The nearest (or next lower/higher) valid price: ≤ 5 significant figures and at most
    ``6 - szDecimals`` decimals (``8 -`` for spot); integers are always valid.

    Raises ``ValueError`` for a non-positive input or one that rounds to zero.
    """
    if type(px) is Decimal and px.is_finite():
        return _round_decimal_price(px, sz_decimals, is_spot, rounding)
    return _round_price(_to_decimal(px, "price"), sz_decimals, is_spot, rounding)


@functools.lru_cache(maxsize=8192)
def _round_decimal_price(d: Decimal, sz_decimals: int, is_spot: bool,
                         rounding: Rounding) -> Decimal:
    return _round_price(d, sz_decimals, is_spot, rounding)


def _round_price(d: Decimal, sz_decimals: int, is_spot: bool, rounding: Rounding) -> Decimal:
    _require_positive(d, "price")
    sig_decimals = MAX_SIG_FIGS - 1 - d.adjusted()
    decimals = max(0, min(max_price_decimals(sz_decimals, is_spot), sig_decimals))
    out = d.quantize(Decimal(1).scaleb(-decimals), rounding=rounding.value)
    if out.is_zero():
        raise ValueError(f"price {decimal_to_wire(d)} rounds to zero with szDecimals={sz_decimals}")
    if not price_is_valid(out, sz_decimals, is_spot=is_spot):
        # Rounding up across a power of ten can add a digit (9.99996 → 10.0000); one more
        # quantization at the new magnitude always lands on a valid price.
        return _round_price(out, sz_decimals, is_spot, rounding)
    return Decimal(decimal_to_wire(out))


def round_price_for_side(
    px: Number,
    sz_decimals: int,
    *,
    is_buy: bool,
    aggressive: bool,
    is_spot: bool = False,
) -> Decimal:
    """Side-aware rounding.

    Passive prices round away from the touch (a bid down, an ask up) so a maker never crosses
    by rounding; aggressive prices round toward the touch (a buy up, a sell down) so a taker
    still reaches the price it asked for.
    """
    up = is_buy == aggressive
    return round_price(
        px, sz_decimals, is_spot=is_spot, rounding=Rounding.UP if up else Rounding.DOWN
    )


def round_size(sz: Number, sz_decimals: int, *, rounding: Rounding = Rounding.DOWN) -> Decimal:
    """A size with at most ``szDecimals`` decimals; rounds down by default (never more than
    asked). Raises ``ValueError`` if the result is zero or the input is not positive."""
    if type(sz) is Decimal and sz.is_finite():
        return _round_decimal_size(sz, sz_decimals, rounding)
    return _round_size(_to_decimal(sz, "size"), sz_decimals, rounding)


@functools.lru_cache(maxsize=8192)
def _round_decimal_size(d: Decimal, sz_decimals: int, rounding: Rounding) -> Decimal:
    return _round_size(d, sz_decimals, rounding)


def _round_size(d: Decimal, sz_decimals: int, rounding: Rounding) -> Decimal:
    _require_positive(d, "size")
    out = d.quantize(Decimal(1).scaleb(-sz_decimals), rounding=rounding.value)
    if out.is_zero():
        raise ValueError(f"size {decimal_to_wire(d)} rounds to zero with szDecimals={sz_decimals}")
    return Decimal(decimal_to_wire(out))


def price_is_valid(px: Number, sz_decimals: int, *, is_spot: bool = False) -> bool:
    """The venue's tick rule (PROTOCOL §12)."""
    try:
        d = _to_decimal(px, "price")
    except (ValueError, TypeError):
        return False
    if d <= 0:
        return False
    n = d.normalize()
    exponent = n.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent >= 0:
        return True
    decimals = -exponent
    sig_figs = len(n.as_tuple().digits)
    return decimals <= max_price_decimals(sz_decimals, is_spot) and sig_figs <= MAX_SIG_FIGS


def size_is_valid(sz: Number, sz_decimals: int) -> bool:
    try:
        d = _to_decimal(sz, "size")
    except (ValueError, TypeError):
        return False
    if d <= 0:
        return False
    exponent = d.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return -exponent <= sz_decimals


def slippage_price(
    reference: Number,
    *,
    is_buy: bool,
    slippage: Number,
    sz_decimals: int,
    is_spot: bool = False,
) -> Decimal:
    """Worst acceptable price of a market order: ``reference * (1 ± slippage)``, rounded toward
    the reference so the stated slippage is never exceeded."""
    ref = _to_decimal(reference, "reference price")
    _require_positive(ref, "reference price")
    s = _to_decimal(slippage, "slippage")
    if not 0 <= s < 1:
        raise ValueError("slippage must be in [0, 1)")
    raw = ref * (1 + s) if is_buy else ref * (1 - s)
    return round_price(
        raw, sz_decimals, is_spot=is_spot, rounding=Rounding.DOWN if is_buy else Rounding.UP
    )


# --- The SDK's float recipes, reproduced for parity (vectors/rounding.json) -----------------


def sdk_round_price(px: float, sz_decimals: int, *, is_spot: bool = False) -> float:
    """``examples/rounding.py``: integer above 100k, else 5 s.f. then the decimals budget."""
    if px > 100_000:
        return float(round(px))
    return round(float(f"{px:.5g}"), max_price_decimals(sz_decimals, is_spot))


def sdk_slippage_price(
    px: float, *, is_buy: bool, slippage: float, sz_decimals: int, is_spot: bool = False
) -> float:
    """``Exchange._slippage_price`` after the mid lookup (no integer special case)."""
    px = px * (1 + slippage) if is_buy else px * (1 - slippage)
    return round(float(f"{px:.5g}"), max_price_decimals(sz_decimals, is_spot))


def sdk_round_size(sz: float, sz_decimals: int) -> float:
    return round(sz, sz_decimals)
