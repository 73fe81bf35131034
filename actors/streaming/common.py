"""Small pieces both streams and their peers share: recipients, the streams' duration validator,
the latest-wins key for subscribers' mailboxes (the stats query is `messages.streams`)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Protocol

import attrs

from messages.market import BestBidOffer, BookSnapshot


class Recipient(Protocol):
    """Anything a message can be told to (a supervision `Handle`, a test recorder)."""

    def tell(self, message: Any) -> None: ...


def positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    """attrs validator of the streams' durations and intervals."""
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def market_data_key(message: object) -> Hashable | None:
    """The LATEST_WINS key for a market-data subscriber's mailbox.

    ``(type, trading_pair)`` for `BookSnapshot` and `BestBidOffer` (state: a queued one may be
    replaced by a newer one of the same pair), None for everything else, so trades, order events
    and commands are never replaced or dropped by conflation::

        ChildSpec(id="mm", factory=..., overflow=Overflow.LATEST_WINS, key=market_data_key)
    """
    kind = type(message)
    if kind is BookSnapshot or kind is BestBidOffer:
        return kind, message.trading_pair  # type: ignore[attr-defined]
    return None
