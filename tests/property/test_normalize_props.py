"""Bad numbers are refusals, never crashes (issue 10, item 4).

For any Decimal a strategy can write (any exponent, any precision, any sign, NaN, sNaN,
±Infinity) a command either refuses it at construction (``ValueError`` in the sender's thread)
or the gate (`Normalizer`) returns a reason or an order the venue takes (checked with the venue's
rules in `venues.hyperliquid.numbers`), for every market of a registry, and never raises.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from actors.gating.normalize import MAX_DIGITS, Normalizer, Quotes, RiskConfig
from messages import ClientOrderId, ModifyOrder, OrderSide, OrderType, SubmitOrder, TimeInForce
from messages.market import BestBidOffer, PriceLevel
from venues.hyperliquid import numbers
from venues.hyperliquid.markets import Market, MarketRegistry

NOW = 1_800_000_000_000_000_000
MARKETS = MarketRegistry(
    [Market(trading_pair=f"P{d}-USD", coin=f"P{d}", asset=d, sz_decimals=d, max_leverage=20)
     for d in range(7)]
    + [Market(trading_pair=f"S{d}-USDC", coin=f"@{d}", asset=10_000 + d, sz_decimals=d,
              max_leverage=1, is_spot=True) for d in range(5)]
)
RISKS = (
    RiskConfig(max_submits_per_s=1e12),
    # Everything the venue can represent passes risk, so the number rules alone decide.
    RiskConfig(max_submits_per_s=1e12, min_notional=Decimal(0),
               max_order_notional=Decimal("1e60"), price_band=None),
)
SPECIALS = [Decimal(s) for s in ("NaN", "-NaN", "sNaN", "-sNaN", "NaN123", "sNaN9",
                                 "Infinity", "-Infinity", "0", "-0", "0E-1000000", "0E+99")]


def _decimal(sign: int, digits: int, exponent: int) -> Decimal:
    return Decimal((sign, tuple(int(c) for c in str(digits)), exponent))


# Any finite Decimal: up to 60 digits, exponents near the context's extremes as well as the
# usual ones, both signs; plus the special values.
finite = st.builds(
    _decimal,
    st.sampled_from((0, 0, 0, 1)),
    st.one_of(st.integers(0, 10**6), st.integers(0, 10**60)),
    st.one_of(st.integers(-12, 12), st.integers(-40, 40),
              st.integers(-1_000_100, 1_000_100), st.sampled_from((999_999, -999_999, -1_000_026))),
)
decimals = st.one_of(finite, st.sampled_from(SPECIALS))
optional = st.one_of(st.none(), decimals)


def _constructible(value: Decimal | None, *, optional_ok: bool = True) -> bool:
    if value is None:
        return optional_ok
    return value.is_finite() and value > 0


def _quotes(mid: Decimal | None) -> Quotes:
    quotes = Quotes()
    if mid is not None:
        for market in MARKETS.pairs():
            level = PriceLevel(price=mid, size=Decimal(1), orders=1)
            quotes.update(BestBidOffer(trading_pair=market, bid=level,
                                       ask=PriceLevel(price=mid * Decimal("1.001"),
                                                      size=Decimal(1), orders=1),
                                       ts_event=NOW, ts_init=NOW), NOW)
    return quotes


def _assert_valid_for(market: Market, order: SubmitOrder) -> None:
    szd, spot = market.sz_decimals, market.is_spot
    assert numbers.size_is_valid(order.amount, szd), order.amount
    assert Decimal(numbers.float_to_wire(order.amount)) == order.amount
    for value in (order.price, order.trigger_price):
        if value is not None:
            assert numbers.price_is_valid(value, szd, is_spot=spot), value
            assert Decimal(numbers.float_to_wire(value)) == value
            assert value.adjusted() < MAX_DIGITS
    assert order.amount.adjusted() + szd < MAX_DIGITS


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(amount=decimals, price=optional, trigger=optional,
       kind=st.sampled_from(list(OrderType)), side=st.sampled_from(list(OrderSide)),
       tif=st.sampled_from(list(TimeInForce)), slippage=decimals,
       mid=st.one_of(st.none(), st.decimals(min_value=Decimal("1e-6"), max_value=Decimal("1e6"),
                                            places=6)),
       risk=st.sampled_from(RISKS))
@example(amount=Decimal("0.01"), price=Decimal("1E+30"), trigger=None, kind=OrderType.LIMIT,
         side=OrderSide.BUY, tif=TimeInForce.GTC, slippage=Decimal("0.05"), mid=None,
         risk=RISKS[1])
@example(amount=Decimal("1E+30"), price=Decimal("100"), trigger=None, kind=OrderType.LIMIT,
         side=OrderSide.SELL, tif=TimeInForce.GTC, slippage=Decimal("0.05"), mid=None,
         risk=RISKS[1])
@example(amount=Decimal("1"), price=Decimal("9E+999999"), trigger=None, kind=OrderType.MARKET,
         side=OrderSide.BUY, tif=TimeInForce.IOC, slippage=Decimal("0.5"), mid=None,
         risk=RISKS[1])
@example(amount=Decimal("1"), price=Decimal("999999999999999.5"), trigger=None,
         kind=OrderType.MARKET, side=OrderSide.BUY, tif=TimeInForce.IOC,
         slippage=Decimal("0.5"), mid=None, risk=RISKS[1])
def test_any_number_is_a_refusal_or_an_order_the_venue_takes(
    amount: Decimal, price: Decimal | None, trigger: Decimal | None, kind: OrderType,
    side: OrderSide, tif: TimeInForce, slippage: Decimal, mid: Decimal | None, risk: RiskConfig,
) -> None:
    fields_ok = (_constructible(amount, optional_ok=False) and _constructible(price)
                 and _constructible(trigger) and slippage.is_finite() and slippage >= 0)
    try:
        order = SubmitOrder(client_order_id=ClientOrderId.derive("props", 1), trading_pair="P0-USD",
                            side=side, order_type=kind, amount=amount, price=price,
                            trigger_price=trigger, time_in_force=tif, slippage=slippage)
    except ValueError:
        # Refused in the sender's thread: a bad number, or a field the order type needs.
        return
    assert fields_ok, "a non-finite or non-positive number passed construction"
    quotes = _quotes(mid)
    for market in (MARKETS.by_pair(p) for p in MARKETS.pairs()):
        normalizer = Normalizer(MARKETS, quotes, risk, lambda: NOW)
        result = normalizer.submit(_on(order, market))
        if isinstance(result, str):
            assert 0 < len(result) < 300, result[:400]  # reasons travel in events: no walls
            continue
        _assert_valid_for(market, result)


def _on(order: SubmitOrder, market: Market) -> SubmitOrder:
    return SubmitOrder(client_order_id=order.client_order_id, trading_pair=market.trading_pair,
                       side=order.side, order_type=order.order_type, amount=order.amount,
                       price=order.price, trigger_price=order.trigger_price,
                       time_in_force=order.time_in_force, slippage=order.slippage)


@settings(max_examples=400, deadline=None)
@given(price=optional, amount=optional, trigger=optional, side=st.sampled_from(list(OrderSide)))
def test_any_number_in_a_modify_is_a_refusal_or_valid(
    price: Decimal | None, amount: Decimal | None, trigger: Decimal | None, side: OrderSide,
) -> None:
    try:
        modify = ModifyOrder(client_order_id=ClientOrderId.derive("props", 2), price=price,
                             amount=amount, trigger_price=trigger)
    except ValueError:
        return
    assert all(v is None or (v.is_finite() and v > 0) for v in (price, amount, trigger))
    normalizer = Normalizer(MARKETS, Quotes(), RISKS[1], lambda: NOW)
    for market in (MARKETS.by_pair(p) for p in MARKETS.pairs()):
        result = normalizer.modify(modify, side, market.trading_pair)
        if isinstance(result, str):
            assert 0 < len(result) < 300, result[:400]
            continue
        szd, spot = market.sz_decimals, market.is_spot
        if result.amount is not None:
            assert numbers.size_is_valid(result.amount, szd)
        for value in (result.price, result.trigger_price):
            if value is not None:
                assert numbers.price_is_valid(value, szd, is_spot=spot)
                assert Decimal(numbers.float_to_wire(value)) == value


@pytest.mark.parametrize("value", [*SPECIALS, Decimal("-1"), Decimal("-1E-30")])
@pytest.mark.parametrize("field", ["amount", "price", "trigger_price", "slippage"])
def test_commands_refuse_special_and_non_positive_values_in_the_senders_thread(
    field: str, value: Decimal,
) -> None:
    fields: dict[str, object] = {"amount": Decimal(1), "price": Decimal(100),
                                 "trigger_price": Decimal(90), "slippage": Decimal("0.05")}
    fields[field] = value
    def build() -> SubmitOrder:
        return SubmitOrder(client_order_id=ClientOrderId.derive("props", 3),
                           trading_pair="P0-USD", side=OrderSide.BUY,
                           order_type=OrderType.STOP_LIMIT, **fields)  # type: ignore[arg-type]

    if field == "slippage" and value.is_finite() and value >= 0:
        build()  # zero slippage is allowed
    else:
        with pytest.raises(ValueError, match=field) as refused:
            build()
        assert len(str(refused.value)) < 200
    if field != "slippage":
        with pytest.raises(ValueError, match=field):
            ModifyOrder(client_order_id=ClientOrderId.derive("props", 4),
                        **{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("price", Decimal("1E+30"), "price 1E+30 is too large"),
    ("amount", Decimal("1E+30"), "amount 1E+30 is too large"),
    ("amount", Decimal("1E-30"), "amount 1E-30 rounds to zero with szDecimals=3"),
    ("price", Decimal("1E-999999"), "price 1E-999999 is below the smallest price tick 1E-3"),
    ("price", Decimal("1" * 80), "price 1.111111E+79 is too large"),
])
def test_refusals_name_the_field_and_the_value(field: str, value: Decimal, reason: str) -> None:
    order = SubmitOrder(client_order_id=ClientOrderId.derive("props", 5), trading_pair="P3-USD",
                        side=OrderSide.BUY, order_type=OrderType.LIMIT,
                        amount=value if field == "amount" else Decimal("0.01"),
                        price=value if field == "price" else Decimal("100"))
    result = Normalizer(MARKETS, Quotes(), RISKS[1], lambda: NOW).submit(order)
    assert isinstance(result, str)
    assert result.startswith(reason), result
