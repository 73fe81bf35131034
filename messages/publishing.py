"""What the event publisher is asked and answers (and its own heartbeat timer)."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class GetEndpoint:
    """Ask the publisher where its socket is bound."""


@attrs.frozen(kw_only=True)
class GetPublisherStats:
    """Ask the publisher for its counters."""


@attrs.frozen(kw_only=True)
class HeartbeatDue:
    """The publisher's own timer: send a heartbeat now."""


@attrs.frozen(kw_only=True)
class PublisherStats:
    endpoint: str
    epoch: int
    published: int
    skipped: int
    replay_endpoint: str | None = None
    last_sequence: int = 0
    """The highest ``event_sequence`` this incarnation published."""
    heartbeats: int = 0
    replay_requests: int = 0
    replayed: int = 0
    """Events sent in replay replies by this incarnation."""
