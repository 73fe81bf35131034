"""Feed health events from the stream actors."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class FeedConnected:
    """A stream is connected and its subscriptions are (re)sent."""

    feed: str
    url: str
    connection: int
    """How many times this feed has connected since the actor started (1 = first)."""
    ts_init: int


@attrs.frozen(kw_only=True)
class FeedLost:
    """A stream lost its connection; it will reconnect with back-off."""

    feed: str
    reason: str
    ts_init: int


@attrs.frozen(kw_only=True)
class FeedStale:
    """No data for a trading pair within the staleness threshold while connected."""

    feed: str
    trading_pair: str
    age_ns: int
    ts_init: int


@attrs.frozen(kw_only=True)
class BookCrossed:
    """A book arrived with best bid >= best ask; it was not forwarded as tradable."""

    trading_pair: str
    ts_event: int
    ts_init: int


@attrs.frozen(kw_only=True)
class FeedReconciled:
    """After a (re)connect of the user stream, the order tracker reconciled with the venue."""

    feed: str
    orders_checked: int
    ts_init: int


@attrs.frozen(kw_only=True)
class FeedError:
    """A stream could not use something the venue sent or did (a malformed frame, a venue
    ``error`` frame, a failed connection attempt). Nothing is applied from it; the stream goes on.
    """

    feed: str
    reason: str
    ts_init: int
