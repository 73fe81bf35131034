"""Typed runtime commands → Hyperliquid actions (the wire dicts the signer signs).

Orders reaching here are already normalised by execution (prices and sizes valid for their
market, market orders carrying their worst acceptable price), so this module only maps types
and formats numbers; an invalid value is a bug upstream and raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from messages.commands import SubmitOrder
from messages.enums import OrderSide, OrderType, TimeInForce
from messages.signing import CancelTarget, ModifyTarget
from venues.hyperliquid import wire
from venues.hyperliquid.markets import MarketRegistry

_TIF: dict[TimeInForce, wire.Tif] = {
    TimeInForce.GTC: "Gtc",
    TimeInForce.IOC: "Ioc",
    TimeInForce.ALO: "Alo",
}


def order_type_wire(order: SubmitOrder) -> dict[str, Any]:
    kind = order.order_type
    if kind.is_trigger:
        assert order.trigger_price is not None
        return wire.trigger_type(
            order.trigger_price,
            is_market=kind.is_market_execution,
            tpsl="tp" if kind.is_take_profit else "sl",
        )
    return wire.limit_type(_TIF[order.effective_time_in_force])


def order_wire(order: SubmitOrder, markets: MarketRegistry) -> dict[str, Any]:
    if order.price is None:
        raise ValueError(f"{order.order_type.value} order reached the signer without a price")
    market = markets.by_pair(order.trading_pair)
    return wire.order_wire(
        asset=market.asset,
        is_buy=order.side is OrderSide.BUY,
        price=order.price,
        size=order.amount,
        reduce_only=order.reduce_only,
        order_type=order_type_wire(order),
        cloid=order.client_order_id,
    )


def place_action(orders: Sequence[SubmitOrder], markets: MarketRegistry) -> dict[str, Any]:
    return wire.order_action([order_wire(o, markets) for o in orders], "na")


def cancel_actions(
    targets: Sequence[CancelTarget], markets: MarketRegistry
) -> list[tuple[dict[str, Any], tuple[CancelTarget, ...]]]:
    """One ``cancelByCloid`` for our orders and one ``cancel`` (by oid) for external ones;
    each returned with the targets in the order of the action's entries."""
    by_cloid = [t for t in targets if not t.by_exchange_id]
    by_oid = [t for t in targets if t.by_exchange_id]
    for target in by_oid:
        if target.exchange_order_id is None:
            raise ValueError(f"cancel of {target.client_order_id} by exchange order id without "
                             "an exchange order id")
    out: list[tuple[dict[str, Any], tuple[CancelTarget, ...]]] = []
    if by_cloid:
        out.append((wire.cancel_by_cloid_action(
            [(markets.by_pair(t.trading_pair).asset, t.client_order_id) for t in by_cloid]
        ), tuple(by_cloid)))
    if by_oid:
        out.append((wire.cancel_action(
            [(markets.by_pair(t.trading_pair).asset, int(t.exchange_order_id or 0))
             for t in by_oid]
        ), tuple(by_oid)))
    return out


def cancel_target_error(target: CancelTarget, markets: MarketRegistry) -> str | None:
    """Why this target cannot be part of a cancel action, or None."""
    if target.trading_pair not in markets:
        return f"unknown trading pair {target.trading_pair[:40]!r}"
    if target.by_exchange_id and target.exchange_order_id is None:
        return "cancel by exchange order id without an exchange order id"
    return None


def modify_action(targets: Sequence[ModifyTarget], markets: MarketRegistry) -> dict[str, Any]:
    """``batchModify`` addressing each order by its cloid (the venue accepts either id)."""
    return wire.batch_modify_action(
        [(t.client_order_id, order_wire(t.order, markets)) for t in targets]
    )


def is_post_only(order: SubmitOrder) -> bool:
    return order.order_type is not OrderType.MARKET and order.effective_time_in_force is (
        TimeInForce.ALO
    )
