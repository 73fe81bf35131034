"""Hypothesis strategies for every message class, derived from the type hints."""

from __future__ import annotations

import enum
import types
import typing
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st

from messages import commands
from messages.enums import OrderSide, OrderType, TimeInForce
from messages.ids import ClientOrderId

cloids = st.integers(min_value=0, max_value=2**128 - 1).map(ClientOrderId.from_int)
decimals = st.decimals(allow_nan=False, allow_infinity=False)
positive_decimals = st.decimals(
    min_value=Decimal("1e-8"), max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False
)
coins = st.sampled_from(["BTC", "ETH", "SOL", "kPEPE", "xyz:TEST", "HYPE"])
pairs = coins.map(lambda c: f"{c}-USD")
int64 = st.integers(min_value=-(2**63), max_value=2**64 - 1)


def for_type(tp: Any) -> st.SearchStrategy[Any]:
    supertype = getattr(tp, "__supertype__", None)
    if supertype is not None:
        return for_type(supertype)
    if tp is int:
        return int64
    if tp is str:
        return st.text(max_size=20)
    if tp is bool:
        return st.booleans()
    if tp is bytes:
        return st.binary(max_size=16)
    if tp is float:
        return st.floats(allow_nan=False)
    if tp is Decimal:
        return decimals
    if tp is ClientOrderId:
        return cloids
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if isinstance(tp, type) and attrs.has(tp):
        return for_message(tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return st.none() | for_type(inner[0])
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(for_type(args[0]), max_size=4).map(tuple)
        return st.tuples(*(for_type(a) for a in args))
    raise TypeError(f"no strategy for {tp!r}")


def _submit_orders() -> st.SearchStrategy[commands.SubmitOrder]:
    @st.composite
    def build(draw: st.DrawFn) -> commands.SubmitOrder:
        kind = draw(st.sampled_from(list(OrderType)))
        needs_price = kind in (OrderType.LIMIT, OrderType.LIMIT_MAKER) or (
            kind.is_trigger and not kind.is_market_execution
        )
        price = draw(positive_decimals) if needs_price else draw(st.none() | positive_decimals)
        return commands.SubmitOrder(
            client_order_id=draw(cloids),
            trading_pair=draw(pairs),
            side=draw(for_type(OrderSide)),
            order_type=kind,
            amount=draw(positive_decimals),
            price=price,
            time_in_force=TimeInForce.ALO if kind is OrderType.LIMIT_MAKER else draw(
                st.sampled_from(list(TimeInForce))
            ),
            trigger_price=draw(positive_decimals) if kind.is_trigger else None,
            reduce_only=draw(st.booleans()),
            slippage=draw(st.decimals(min_value=0, max_value=Decimal("0.5"), places=4)),
            strategy_id=draw(st.text(max_size=8)),
            ts_init=draw(st.integers(min_value=0, max_value=2**63 - 1)),
        )

    return build()


@st.composite
def _modify_orders(draw: st.DrawFn) -> commands.ModifyOrder:
    price, amount, trigger = draw(
        st.tuples(
            st.none() | positive_decimals, st.none() | positive_decimals,
            st.none() | positive_decimals,
        ).filter(lambda t: any(v is not None for v in t))
    )
    return commands.ModifyOrder(
        client_order_id=draw(cloids), price=price, amount=amount, trigger_price=trigger
    )


_OVERRIDES: dict[type, st.SearchStrategy[Any]] = {
    commands.SubmitOrder: _submit_orders(),
    commands.ModifyOrder: _modify_orders(),
    commands.CancelAll: st.builds(
        commands.CancelAll, trading_pair=st.none() | pairs, strategy_id=st.none() | st.text()
    ),
}
_PAIR_FIELDS = {"trading_pair"}


def for_message(cls: type) -> st.SearchStrategy[Any]:
    if cls in _OVERRIDES:
        return _OVERRIDES[cls]
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(cls):
        if field.name in _PAIR_FIELDS and hints[field.name] is str:
            kwargs[field.name] = pairs
        else:
            kwargs[field.name] = for_type(hints[field.name])
    return st.builds(cls, **kwargs)
