"""Every message class round-trips exactly through the versioned msgpack codec."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages import codec
from messages.codec import CodecError
from tests.strategies import for_message

CLASSES = sorted(codec.message_classes(), key=lambda c: c.__name__)


def test_the_vocabulary_is_complete() -> None:
    names = {c.__name__ for c in CLASSES}
    required = {
        "SubmitOrder", "CancelOrder", "CancelAll", "ModifyOrder", "OrderTracked",
        "OrderSubmitted", "OrderAccepted", "OrderFilled", "OrderCancelled", "OrderFailed",
        "OrderStatusUnknown", "OrderPendingCancel", "BookSnapshot", "PriceLevel",
        "TradeReceived", "BestBidOffer", "FeedConnected", "FeedLost", "ChildRestarted",
        "ChildFailed", "DeadLetter", "FillReported", "OrderStatusReported", "SubmitAnswered",
    }
    assert required <= names


def _same(a: Any, b: Any) -> bool:
    """Equality that also distinguishes Decimal('1.0') from Decimal('1') (exactness)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Decimal):
        return bool(a.as_tuple() == b.as_tuple())
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "__attrs_attrs__"):
        return all(
            _same(getattr(a, f.name), getattr(b, f.name)) for f in a.__attrs_attrs__
        )
    equal: bool = a == b
    return equal


@pytest.mark.parametrize("cls", CLASSES, ids=[c.__name__ for c in CLASSES])
@settings(max_examples=40)
@given(data=st.data())
def test_round_trip(cls: type, data: st.DataObject) -> None:
    message = data.draw(for_message(cls))
    decoded = codec.decode(codec.encode(message))
    assert _same(decoded, message)
    assert _same(codec.from_primitive(codec.to_primitive(message)), message)


@settings(max_examples=200)
@given(st.binary(max_size=64))
def test_garbage_never_escapes_as_anything_but_codec_error(blob: bytes) -> None:
    with contextlib.suppress(CodecError):
        codec.decode(blob)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ([2, "CancelOrder", {}], "version"),
        ([1, "NoSuchMessage", {}], "unknown message tag"),
        ([1, "CancelOrder", {"client_order_id": "0x12"}], "CancelOrder"),
        ([1, "CancelOrder", {"bogus": 1}], "unknown field"),
        ([1, "CancelOrder"], r"\[version, tag, fields\]"),
        ([1, "PriceLevel", {"price": 1, "size": "1", "orders": 1}], "decimal string"),
        ([1, "PriceLevel", {"price": "abc", "size": "1", "orders": 1}], "invalid decimal"),
    ],
)
def test_malformed_payloads_raise_codec_error(payload: list[Any], match: str) -> None:
    with pytest.raises(CodecError, match=match):
        codec.decode(msgpack.packb(payload))


def test_encode_refuses_non_messages() -> None:
    with pytest.raises(TypeError, match="not a registered message"):
        codec.encode({"a": 1})


def test_wrong_primitive_types_are_rejected() -> None:
    good = codec.to_primitive(
        __import__("messages").PriceLevel(price=Decimal("1"), size=Decimal("2"), orders=3)
    )
    tag, fields = good
    for bad in ("3", True, 3.0, None):
        blob = msgpack.packb([1, tag, {**fields, "orders": bad}])
        with pytest.raises(CodecError, match="orders"):
            codec.decode(blob)
