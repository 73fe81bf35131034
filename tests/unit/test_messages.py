"""Commands validate at the edge; ids, pairs and the seed JSON format behave as documented."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest

from messages import (
    CancelAll,
    ClientOrderId,
    ExchangeOrderId,
    LiquiditySide,
    ModifyOrder,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderSide,
    OrderState,
    OrderSubmitted,
    OrderType,
    SubmitOrder,
    TimeInForce,
    TradeId,
    coin_to_trading_pair,
    normalize_trading_pair,
    trading_pair_to_coin,
)
from messages.json_events import encode_order_event_json, order_topic

CLOID = ClientOrderId.derive("strategy-a", 1)


def _submit(**overrides: Any) -> SubmitOrder:
    fields: dict[str, Any] = {
        "client_order_id": CLOID,
        "trading_pair": "BTC-USD",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "amount": Decimal("0.01"),
        "price": Decimal("50000"),
    }
    fields.update(overrides)
    return SubmitOrder(**fields)


def test_cloid_is_deterministic_lowercase_and_distinct() -> None:
    assert ClientOrderId.derive("s", 1) == ClientOrderId.derive("s", 1)
    assert ClientOrderId.derive("s", 1) != ClientOrderId.derive("s", 2)
    assert ClientOrderId.derive("s", 1) != ClientOrderId.derive("t", 1)
    upper = ClientOrderId("0x" + "AB" * 16)
    assert upper == "0x" + "ab" * 16
    assert ClientOrderId.from_int(1) == "0x" + "0" * 31 + "1"
    assert ClientOrderId.from_int(5).to_int() == 5
    assert isinstance(ClientOrderId(CLOID), ClientOrderId)


@pytest.mark.parametrize(
    "bad", ["", "0x", "0X" + "a" * 32, "0x" + "a" * 31, "0x" + "z" * 32, "1" * 34]
)
def test_bad_cloids_raise(bad: str) -> None:
    with pytest.raises(ValueError, match="32 hex digits"):
        ClientOrderId(bad)


def test_cloid_error_never_echoes_the_input() -> None:
    secret = "0x" + "ab" * 32
    with pytest.raises(ValueError, match="32 hex digits") as info:
        ClientOrderId(secret)
    assert secret[2:] not in str(info.value)


def test_messages_are_frozen() -> None:
    order = _submit()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        order.amount = Decimal(1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"amount": Decimal(0)}, "amount"),
        ({"amount": Decimal("-1")}, "amount"),
        ({"amount": Decimal("NaN")}, "amount"),
        ({"amount": Decimal("Infinity")}, "amount"),
        ({"amount": 1.5}, "Decimal"),
        ({"price": None}, "needs a price"),
        ({"price": Decimal("-3")}, "price"),
        ({"trading_pair": "BTCUSD"}, "BTC-USD"),
        ({"trading_pair": "BTC-"}, "BTC-USD"),
        ({"client_order_id": "0x" + "1" * 32}, "ClientOrderId"),
        ({"order_type": OrderType.STOP_MARKET}, "trigger_price"),
        ({"order_type": OrderType.STOP_LIMIT, "trigger_price": Decimal(1), "price": None},
         "limit price"),
        ({"trigger_price": Decimal(1)}, "cannot have a trigger_price"),
        ({"slippage": Decimal("1.5")}, "slippage"),
        ({"order_type": OrderType.LIMIT_MAKER, "time_in_force": TimeInForce.IOC}, "ALO"),
    ],
)
def test_invalid_submit_orders_raise_clear_errors(overrides: dict[str, Any], error: str) -> None:
    with pytest.raises((ValueError, TypeError), match=error):
        _submit(**overrides)


def test_effective_time_in_force() -> None:
    assert _submit(order_type=OrderType.LIMIT_MAKER).effective_time_in_force is TimeInForce.ALO
    assert _submit(order_type=OrderType.MARKET, price=None).effective_time_in_force is (
        TimeInForce.IOC
    )
    assert _submit(time_in_force=TimeInForce.IOC).effective_time_in_force is TimeInForce.IOC


def test_modify_and_cancel_all_validate() -> None:
    with pytest.raises(ValueError, match="must change"):
        ModifyOrder(client_order_id=CLOID)
    with pytest.raises(ValueError, match="BTC-USD"):
        CancelAll(trading_pair="nope")
    assert CancelAll().trading_pair is None


def test_trading_pair_mapping() -> None:
    assert coin_to_trading_pair("BTC") == "BTC-USD"
    assert trading_pair_to_coin("BTC-USD") == "BTC"
    assert trading_pair_to_coin("kPEPE-USD") == "kPEPE"
    assert trading_pair_to_coin("xyz:TEST-USD") == "xyz:TEST"
    assert trading_pair_to_coin("ETH") == "ETH"
    assert normalize_trading_pair("kPEPE") == "kPEPE-USD"
    assert normalize_trading_pair("BTC-usd") == "BTC-USD"
    with pytest.raises(ValueError, match="coin"):
        coin_to_trading_pair("BTC-USD")


def _event_fields(state: OrderState, filled: str = "0") -> dict[str, Any]:
    return {
        "client_order_id": CLOID,
        "exchange_order_id": ExchangeOrderId(77),
        "trading_pair": "ETH-USD",
        "side": OrderSide.SELL,
        "order_type": OrderType.LIMIT,
        "price": Decimal("1891.40"),
        "amount": Decimal("0.02"),
        "filled_amount": Decimal(filled),
        "order_state": state,
        "strategy_id": "mm",
        "sequence": 9,
        "ts_event": 1_700_000_000_000_000_000,
        "ts_init": 1_700_000_000_000_000_001,
    }


def test_seed_json_format_for_a_fill() -> None:
    fill = OrderFilled(
        **_event_fields(OrderState.FILLED, "0.02"),
        fill_price=Decimal("1891.4"),
        fill_amount=Decimal("0.02"),
        fee=Decimal("0.0113"),
        fee_asset="USDC",
        trade_id=TradeId(118906512037719),
        liquidity=LiquiditySide.MAKER,
    )
    assert order_topic(fill) == "orders.hyperliquid.filled"
    body = orjson.loads(encode_order_event_json(fill, sequence=3))
    assert body["event_type"] == "order_filled"
    assert body["timestamp"] == 1_700_000_000_000_000_000
    assert body["sequence"] == 3
    data = body["data"]
    for key in ("client_order_id", "exchange_order_id", "trading_pair", "order_type", "price",
                "amount", "filled_amount", "order_state"):
        assert key in data
    assert data["client_order_id"] == CLOID
    assert data["exchange_order_id"] == "77"
    assert data["price"] == "1891.40"
    assert data["order_state"] == "FILLED"
    assert data["order_type"] == "LIMIT"
    assert data["fill_amount"] == "0.02"
    assert data["trade_id"] == "118906512037719"


@pytest.mark.parametrize(
    ("event", "topic", "event_type"),
    [
        (OrderAccepted(**_event_fields(OrderState.OPEN)), "created", "order_created"),
        (OrderSubmitted(**_event_fields(OrderState.SUBMITTED)), "update", "order_submitted"),
        (OrderCancelled(**_event_fields(OrderState.CANCELLED), reason="canceled"), "cancelled",
         "order_cancelled"),
    ],
)
def test_topics(event: Any, topic: str, event_type: str) -> None:
    assert order_topic(event) == f"orders.hyperliquid.{topic}"
    assert orjson.loads(encode_order_event_json(event, 1))["event_type"] == event_type


def test_partial_fill_topic() -> None:
    fill = OrderFilled(
        **_event_fields(OrderState.PARTIALLY_FILLED, "0.01"),
        fill_price=Decimal("1"), fill_amount=Decimal("0.01"), fee=Decimal(0), fee_asset="USDC",
        trade_id=TradeId(1), liquidity=LiquiditySide.TAKER,
    )
    assert order_topic(fill) == "orders.hyperliquid.partial_fill"
