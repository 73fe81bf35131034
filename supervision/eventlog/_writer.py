"""`EventLog`: the single writer of an event log directory."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from supervision.eventlog._segment import (
    SEGMENT_HEADER,
    EventLogError,
    GiB,
    MiB,
    check_header,
    fsync_dir,
    list_segments,
    scan_segment,
    segment_header,
    segment_name,
    write_all,
)
from supervision.journal._format import MAX_BODY, RECORD_HEADER, SEQ, encode_record

log = logging.getLogger(__name__)


class EventLog:
    """The single writer of an event log directory (see the module docstring)."""

    def __init__(self, directory: Path, *, fence: Callable[[], None] | None,
                 segment_bytes: int, retain_bytes: int, sync: bool) -> None:
        self.directory = directory
        self._fence = fence
        self.segment_bytes = segment_bytes
        self.retain_bytes = retain_bytes
        self.sync = sync
        self._segments: list[list[int]] = []
        """[first sequence, size] per segment, oldest first; the last one is active."""
        self._fd = -1
        self._last = 0
        self._closed = False
        self.truncated_bytes = 0
        """Bytes of torn or corrupt tail dropped by `open`."""

    @classmethod
    def open(cls, directory: Path, *, fence: Callable[[], None] | None = None,
             segment_bytes: int = 16 * MiB, retain_bytes: int = 1 * GiB,
             sync: bool = False) -> EventLog:
        """Open (or create) the log in ``directory``, dropping a torn tail."""
        if segment_bytes < SEGMENT_HEADER.size + RECORD_HEADER.size + SEQ.size:
            raise ValueError(f"segment_bytes {segment_bytes} is too small")
        if retain_bytes < 0:
            raise ValueError(f"retain_bytes must be >= 0, got {retain_bytes}")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if fence is not None:
            fence()
        eventlog = cls(directory, fence=fence, segment_bytes=segment_bytes,
                       retain_bytes=retain_bytes, sync=sync)
        eventlog._recover()
        return eventlog

    def _recover(self) -> None:
        segments = list_segments(self.directory)
        while segments:
            first, path = segments[-1]
            data = path.read_bytes()
            end, last = 0, 0
            if check_header(data, first):
                fd = os.open(path, os.O_RDONLY)
                try:
                    scan = scan_segment(fd, SEGMENT_HEADER.size, first - 1, 2**64, 0)
                finally:
                    os.close(fd)
                end, last = scan.end, scan.last
                if scan.status != "eof":
                    log.warning("event log %s: %s record at offset %d of %s; dropping %d bytes",
                                self.directory, scan.status, end, path.name, len(data) - end)
            if last < first:  # no valid record: the writer died creating this segment
                log.warning("event log %s: newest segment %s holds no valid record; removed",
                            self.directory, path.name)
                self.truncated_bytes += len(data)
                path.unlink()
                segments.pop()
                continue
            if end < len(data):
                self.truncated_bytes += len(data) - end
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.ftruncate(fd, end)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            self._last = last
            break
        for first, path in segments:
            self._segments.append([first, path.stat().st_size])
        if self._segments:
            self._fd = os.open(self._path(self._segments[-1][0]), os.O_WRONLY | os.O_APPEND)
        self._enforce_retention()

    # -- properties --------------------------------------------------------------------------

    @property
    def last_sequence(self) -> int:
        """The last appended sequence (0: the log is empty)."""
        return self._last

    @property
    def first_sequence(self) -> int:
        """The first retained sequence (0: the log is empty)."""
        return self._segments[0][0] if self._segments else 0

    def _path(self, first: int) -> Path:
        return self.directory / segment_name(first)

    # -- writing -----------------------------------------------------------------------------

    def append(self, sequence: int, payload: bytes) -> None:
        """Append one record. Raises ValueError unless ``sequence`` > `last_sequence`."""
        self.append_many(((sequence, payload),))

    def append_many(self, records: Iterable[tuple[int, bytes]]) -> None:
        """Append records in order (one write per segment they land in); all or nothing is
        checked before anything is written."""
        encoded: list[tuple[int, bytes]] = []
        last = self._last
        for sequence, payload in records:
            if type(sequence) is not int or sequence <= last:
                raise ValueError(f"event log {self.directory}: sequence {sequence!r} is not "
                                 f"after {last} (the log is never rewritten)")
            if not isinstance(payload, bytes | bytearray | memoryview):
                raise TypeError(f"payloads are bytes, got {type(payload).__name__}")
            if len(payload) + SEQ.size > MAX_BODY:
                raise ValueError(f"a record of {len(payload)} bytes exceeds {MAX_BODY}")
            encoded.append((sequence, encode_record(sequence, bytes(payload))))
            last = sequence
        if not encoded:
            return
        if self._closed:
            raise EventLogError(f"event log {self.directory} is closed")
        if self._fence is not None:
            self._fence()
        pending: list[bytes] = []
        size = self._segments[-1][1] if self._segments else 0
        rotated = False
        for sequence, record in encoded:
            if not self._segments or (size + len(record) > self.segment_bytes
                                      and size > SEGMENT_HEADER.size):
                if pending:
                    self._write(b"".join(pending))
                    pending = []
                self._start_segment(sequence)
                rotated = True
                pending.append(segment_header(sequence))
                size = SEGMENT_HEADER.size
            pending.append(record)
            size += len(record)
        self._write(b"".join(pending))
        self._last = last
        if rotated:
            # Only once the new segment holds a record: a crash before that leaves an empty
            # newest segment, which `open` removes, and the previous one must still be there.
            self._enforce_retention()

    def _start_segment(self, first: int) -> None:
        """Make a segment whose first record will be ``first`` the active one (its header is
        written with that record)."""
        fd = os.open(self._path(first), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND,
                     0o600)
        previous, self._fd = self._fd, fd
        self._segments.append([first, 0])
        if previous >= 0:
            if self.sync:
                os.fdatasync(previous)
            os.close(previous)
        if self.sync:
            fsync_dir(self.directory)

    def _write(self, data: bytes) -> None:
        """A failed write is rolled back (a segment never keeps a torn record) and leaves the
        log closed: the caller crashes and its next incarnation reopens (and recovers) it."""
        segment = self._segments[-1]
        try:
            write_all(self._fd, data)
        except OSError as exc:
            self._closed = True
            try:
                os.ftruncate(self._fd, segment[1])
            except OSError as again:
                raise EventLogError(f"event log {self.directory}: write failed ({exc}) and "
                                    f"could not be rolled back ({again})") from exc
            raise EventLogError(f"event log {self.directory}: append failed: {exc}") from exc
        segment[1] += len(data)
        if self.sync:
            os.fdatasync(self._fd)

    def _enforce_retention(self) -> None:
        total = sum(size for _, size in self._segments)
        while len(self._segments) > 1 and total > self.retain_bytes:
            first, size = self._segments.pop(0)
            self._path(first).unlink(missing_ok=True)
            total -= size

    def flush(self) -> None:
        """Force every appended record to stable storage (they already survive a process
        crash without it)."""
        if self._fd >= 0:
            os.fdatasync(self._fd)

    def close(self) -> None:
        """Release the file (idempotent). Nothing is buffered: appended records are written."""
        self._closed = True
        fd, self._fd = self._fd, -1
        if fd >= 0:
            if self.sync:
                os.fdatasync(fd)
            os.close(fd)

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
