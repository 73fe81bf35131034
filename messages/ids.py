"""Typed identifiers.

`ClientOrderId` is the Hyperliquid cloid: ``"0x"`` followed by 32 lowercase hex digits (16 bytes).
It is a ``str`` subclass so it hashes, compares and serialises like the string it is, while
construction validates and canonicalises it (the venue re-renders cloids in lowercase before
hashing an action, so a mixed-case cloid would sign a payload the venue never sees).

Cloids are derived deterministically from a seed and a counter (`ClientOrderId.derive`), so a
restarted process can recompute the id of an order it was about to send and look it up at the
venue instead of sending it twice.
"""

from __future__ import annotations

import hashlib
from typing import NewType

ExchangeOrderId = NewType("ExchangeOrderId", int)
"""The venue's order id (Hyperliquid ``oid``); replaced when an order is modified."""

TradeId = NewType("TradeId", int)
"""The venue's trade id (Hyperliquid ``tid``)."""

_HEX = frozenset("0123456789abcdef")
_CLOID_BITS = 128


class ClientOrderId(str):
    """A validated, lowercase Hyperliquid cloid."""

    __slots__ = ()

    def __new__(cls, value: str) -> ClientOrderId:
        if type(value) is ClientOrderId:
            return value
        if not isinstance(value, str):
            raise TypeError(f"client order id must be a str, not {type(value).__name__}")
        if len(value) != 34 or value[:2] != "0x":
            # The value itself is not echoed: callers have been known to pass key material here.
            raise ValueError(
                f"client order id must be '0x' followed by 32 hex digits (got {len(value)} chars)"
            )
        lowered = value.lower()
        if not _HEX.issuperset(lowered[2:]):
            raise ValueError("client order id must be '0x' followed by 32 hex digits")
        return str.__new__(cls, lowered)

    @classmethod
    def from_int(cls, n: int) -> ClientOrderId:
        """The cloid whose 128-bit value is ``n`` (as the SDK's ``Cloid.from_int``)."""
        if not 0 <= n < 1 << _CLOID_BITS:
            raise ValueError("client order id integer must be in [0, 2**128)")
        return str.__new__(cls, format(n, "#034x"))

    @classmethod
    def derive(cls, seed: str, counter: int) -> ClientOrderId:
        """A cloid computed from ``seed`` and ``counter``: the same inputs give the same id.

        Use one seed per strategy instance and a counter journaled with the order, so a restart
        can recompute every id it may have sent.
        """
        if counter < 0:
            raise ValueError("counter must be non-negative")
        digest = hashlib.blake2b(f"{seed}\x00{counter}".encode(), digest_size=16).digest()
        return str.__new__(cls, "0x" + digest.hex())

    def to_int(self) -> int:
        return int(self[2:], 16)

    def __repr__(self) -> str:
        return f"ClientOrderId({str.__repr__(self)})"
