"""Order-wire vectors from the official SDK: dicts, key order and msgpack bytes."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest

from messages.ids import ClientOrderId
from tests.helpers import load_vectors
from venues.hyperliquid import wire

CASES = load_vectors("order_wire.json")["cases"]
BUILD_CASES = [c for c in CASES if "orders" in c["input"]]
CLOID_CASES = [c for c in CASES if "cloid_raw" in c["input"]]


def _build(case: dict[str, Any]) -> dict[str, Any]:
    wires = [
        wire.order_wire(
            asset=o["asset"],
            is_buy=o["is_buy"],
            price=float(o["limit_px"]),
            size=float(o["sz"]),
            reduce_only=o["reduce_only"],
            order_type=wire.order_type_from_sdk(o["order_type"]),
            cloid=o["cloid"],
        )
        for o in case["input"]["orders"]
    ]
    return wire.order_action(wires, case["input"]["grouping"], case["input"]["builder"])


def _has_uppercase_cloid(case: dict[str, Any]) -> bool:
    return any(o["cloid"] and o["cloid"] != o["cloid"].lower() for o in case["input"]["orders"])


@pytest.mark.parametrize("case", BUILD_CASES, ids=[c["id"] for c in BUILD_CASES])
def test_order_wire_vector(case: dict[str, Any]) -> None:
    if case["error"] is not None:
        with pytest.raises(ValueError, match="float_to_wire causes rounding"):
            _build(case)
        return
    action = _build(case)
    expected = case["expected"]["action"]
    if _has_uppercase_cloid(case):
        # The SDK passes a mixed-case cloid through; the node re-renders cloids in lowercase
        # before hashing, so such a signature would recover a random address. We send the
        # canonical lowercase cloid; everything else is identical.
        lowered = json.loads(json.dumps(expected))
        for o in lowered["orders"]:
            if "c" in o:
                o["c"] = o["c"].lower()
        assert action == lowered
        assert action != expected
        return
    assert action == expected
    assert json.dumps(action, separators=(",", ":")) == case["expected"]["action_json_compact"]
    assert msgpack.packb(action).hex() == case["expected"]["action_msgpack_hex"]
    single = case["expected"].get("order_wire")
    if single is not None:
        assert list(action["orders"][0]) == list(single)
        assert action["orders"][0] == single
    else:
        assert action["orders"] == case["expected"]["order_wires"]


@pytest.mark.parametrize("case", CLOID_CASES, ids=[c["id"] for c in CLOID_CASES])
def test_cloid_validation_vector(case: dict[str, Any]) -> None:
    # The SDK raises TypeError; our ids raise ValueError with the rule spelled out.
    with pytest.raises(ValueError, match="32 hex digits"):
        ClientOrderId(case["input"]["cloid_raw"])
    with pytest.raises(ValueError, match="32 hex digits"):
        wire.order_wire(
            asset=1, is_buy=True, price=1.0, size=1.0, reduce_only=False,
            order_type=wire.limit_type("Gtc"), cloid=case["input"]["cloid_raw"],
        )


def test_non_hex_cloid_is_rejected_unlike_the_sdk() -> None:
    with pytest.raises(ValueError, match="hex digits"):
        ClientOrderId("0x" + "g" * 32)


def test_trigger_keys_are_in_venue_order() -> None:
    t = wire.trigger_type("100.50", is_market=True, tpsl="sl")
    assert list(t["trigger"]) == ["isMarket", "triggerPx", "tpsl"]
    assert t["trigger"]["triggerPx"] == "100.5"


def test_other_actions_key_order() -> None:
    assert list(wire.cancel_action([(1, 2)])["cancels"][0]) == ["a", "o"]
    cloid = ClientOrderId.from_int(7)
    assert wire.cancel_by_cloid_action([(3, cloid)]) == {
        "type": "cancelByCloid", "cancels": [{"asset": 3, "cloid": cloid}],
    }
    assert list(wire.update_leverage_action(1, is_cross=True, leverage=5)) == [
        "type", "asset", "isCross", "leverage",
    ]
    assert list(wire.update_isolated_margin_action(1, is_buy=True, ntli=-5)) == [
        "type", "asset", "isBuy", "ntli",
    ]
    assert wire.schedule_cancel_action(None) == {"type": "scheduleCancel"}
    assert wire.schedule_cancel_action(5) == {"type": "scheduleCancel", "time": 5}
    assert wire.noop_action() == {"type": "noop"}
    order = wire.order_wire(asset=1, is_buy=True, price="1", size="2", reduce_only=False,
                            order_type=wire.limit_type("Alo"))
    assert list(wire.modify_action(9, order)) == ["type", "oid", "order"]
    assert wire.batch_modify_action([(cloid, order)])["modifies"][0] == {"oid": cloid,
                                                                        "order": order}


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: wire.order_action([]), "at least one"),
        (lambda: wire.limit_type("Day"), "tif"),  # type: ignore[arg-type]
        (lambda: wire.update_leverage_action(1, is_cross=True, leverage=0), "leverage"),
        (lambda: wire.cancel_action([]), "at least one"),
        (lambda: wire.order_action([{"a": 1}], "bogus"), "grouping"),  # type: ignore[arg-type]
        (lambda: wire.check_address("0x12"), "40 hex"),
    ],
)
def test_invalid_actions_raise(call: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
