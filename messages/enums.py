"""Enumerations shared by commands and events."""

from __future__ import annotations

import enum


class OrderSide(enum.Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(enum.Enum):
    """What kind of order a strategy asks for (Hummingbot names where they exist).

    ``MARKET`` is sent as an aggressive IOC limit order whose price is the reference price moved
    by the order's slippage. Trigger orders rest until the venue's mark price crosses
    ``trigger_price``; ``*_MARKET`` then execute as market orders and ``*_LIMIT`` as limit orders.
    """

    LIMIT = "LIMIT"
    LIMIT_MAKER = "LIMIT_MAKER"
    MARKET = "MARKET"
    STOP_MARKET = "STOP_MARKET"
    STOP_LIMIT = "STOP_LIMIT"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"

    @property
    def is_trigger(self) -> bool:
        return self in _TRIGGER_TYPES

    @property
    def is_market_execution(self) -> bool:
        """True when the order executes as a market (IOC) order once live or triggered."""
        return self in (OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)

    @property
    def is_take_profit(self) -> bool:
        return self in (OrderType.TAKE_PROFIT_MARKET, OrderType.TAKE_PROFIT_LIMIT)


_TRIGGER_TYPES = frozenset(
    {
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.TAKE_PROFIT_MARKET,
        OrderType.TAKE_PROFIT_LIMIT,
    }
)


class TimeInForce(enum.Enum):
    GTC = "GTC"
    """Good till cancelled: rests on the book."""
    IOC = "IOC"
    """Immediate or cancel: the unfilled remainder is cancelled."""
    ALO = "ALO"
    """Add liquidity only (post-only): rejected instead of crossing."""


class OrderState(enum.Enum):
    """The 9 states of an order's lifecycle (docs/order-lifecycle.md)."""

    PENDING_CREATE = "PENDING_CREATE"
    SUBMITTED = "SUBMITTED"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_STATES


_TERMINAL_STATES = frozenset({OrderState.FILLED, OrderState.CANCELLED, OrderState.FAILED})


class LiquiditySide(enum.Enum):
    MAKER = "MAKER"
    TAKER = "TAKER"


class VenueOrderStatus(enum.Enum):
    """The venue's word on an order, reduced to what the lifecycle needs.

    The venue's own status string travels beside it (``raw_status``) as the reason.
    """

    OPEN = "OPEN"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    TRIGGERED = "TRIGGERED"
    REJECTED = "REJECTED"
    UNRECOGNIZED = "UNRECOGNIZED"
    """A status string this version does not know: the order must be queried, never guessed."""


class SubmitOutcome(enum.Enum):
    """The venue's immediate answer to one order of a submitted batch."""

    RESTING = "RESTING"
    FILLED = "FILLED"
    REJECTED = "REJECTED"
    WAITING = "WAITING"
    """Accepted but not yet live: a TP/SL child waiting for its parent, or a trigger order."""


class RequestKind(enum.Enum):
    SUBMIT = "SUBMIT"
    CANCEL = "CANCEL"
    MODIFY = "MODIFY"
    CANCEL_ALL = "CANCEL_ALL"
    SCHEDULE_CANCEL = "SCHEDULE_CANCEL"
    QUERY = "QUERY"
    INVALIDATE = "INVALIDATE"
    """A ``noop`` spending the nonce of an earlier request whose outcome is unknown."""


class MarketChannel(enum.Enum):
    BOOK = "BOOK"
    TRADES = "TRADES"
    BBO = "BBO"


class EvidenceSource(enum.Enum):
    """Where a piece of venue evidence came from."""

    RESPONSE = "RESPONSE"
    STREAM = "STREAM"
    QUERY = "QUERY"
    RECONCILIATION = "RECONCILIATION"
