"""Number-formatting and rounding vectors from the official SDK, with our quirk decisions."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import load_vectors
from venues.hyperliquid import numbers

F2W = load_vectors("float_to_wire.json")["cases"]
F2I = load_vectors("float_to_int.json")["cases"]
ROUNDING = load_vectors("rounding.json")


def _quirk(case: dict[str, Any]) -> str | None:
    """Which documented SDK quirk (PROTOCOL §9.1/§18) a float_to_wire case exercises."""
    x = float(case["input"])
    expected = case["expected"]
    if not math.isfinite(x):
        return "non-finite"
    if expected == "-0":
        return "negative-zero"
    if expected is None:
        return None
    shortest = Decimal(repr(x))
    if Decimal(expected) != shortest and shortest.as_tuple().exponent >= -8:  # type: ignore[operator]
        # The SDK printed the binary value's digits instead of the number the float stands for.
        return "binary-noise" if abs(x) >= 1e7 and "." in expected else "over-28-digits"
    return None


@pytest.mark.parametrize("case", F2W, ids=[c["input"] for c in F2W])
def test_float_to_wire_vector(case: dict[str, Any]) -> None:
    x = float(case["input"])
    quirk = _quirk(case)
    if case["error"] is not None:
        with pytest.raises(ValueError, match="float_to_wire causes rounding"):
            numbers.float_to_wire(x)
    elif quirk == "non-finite":
        # SDK formats "NaN"/"Infinity"; we refuse to send a non-finite number.
        with pytest.raises(ValueError, match="finite"):
            numbers.float_to_wire(x)
    elif quirk == "negative-zero":
        # SDK sends "-0" (its guard is dead code); the canonical zero is "0".
        assert numbers.float_to_wire(x) == "0"
    elif quirk is not None:
        # We send the shortest decimal that is exactly this float, not binary noise.
        out = numbers.float_to_wire(x)
        assert float(out) == x
        assert Decimal(out) == Decimal(repr(x))
        assert out != case["expected"]
    else:
        assert numbers.float_to_wire(x) == case["expected"]


def test_quirk_cases_are_all_present_in_the_vectors() -> None:
    quirks = {_quirk(c) for c in F2W}
    assert {"non-finite", "negative-zero", "binary-noise", "over-28-digits"} <= quirks


def test_binary_noise_example_is_canonical() -> None:
    assert numbers.float_to_wire(991485394.4) == "991485394.4"
    assert numbers.float_to_wire(1090697104.809) == "1090697104.809"


@pytest.mark.parametrize("case", F2I, ids=[f"{c['function']}-{c['input']}" for c in F2I])
def test_float_to_int_vector(case: dict[str, Any]) -> None:
    fn = getattr(numbers, case["function"])
    x = float(case["input"])
    if case["error"] is not None:
        with pytest.raises(ValueError, match="float_to_int causes rounding"):
            fn(x)
    else:
        assert fn(x) == case["expected"]


def _wire_or_error(value: float) -> str:
    try:
        return numbers.float_to_wire(value)
    except ValueError as exc:
        return f"ERROR: {exc.args[0]}"


@pytest.mark.parametrize("case", ROUNDING["cases"], ids=[c["id"] for c in ROUNDING["cases"]])
def test_rounding_vector(case: dict[str, Any]) -> None:
    exp = case["expected"]
    szd = case["sz_decimals"]
    spot = case["market"] == "spot"
    px, sz = float(case["px_raw"]), float(case["sz_raw"])
    assert numbers.max_price_decimals(szd, spot) == case["max_price_decimals"]

    example = numbers.sdk_round_price(px, szd, is_spot=spot)
    assert repr(example) == exp["px_rounding_example"]
    assert numbers.float_to_wire(example) == exp["px_rounding_example_wire"]
    assert numbers.price_is_valid(example, szd, is_spot=spot) == exp["px_rounding_example_valid"]

    zero_slip = numbers.sdk_slippage_price(px, is_buy=True, slippage=0.0, sz_decimals=szd,
                                           is_spot=spot)
    assert repr(zero_slip) == exp["px_sdk_slippage_fn_0pct"]
    assert numbers.float_to_wire(zero_slip) == exp["px_sdk_slippage_fn_0pct_wire"]
    assert numbers.price_is_valid(zero_slip, szd, is_spot=spot) == exp[
        "px_sdk_slippage_fn_0pct_valid"
    ]
    buy = numbers.sdk_slippage_price(px, is_buy=True, slippage=0.05, sz_decimals=szd, is_spot=spot)
    sell = numbers.sdk_slippage_price(px, is_buy=False, slippage=0.05, sz_decimals=szd,
                                      is_spot=spot)
    assert repr(buy) == exp["px_market_buy_5pct"]
    assert numbers.float_to_wire(buy) == exp["px_market_buy_5pct_wire"]
    assert repr(sell) == exp["px_market_sell_5pct"]
    assert numbers.float_to_wire(sell) == exp["px_market_sell_5pct_wire"]

    size = numbers.sdk_round_size(sz, szd)
    assert repr(size) == exp["sz_rounded"]
    assert numbers.float_to_wire(size) == exp["sz_rounded_wire"]
    assert numbers.size_is_valid(size, szd) == exp["sz_rounded_valid"]

    assert _wire_or_error(px) == exp["px_raw_wire"]
    assert numbers.price_is_valid(px, szd, is_spot=spot) == exp["px_raw_valid"]


@pytest.mark.parametrize("case", ROUNDING["cases"], ids=[c["id"] for c in ROUNDING["cases"]])
def test_decimal_rounding_is_valid_and_close_to_the_sdk(case: dict[str, Any]) -> None:
    """Our Decimal rounding: always valid, and equal to the SDK recipe except where the SDK
    rounds binary floats (half-way cases) or rounds prices above 100k differently."""
    szd = case["sz_decimals"]
    spot = case["market"] == "spot"
    px = Decimal(case["px_raw"])
    sdk = Decimal(case["expected"]["px_rounding_example_wire"])
    if sdk == 0:
        with pytest.raises(ValueError, match="rounds to zero"):
            numbers.round_price(px, szd, is_spot=spot)
        return
    ours = numbers.round_price(px, szd, is_spot=spot)
    assert numbers.price_is_valid(ours, szd, is_spot=spot)
    if px > 100_000:
        # rounding.py rounds to an integer above 100k; both are valid, at most 5 apart.
        assert abs(ours - sdk) <= 5
    else:
        # We round once, on the exact decimal; the SDK rounds twice (5 s.f., then decimals) on
        # binary floats. Ours is never further from the input than the SDK's (ties: half-even).
        assert abs(ours - px) <= abs(sdk - px)


@pytest.mark.parametrize(
    "item", ROUNDING["price_string_validity"], ids=[f"{v['px']}-{v['sz_decimals']}-{v['market']}"
                                                   for v in ROUNDING["price_string_validity"]]
)
def test_price_string_validity(item: dict[str, Any]) -> None:
    assert numbers.price_is_valid(item["px"], item["sz_decimals"],
                                  is_spot=item["market"] == "spot") == item["valid"]
