"""`EventLogReader`: reads an event log while its writer appends, rotates and deletes."""

from __future__ import annotations

import bisect
import logging
import os
from pathlib import Path

from supervision.eventlog._segment import (
    SEGMENT_HEADER,
    EventLogError,
    NotRetainedError,
    Scan,
    check_header,
    list_segments,
    scan_segment,
)

log = logging.getLogger(__name__)


class EventLogReader:
    """Reads an event log while its writer (another thread or process) appends to it.

    One reader per thread: it caches record offsets and is not locked.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._checkpoints: dict[int, list[tuple[int, int]]] = {}
        """Per segment: (sequence, offset) of some records, increasing."""
        self._tails: dict[int, tuple[int, int]] = {}
        """Per segment: (offset past the last valid record seen, its sequence)."""

    def first_sequence(self) -> int:
        """The oldest retained sequence (0: the log is empty or missing)."""
        segments = list_segments(self.directory)
        return segments[0][0] if segments else 0

    def last_sequence(self) -> int:
        """The newest complete record's sequence (0: the log is empty or missing)."""
        for _attempt in range(64):
            vanished = False
            for first, path in reversed(self._list()):
                offset, last = self._tails.get(first, (SEGMENT_HEADER.size, first - 1))
                try:
                    fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    vanished = True  # retention overtook the listing: list again
                    break
                try:
                    if os.fstat(fd).st_size < offset:  # a new writer cut a torn tail
                        offset, last = SEGMENT_HEADER.size, first - 1
                    scan = scan_segment(fd, offset, last, 2**64, 0)
                finally:
                    os.close(fd)
                self._tails[first] = (scan.end, scan.last)
                if scan.last >= first:
                    return scan.last
            if not vanished:
                return 0
        raise EventLogError(f"event log {self.directory}: segments kept vanishing under the "
                            "reader")

    def _list(self) -> list[tuple[int, Path]]:
        """The segments, dropping what is cached about deleted ones."""
        segments = list_segments(self.directory)
        present = {first for first, _ in segments}
        for first in [f for f in self._tails if f not in present]:
            del self._tails[first]
        for first in [f for f in self._checkpoints if f not in present]:
            del self._checkpoints[first]
        return segments

    def read(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` records with sequence > ``after``, in order (from the oldest retained
        record if older ones were deleted)."""
        return self.read_range(after, limit, strict=False)[0]

    def read_range(self, after: int, limit: int, *, strict: bool = True
                   ) -> tuple[list[tuple[int, bytes]], int]:
        """``(records, through)``: every record with ``after < sequence <= through`` is in
        ``records`` (at most ``limit``, in order; ``through >= after``; with ``limit`` 0,
        ``through == after``).

        With ``strict``, raises `NotRetainedError` when the log no longer holds ``after + 1``
        (retention deleted it, or the log starts later).
        """
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        out: list[tuple[int, bytes]] = []
        through = after
        for _attempt in range(64):
            segments = self._list()
            if not segments:
                return out, through
            firsts = [first for first, _ in segments]
            if through + 1 < firsts[0]:
                if out:  # retention overtook this read: what follows is a gap; stop before it
                    return out, through
                if strict:
                    raise NotRetainedError(through, firsts[0])
            index = max(bisect.bisect_right(firsts, through + 1) - 1, 0)
            restart = False
            while index < len(segments):
                first, path = segments[index]
                try:
                    fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    restart = True  # deleted by retention under us: list again
                    break
                try:
                    scan = self._read_segment(fd, first, through, limit - len(out))
                    if scan.status in ("torn", "corrupt") and index + 1 < len(segments):
                        # The writer finished this segment before creating the next one, so a
                        # second look sees it whole, unless it is really damaged.
                        scan = self._read_segment(fd, first, through, limit - len(out))
                        if scan.status in ("torn", "corrupt"):
                            log.error("event log %s: segment %s is damaged after sequence %d; "
                                      "skipping to the next segment", self.directory,
                                      path.name, scan.last)
                finally:
                    os.close(fd)
                out.extend(scan.records)
                if scan.records:
                    through = scan.records[-1][0]
                if scan.status == "limit" or len(out) >= limit:
                    return out, through
                through = max(through, scan.last)
                if scan.status != "eof" and index + 1 == len(segments):
                    return out, through  # the writer is mid-record: the rest comes later
                index += 1
            if not restart:
                return out, through
        raise EventLogError(f"event log {self.directory}: segments kept vanishing under the "
                            "reader")

    def _read_segment(self, fd: int, first: int, after: int, limit: int) -> Scan:
        points = self._checkpoints.setdefault(first, [])
        start, prev = SEGMENT_HEADER.size, first - 1
        at = bisect.bisect_right(points, (after, 2**64)) - 1
        if at >= 0:
            seq, offset = points[at]
            start, prev = offset, seq - 1
        if start == SEGMENT_HEADER.size:
            header = os.pread(fd, SEGMENT_HEADER.size, 0)
            if not check_header(header, first):
                scan = Scan()
                scan.end, scan.status = 0, "torn" if len(header) < SEGMENT_HEADER.size else (
                    "corrupt")
                return scan
        elif os.fstat(fd).st_size < start:  # a new writer cut a torn tail: start over
            del points[:]
            start, prev = SEGMENT_HEADER.size, first - 1
        scan = scan_segment(fd, start, prev, after, limit)
        for seq, offset in scan.checkpoints:
            if not points or seq > points[-1][0]:
                points.append((seq, offset))
        return scan
