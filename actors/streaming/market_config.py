"""The market stream's configuration (its timer message and its statistics are
`messages.streams`)."""

from __future__ import annotations

import attrs

from actors.streaming.common import positive
from actors.streaming.link import LinkConfig


@attrs.frozen(kw_only=True)
class MarketStreamConfig:
    link: LinkConfig
    feed: str = "market"
    stale_after_s: float = attrs.field(default=10.0, validator=positive)
    """l2Book is pushed at least every few blocks; 10 s of silence means a dead subscription."""
    stale_check_interval_s: float = attrs.field(default=1.0, validator=positive)
    conflate: bool = True
    """Conflate book/bbo frames per coin on the reader thread (off only for benchmarks).
    Only when frames go through the actor's mailbox (``inline=False``)."""
    inline: bool = True
    """The reader thread parses each frame and fans it out itself, under the actor's lock: one
    thread hand-off less between a book frame and a strategy. False: the reader hands frames
    to the actor's mailbox (conflated per coin), and the actor parses them."""

