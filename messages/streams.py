"""What the market and user stream actors receive besides subscriptions and their connection's
reports (`messages.connection`): the stats query and its answers, and their own timers."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class GetStreamStats:
    """Ask a stream actor for its counters (`MarketStreamStats` / `UserStreamStats`)."""


@attrs.frozen(kw_only=True)
class MarketStreamStats:
    """The market stream's answer to `GetStreamStats`."""

    connections: int
    frames: int
    """FrameReceived messages of current connections handled (each parsed once)."""
    conflated: int
    """Frames superseded in a conflation slot before they were parsed."""
    ignored: int
    """Frames of connections that were no longer current."""
    books: int
    bbos: int
    trades: int
    out_of_order: int
    crossed: int
    stale: int
    parse_errors: int
    fanout_failures: int
    venue_subscriptions: int


@attrs.frozen(kw_only=True)
class UserStreamStats:
    """The user stream's answer to `GetStreamStats`."""

    connections: int
    frames: int
    ignored: int
    order_updates: int
    fill_batches: int
    fills: int
    non_user_cancels: int
    account_events: int
    reconciles: int
    parse_errors: int


@attrs.frozen(kw_only=True)
class StaleCheck:
    """The market stream's timer: look for stale pairs (ignored unless ``connection_id`` is
    current)."""

    connection_id: int


@attrs.frozen(kw_only=True)
class AckDeadline:
    """The user stream's timer: the subscriptions of ``connection_id`` should be acknowledged by
    now."""

    connection_id: int
