"""What both stream cores do with a frame before looking at its content."""

from __future__ import annotations

import logging

from actors.streaming.link import LinkOwner, StreamLink, StreamPorts
from messages.connection import FrameReceived
from messages.feed import FeedError
from venues.hyperliquid.payloads import PayloadError, WsFrameParser

log = logging.getLogger(__name__)

SKIPPED = object()
"""`FrameCore.parse_current`'s answer for a frame not to handle (``None`` is a parse result)."""


class FrameCore(LinkOwner):
    """A link owner that parses the frames of its current connection and counts them.

    Subclasses set ``feed``, ``ports``, ``link``, ``parser`` and the counters in ``__init__``.
    """

    feed: str
    ports: StreamPorts
    link: StreamLink
    parser: WsFrameParser
    frames: int
    ignored: int
    parse_errors: int

    def parse_current(self, message: FrameReceived) -> object:
        """The parsed frame, or `SKIPPED`: a frame of a connection no longer current (counted
        as ignored) or one that cannot be parsed (counted, reported as `FeedError`)."""
        frame = self.link.current_frame(message)
        if frame is None:
            self.ignored += 1
            return SKIPPED
        self.frames += 1
        data, ts_init = frame
        try:
            return self.parser.parse(data, ts_init)
        except PayloadError as exc:
            self.parse_errors += 1
            self._error(f"unusable frame: {exc}")
            return SKIPPED

    def _error(self, reason: str) -> None:
        log.warning("%s: %s", self.feed, reason)
        self.ports.events(FeedError(feed=self.feed, reason=reason,
                                    ts_init=self.ports.clock.time_ns()))
