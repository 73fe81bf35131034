"""Checks a new order meets before it may execute: size, tick, minimum notional, and the
address's open-order cap (PROTOCOL §12, §14)."""

from __future__ import annotations

from decimal import Decimal

from venues.hyperliquid.numbers import price_is_valid, size_is_valid
from venues.simulator.accounts import Account
from venues.simulator.config import CoinSpec
from venues.simulator.limits import Limits
from venues.simulator.model import Errors, Order, Status

MIN_NOTIONAL = Decimal(10)


def static_check(order: Order, spec: CoinSpec) -> tuple[str, str]:
    """``(status, error)`` of a rejection by the order's own numbers, or ``("", "")``."""
    if not size_is_valid(order.sz, spec.sz_decimals):
        return Status.REJECTED, Errors.BAD_SIZE
    if not price_is_valid(order.limit_px, spec.sz_decimals):
        return Status.TICK_REJECTED, Errors.TICK
    if order.trigger is not None and not price_is_valid(order.trigger.trigger_px, spec.sz_decimals):
        return Status.TICK_REJECTED, Errors.TICK
    if not order.reduce_only and order.sz * order.limit_px < MIN_NOTIONAL:
        return Status.MIN_TRADE_NTL_REJECTED, Errors.MIN_NOTIONAL
    return "", ""


def open_order_check(limits: Limits | None, account: Account | None, live: int,
                     order: Order) -> tuple[str, str]:
    """Rejected when the address already has its cap of open orders (``live``: resting
    orders, waiting triggers and TP/SL children all count); reduce-only and trigger orders
    stop at the base cap even when volume has raised it."""
    if limits is None:
        return "", ""
    volume = account.cum_volume if account is not None else Decimal(0)
    special = order.reduce_only or order.trigger is not None
    if limits.open_order_refusal(order.user, live, volume, reduce_only_or_trigger=special):
        return Status.TOO_MANY_OPEN_ORDERS_REJECTED, Errors.TOO_MANY_OPEN_ORDERS
    return "", ""
