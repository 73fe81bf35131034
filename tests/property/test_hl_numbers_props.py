"""Properties of the number rules: rounding is always valid; wire strings agree with the SDK."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hyperliquid.utils import signing as sdk_signing
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from venues.hyperliquid import numbers

prices = st.decimals(min_value=Decimal("1e-9"), max_value=Decimal("1e9"), allow_nan=False,
                     allow_infinity=False)
sz_decimals = st.integers(min_value=0, max_value=6)


@settings(max_examples=400)
@given(px=prices, szd=sz_decimals, spot=st.booleans(),
       rounding=st.sampled_from(list(numbers.Rounding)))
def test_round_price_is_always_valid(
    px: Decimal, szd: int, spot: bool, rounding: numbers.Rounding
) -> None:
    try:
        out = numbers.round_price(px, szd, is_spot=spot, rounding=rounding)
    except ValueError as exc:
        error = str(exc)
    else:
        error = ""
    if error:
        assert "rounds to zero" in error
        return
    assert numbers.price_is_valid(out, szd, is_spot=spot)
    if rounding is numbers.Rounding.DOWN:
        assert out <= px
    if rounding is numbers.Rounding.UP:
        assert out >= px
    # the wire string of a valid price is canonical and parses back to the same value
    wire = numbers.float_to_wire(out)
    assert Decimal(wire) == out
    assert "e" not in wire.lower()
    assert not (("." in wire) and wire.endswith("0"))


@settings(max_examples=300)
@given(px=prices, szd=sz_decimals, is_buy=st.booleans(), aggressive=st.booleans())
def test_side_aware_rounding_direction(
    px: Decimal, szd: int, is_buy: bool, aggressive: bool
) -> None:
    try:
        out = numbers.round_price_for_side(px, szd, is_buy=is_buy, aggressive=aggressive)
    except ValueError:
        return
    if is_buy == aggressive:
        assert out >= px  # aggressive buy / passive sell: up
    else:
        assert out <= px  # passive buy / aggressive sell: down


@settings(max_examples=300)
@given(sz=st.decimals(min_value=Decimal("1e-9"), max_value=Decimal("1e9"), allow_nan=False),
       szd=sz_decimals)
def test_round_size_is_valid_and_never_larger(sz: Decimal, szd: int) -> None:
    try:
        out = numbers.round_size(sz, szd)
    except ValueError as exc:
        error = str(exc)
    else:
        error = ""
    if error:
        assert "rounds to zero" in error
        return
    assert numbers.size_is_valid(out, szd)
    assert out <= sz


@settings(max_examples=500)
@given(st.integers(min_value=0, max_value=9_999_999), st.integers(min_value=0, max_value=8),
       st.integers(min_value=0, max_value=10**8 - 1), st.booleans())
def test_float_to_wire_equals_the_sdk_below_1e7(
    int_part: int, places: int, frac: int, negative: bool
) -> None:
    text = f"{int_part}.{str(frac).zfill(8)[:places]}" if places else str(int_part)
    x = float(text) * (-1 if negative else 1)
    assume(x != 0)
    assert numbers.float_to_wire(x) == sdk_signing.float_to_wire(x)


@settings(max_examples=200)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
def test_float_to_wire_raises_exactly_when_the_sdk_raises(x: float) -> None:
    try:
        sdk = sdk_signing.float_to_wire(x)
    except ValueError:
        with pytest.raises(ValueError, match="rounding"):
            numbers.float_to_wire(x)
        return
    ours = numbers.float_to_wire(x)
    assert ours == ("0" if sdk == "-0" else sdk)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), Decimal("NaN"),
                                 Decimal("Infinity"), "abc", "1e-9", Decimal("0.000000001")])
def test_invalid_numbers_raise_clear_errors(bad: object) -> None:
    with pytest.raises(ValueError, match=r"finite|rounding|not a decimal"):
        numbers.float_to_wire(bad)  # type: ignore[arg-type]
