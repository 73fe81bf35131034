"""What a network connection tells the actor that owns it: its network threads' reports (state
changes, frames, answers to requests) and its link's timers (reconnect, ping, pong deadline).

The owners are the stream actors and execution (its WS ``post`` channel and HTTP transport);
the link is `actors.streaming.link.StreamLink`, the connections `venues.hyperliquid`'s.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class ConnectionStateChanged:
    """A network thread's connection opened or closed (network thread → its actor)."""

    connection: str
    connected: bool
    reason: str
    ts_init: int


@attrs.frozen(kw_only=True)
class FrameReceived:
    """One raw WebSocket frame (reader thread → stream actor); parsed in the actor."""

    connection: str
    connection_id: int
    data: bytes
    ts_init: int


@attrs.frozen(kw_only=True)
class FrameHandlingFailed:
    """A stream's reader thread failed to handle a frame it handles itself (a bug): the stream
    actor raises it, so the incarnation crashes and is restarted like any failed handler."""

    connection: str
    error: str
    ts_init: int


@attrs.frozen(kw_only=True)
class ResponseReceived:
    """A network thread's answer to a request execution sent (network thread → execution).

    ``status`` is the HTTP status (0 when the request failed before an answer: ``error`` says
    why); for WS ``post`` answers it is 200 and ``body`` is the post response payload.
    """

    request_id: int
    transport: str
    status: int
    body: bytes
    error: str
    written: bool
    """Whether the request's bytes were written before the failure (if written, it may have
    executed; if not, the venue certainly never saw it)."""
    ts_init: int


# -- the link's timers (the owning actor tells them to itself and hands them back to its link) --


@attrs.frozen(kw_only=True)
class Reconnect:
    """Timer tick: try to (re)open a connection (back-off comes from a supervision policy).
    ``connection`` names the attempt that ended, so a stale one is ignored."""

    connection: str
    attempt: int
    ts_init: int


@attrs.frozen(kw_only=True)
class PingDue:
    """Timer tick: ping connection ``connection_id`` (ignored unless it is current)."""

    connection_id: int


@attrs.frozen(kw_only=True)
class PongDeadline:
    """Timer tick: the pong to ping number ``ping`` on ``connection_id`` is due by now."""

    connection_id: int
    ping: int
