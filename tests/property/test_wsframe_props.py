"""The order path's WebSocket framer against websocket-client's, byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websocket import ABNF

from venues.hyperliquid.wsframe import masked_text_frame


def _reference(payload: bytes, mask: bytes) -> bytes:
    frame = ABNF.create_frame(payload, ABNF.OPCODE_TEXT)
    frame.get_mask_key = lambda _n: mask
    data: bytes = frame.format()
    return data


# Lengths around the three header forms (7-bit, 16-bit, 64-bit) and ordinary order posts.
_LENGTHS = st.one_of(st.integers(0, 300), st.sampled_from([125, 126, 127, 65_535, 65_536, 70_001]))


@given(length=_LENGTHS, seed=st.binary(min_size=1, max_size=64),
       mask=st.binary(min_size=4, max_size=4))
def test_the_same_bytes_as_websocket_client(length: int, seed: bytes, mask: bytes) -> None:
    payload = (seed * (length // len(seed) + 1))[:length]
    assert masked_text_frame(payload, mask) == _reference(payload, mask)


@given(payload=st.binary(max_size=2000))
def test_unmasking_gives_the_payload_back(payload: bytes) -> None:
    frame = masked_text_frame(payload)
    assert frame[0] == 0x81  # FIN, text
    assert frame[1] & 0x80  # masked, as a client must
    n = frame[1] & 0x7F
    offset = 2
    if n == 126:
        n, offset = int.from_bytes(frame[2:4], "big"), 4
    assert n == len(payload)
    mask, body = frame[offset:offset + 4], frame[offset + 4:]
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(body)) == payload


def test_a_mask_must_be_four_bytes() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        masked_text_frame(b"x", b"abc")
