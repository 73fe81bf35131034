"""Order normalisation and pre-trade risk: what execution checks before tracking an order.

A strategy's `SubmitOrder` becomes either a normalised order (price and size valid for the
market, a market order carrying the worst price it may trade at) or a denial reason. Rounding
never makes an order more aggressive than asked: limit prices round away from the touch,
sizes round down, and a market order's worst price rounds toward its reference price.

Any Decimal a command accepted (finite and > 0: `messages._validate`) ends here as an order
valid for the venue or as a reason naming the field and the value, never as an exception:
magnitudes are checked before any arithmetic (`representable`), because ``quantize`` raises
``InvalidOperation`` once a result needs more than the 28 digits of the decimal context.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import attrs

from messages.commands import ModifyOrder, SubmitOrder
from messages.enums import OrderSide, OrderType
from messages.market import BestBidOffer, BookSnapshot
from venues.hyperliquid import numbers
from venues.hyperliquid.markets import Market, MarketRegistry, UnknownMarketError

MAX_DIGITS = 15
"""Significant digits a price or size may need after rounding (integer digits of a price,
integer digits plus ``szDecimals`` of a size). 15 is what an IEEE double keeps exactly (DBL_DIG):
the venue's own clients handle prices and sizes as doubles, so a value that needs more digits
cannot mean the same thing on both sides. It also keeps every rounding far inside the 28-digit
decimal context. Real markets need ≤ 7 integer digits for prices and ≤ 12 for sizes."""
_SHOWN = 40


def _show(value: Decimal) -> str:
    """A value for a refusal reason: exact, but never a wall of digits."""
    text = str(value)
    return text if len(text) <= _SHOWN else f"{value:.6E}"


def representable(what: str, value: Decimal, market: Market, *, is_size: bool) -> str | None:
    """Why the venue cannot take ``value`` as this price or size on ``market``, or None.

    Looks only at the value's exponent (`Decimal.adjusted`), so it is safe and cheap for any
    finite Decimal; call it before rounding or multiplying. Too large: more than `MAX_DIGITS`
    digits. Too small: a size below one lot rounds (down) to zero; a price below the smallest
    tick has no price to round to that means what was asked."""
    szd = market.sz_decimals
    magnitude = value.adjusted()
    if is_size:
        if magnitude + 1 + szd > MAX_DIGITS:
            return (f"{what} {_show(value)} is too large: the venue takes sizes below "
                    f"1E+{MAX_DIGITS - szd} on {market.trading_pair} (at most {MAX_DIGITS} "
                    "significant digits)")
        if magnitude < -szd:
            return f"{what} {_show(value)} rounds to zero with szDecimals={szd}"
        return None
    if magnitude + 1 > MAX_DIGITS:
        return (f"{what} {_show(value)} is too large: the venue takes prices below "
                f"1E+{MAX_DIGITS} (at most {MAX_DIGITS} significant digits)")
    decimals = numbers.max_price_decimals(szd, market.is_spot)
    if magnitude < -decimals:
        return (f"{what} {_show(value)} is below the smallest price tick 1E-{decimals} of "
                f"{market.trading_pair}")
    return None


@attrs.frozen(kw_only=True)
class RiskConfig:
    min_notional: Decimal = attrs.field(default=Decimal(10), metadata={"configurable": False})
    """The venue's minimum order value (perps, USD): a fact of the venue, so the runtime's
    configuration cannot change it."""
    max_order_notional: Decimal = Decimal(1_000_000)
    price_band: Decimal | None = Decimal("0.10")
    """Limit prices further than this fraction from the mid are refused (fat-finger guard)."""
    max_book_age_s: float = 10.0
    """A market order needs a book at most this old for its reference price."""
    max_submits_per_s: float = 50.0
    """Per strategy; a burst of twice this is allowed."""


class Quotes:
    """The latest top of book per trading pair, from the market stream."""

    def __init__(self) -> None:
        self._mid: dict[str, tuple[Decimal, int]] = {}

    def update(self, message: BestBidOffer | BookSnapshot, now_ns: int) -> None:
        if isinstance(message, BookSnapshot):
            bid, ask = message.best_bid, message.best_ask
        else:
            bid, ask = message.bid, message.ask
        if bid is None or ask is None or bid.price >= ask.price:
            return
        self._mid[message.trading_pair] = ((bid.price + ask.price) / 2, now_ns)

    def mid(self, trading_pair: str, now_ns: int, max_age_ns: int) -> Decimal | None:
        entry = self._mid.get(trading_pair)
        if entry is None or now_ns - entry[1] > max_age_ns:
            return None
        return entry[0]


class _Bucket:
    __slots__ = ("capacity", "last_ns", "rate", "tokens")

    def __init__(self, rate: float, now_ns: int) -> None:
        self.rate = rate
        self.capacity = max(1.0, 2 * rate)
        self.tokens = self.capacity
        self.last_ns = now_ns

    def take(self, now_ns: int) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now_ns - self.last_ns) / 1e9 * self.rate)
        self.last_ns = now_ns
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _same(a: Decimal | None, b: Decimal | None) -> bool:
    """Equal values written the same way (``1.0`` and ``1`` are equal, not the same)."""
    if a is None or b is None:
        return a is b
    return a == b and a.as_tuple().exponent == b.as_tuple().exponent


class Normalizer:
    def __init__(
        self, markets: MarketRegistry, quotes: Quotes, config: RiskConfig,
        now_ns: Callable[[], int],
    ) -> None:
        self.markets = markets
        self.quotes = quotes
        self.config = config
        self._now_ns = now_ns
        self.halted: str | None = None
        self._buckets: dict[str, _Bucket] = {}

    def submit(self, order: SubmitOrder) -> SubmitOrder | str:
        """The normalised order, or why it is refused."""
        if self.halted is not None:
            return f"trading halted: {self.halted}"
        try:
            market = self.markets.by_pair(order.trading_pair)
        except UnknownMarketError as exc:
            return str(exc)
        if market.delisted:
            return f"{market.trading_pair} is delisted"
        now = self._now_ns()
        bucket = self._buckets.get(order.strategy_id)
        if bucket is None:
            bucket = self._buckets[order.strategy_id] = _Bucket(self.config.max_submits_per_s,
                                                                now)
        if not bucket.take(now):
            return f"submit rate above {self.config.max_submits_per_s}/s for this strategy"
        try:
            return self._normalize(order, market, now)
        except ValueError as exc:
            return str(exc)

    def _normalize(self, order: SubmitOrder, market: Market, now: int) -> SubmitOrder | str:
        cfg = self.config
        is_buy = order.side is OrderSide.BUY
        szd = market.sz_decimals
        refused = _unrepresentable(order.amount, order.price, order.trigger_price, market)
        if refused is not None:
            return refused
        size = numbers.round_size(order.amount, szd)
        mid = self.quotes.mid(order.trading_pair, now, int(cfg.max_book_age_s * 1e9))
        trigger = order.trigger_price
        kind = order.order_type
        if kind is OrderType.MARKET:
            reference = order.price if order.price is not None else mid
            if reference is None:
                return (f"no fresh price for {order.trading_pair}: a market order needs a book "
                        f"younger than {cfg.max_book_age_s}s or a reference price")
            price = numbers.slippage_price(reference, is_buy=is_buy, slippage=order.slippage,
                                           sz_decimals=szd, is_spot=market.is_spot)
            value_price = reference
        elif kind.is_trigger:
            assert trigger is not None
            trigger = numbers.round_price(trigger, szd, is_spot=market.is_spot)
            if kind.is_market_execution:
                price = numbers.slippage_price(trigger, is_buy=is_buy, slippage=order.slippage,
                                               sz_decimals=szd, is_spot=market.is_spot)
            else:
                assert order.price is not None
                price = market.round_price(order.price, is_buy=is_buy, aggressive=False)
            value_price = trigger
        else:
            assert order.price is not None
            price = market.round_price(order.price, is_buy=is_buy, aggressive=False)
            value_price = price
            if cfg.price_band is not None and mid is not None and (
                abs(price - mid) > mid * cfg.price_band
            ):
                return (f"limit price {price} is more than {cfg.price_band:%} from the mid "
                        f"{mid:.6g}")
        # Slippage (or rounding up) can carry a price just past the bound.
        refused = representable("price", price, market, is_size=False)
        if refused is not None:
            return refused
        notional = value_price * size
        if notional < cfg.min_notional and not order.reduce_only:
            return f"order value {notional:.2f} is below the minimum {cfg.min_notional}"
        if notional > cfg.max_order_notional:
            return f"order value {notional:.2f} is above the limit {cfg.max_order_notional}"
        if _same(size, order.amount) and _same(price, order.price) and _same(
            trigger, order.trigger_price
        ):
            return order  # already valid for the market: no copy, no second validation
        return attrs.evolve(order, amount=size, price=price, trigger_price=trigger)

    def modify(self, modify: ModifyOrder, side: OrderSide, trading_pair: str) -> ModifyOrder | str:
        """Round a modify's new price/amount like a new order's."""
        try:
            market = self.markets.by_pair(trading_pair)
        except UnknownMarketError as exc:
            return str(exc)
        refused = _unrepresentable(modify.amount, modify.price, modify.trigger_price, market)
        if refused is not None:
            return refused
        try:
            price = None if modify.price is None else market.round_price(
                modify.price, is_buy=side is OrderSide.BUY, aggressive=False)
            amount = None if modify.amount is None else market.round_size(modify.amount)
            trigger = None if modify.trigger_price is None else numbers.round_price(
                modify.trigger_price, market.sz_decimals, is_spot=market.is_spot)
        except ValueError as exc:
            return str(exc)
        return attrs.evolve(modify, price=price, amount=amount, trigger_price=trigger)


def _unrepresentable(amount: Decimal | None, price: Decimal | None, trigger: Decimal | None,
                     market: Market) -> str | None:
    """The first field of a command the venue cannot represent, as a refusal reason."""
    if amount is not None and (
        found := representable("amount", amount, market, is_size=True)
    ) is not None:
        return found
    for name, value in (("price", price), ("trigger_price", trigger)):
        if value is not None and (
            found := representable(name, value, market, is_size=False)
        ) is not None:
            return found
    return None
