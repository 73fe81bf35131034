"""The engine's records: orders (mutable, owned by the engine), fills and events (immutable).

Events are what the engine tells the outside world after an operation; the service layer turns
them into the venue's WebSocket payloads. Amounts are Decimals; times are venue milliseconds.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import attrs

USD_QUANTUM = Decimal("0.000001")


def usd(value: Decimal) -> Decimal:
    """USDC amounts are kept in micro-USDC, as the venue's ledger does."""
    return value.quantize(USD_QUANTUM, rounding=ROUND_HALF_EVEN)


def wire(value: Decimal) -> str:
    """The venue's rendering of a number: plain digits, at least one decimal (``"5.0"``)."""
    if value.is_zero():
        return "0.0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0")
        if text.endswith("."):
            text += "0"
    else:
        text += ".0"
    return text


class Status:
    """Order status strings (PROTOCOL §16)."""

    OPEN = "open"
    FILLED = "filled"
    CANCELED = "canceled"
    TRIGGERED = "triggered"
    REJECTED = "rejected"
    MARGIN_CANCELED = "marginCanceled"
    SELF_TRADE_CANCELED = "selfTradeCanceled"
    REDUCE_ONLY_CANCELED = "reduceOnlyCanceled"
    SIBLING_FILLED_CANCELED = "siblingFilledCanceled"
    SCHEDULED_CANCEL = "scheduledCancel"
    TICK_REJECTED = "tickRejected"
    MIN_TRADE_NTL_REJECTED = "minTradeNtlRejected"
    PERP_MARGIN_REJECTED = "perpMarginRejected"
    REDUCE_ONLY_REJECTED = "reduceOnlyRejected"
    BAD_ALO_PX_REJECTED = "badAloPxRejected"
    IOC_CANCEL_REJECTED = "iocCancelRejected"
    BAD_TRIGGER_PX_REJECTED = "badTriggerPxRejected"
    MARKET_NO_LIQUIDITY_REJECTED = "marketOrderNoLiquidityRejected"
    TOO_MANY_OPEN_ORDERS_REJECTED = "tooManyOpenOrdersRejected"


class Errors:
    """Per-order error strings (PROTOCOL §6.5)."""

    TICK = "Price must be divisible by tick size."
    MIN_NOTIONAL = "Order must have minimum value of $10."
    MARGIN = "Insufficient margin to place order."
    REDUCE_ONLY = "Reduce only order would increase position."
    IOC_CANCEL = "Order could not immediately match against any resting orders."
    BAD_TRIGGER = "Invalid TP/SL price."
    NO_LIQUIDITY = "No liquidity available for market order."
    CANCEL_MISSING = "Order was never placed, already canceled, or filled."
    BAD_SIZE = "Order has invalid size."
    DUPLICATE_CLOID = "Order has duplicate cloid."
    # The venue's text is not published; this wording is the simulator's own.
    TOO_MANY_OPEN_ORDERS = "Too many open orders."

    @staticmethod
    def post_only(bid: Decimal | None, ask: Decimal | None) -> str:
        bbo = f"{'' if bid is None else wire(bid)}@{'' if ask is None else wire(ask)}"
        return f"Post only order would have immediately matched, bbo was {bbo}."


@attrs.frozen(kw_only=True)
class Trigger:
    is_market: bool
    trigger_px: Decimal
    tpsl: str  # "tp" | "sl"


@attrs.define(kw_only=True, eq=False)
class Order:
    oid: int
    user: str
    coin: str
    is_buy: bool
    limit_px: Decimal
    orig_sz: Decimal
    sz: Decimal
    timestamp: int
    tif: str | None
    reduce_only: bool = False
    cloid: str | None = None
    trigger: Trigger | None = None
    is_position_tpsl: bool = False
    status: str = Status.OPEN
    status_ts: int = 0
    triggered: bool = False
    children: list[Order] = attrs.Factory(list)
    parent_oid: int | None = None
    # Filled quantity and notional, for the placement answer's avgPx.
    filled_sz: Decimal = Decimal(0)
    filled_ntl: Decimal = Decimal(0)

    @property
    def side(self) -> str:
        return "B" if self.is_buy else "A"

    @property
    def is_live(self) -> bool:
        return self.status in (Status.OPEN, Status.TRIGGERED) and self.sz > 0

    def trigger_condition(self) -> str:
        if self.trigger is None:
            return "N/A"
        # A sell take-profit and a buy stop fire on a rising price.
        above = (self.trigger.tpsl == "tp") != self.is_buy
        return f"Price {'above' if above else 'below'} {wire(self.trigger.trigger_px)}"

    def order_type_name(self) -> str:
        if self.trigger is None:
            return "Limit"
        kind = "Take Profit" if self.trigger.tpsl == "tp" else "Stop"
        return f"{kind} {'Market' if self.trigger.is_market else 'Limit'}"


@attrs.frozen(kw_only=True)
class Fill:
    user: str
    coin: str
    px: Decimal
    sz: Decimal
    is_buy: bool
    time: int
    start_position: Decimal
    dir: str
    closed_pnl: Decimal
    hash: str
    oid: int
    crossed: bool
    fee: Decimal
    tid: int
    cloid: str | None


@attrs.frozen(kw_only=True)
class OrderView:
    """A snapshot of an order at one status change (orders keep changing afterwards)."""

    coin: str
    side: str
    limit_px: Decimal
    sz: Decimal
    oid: int
    timestamp: int
    orig_sz: Decimal
    cloid: str | None
    reduce_only: bool


def view(order: Order) -> OrderView:
    return OrderView(
        coin=order.coin, side=order.side, limit_px=order.limit_px, sz=order.sz, oid=order.oid,
        timestamp=order.timestamp, orig_sz=order.orig_sz, cloid=order.cloid,
        reduce_only=order.reduce_only,
    )


@attrs.frozen(kw_only=True)
class OrderUpdated:
    user: str
    order: OrderView
    status: str
    status_ts: int


@attrs.frozen(kw_only=True)
class FillsHappened:
    user: str
    fills: tuple[Fill, ...]


@attrs.frozen(kw_only=True)
class TradePrinted:
    coin: str
    is_buy: bool  # the aggressor's side
    px: Decimal
    sz: Decimal
    hash: str
    time: int
    tid: int
    buyer: str
    seller: str


@attrs.frozen(kw_only=True)
class BookChanged:
    coin: str


@attrs.frozen(kw_only=True)
class SystemCanceled:
    """A cancel the user did not ask for (``nonUserCancel`` in the user channel)."""

    user: str
    coin: str
    oid: int


Event = OrderUpdated | FillsHappened | TradePrinted | BookChanged | SystemCanceled


@attrs.frozen(kw_only=True)
class OrderRequest:
    """A decoded order wire: what the engine is asked to place."""

    asset: int
    is_buy: bool
    px: Decimal
    sz: Decimal
    reduce_only: bool = False
    tif: str | None = "Gtc"  # None for trigger orders
    trigger: Trigger | None = None
    cloid: str | None = None


@attrs.frozen
class Resting:
    oid: int
    cloid: str | None = None


@attrs.frozen
class Filled:
    total_sz: Decimal
    avg_px: Decimal
    oid: int
    cloid: str | None = None


@attrs.frozen
class Rejected:
    error: str


@attrs.frozen
class Waiting:
    status: str  # "waitingForFill" | "waitingForTrigger"


PlaceOutcome = Resting | Filled | Rejected | Waiting
