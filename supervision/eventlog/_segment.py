"""Segment files of the event log: names, header, record scan (see the package docstring)."""

from __future__ import annotations

import logging
import os
import struct
import zlib
from pathlib import Path

from supervision.journal._format import MAX_BODY, RECORD_HEADER, SEQ

log = logging.getLogger(__name__)


MiB = 1024 * 1024
GiB = 1024 * MiB
SEGMENT_MAGIC = b"PEVL0001"
SEGMENT_HEADER = struct.Struct("<8sQ")
SUFFIX = ".events"
_CHUNK = 1 * MiB
_CHECKPOINT_EVERY = 64 * 1024
"""A reader remembers the offset of a record about every this many bytes of a segment, so a
read from the middle of a 16 MiB segment does not rescan it from the start."""


class EventLogError(Exception):
    """The log cannot be written (closed, or a write failed and could not be rolled back)."""


class NotRetainedError(EventLogError):
    """Records after the requested sequence were deleted by retention (or never logged)."""

    def __init__(self, after: int, first_sequence: int) -> None:
        super().__init__(f"records after {after} are not retained; the log starts at "
                         f"{first_sequence}")
        self.after = after
        self.first_sequence = first_sequence


def segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SUFFIX}"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """(first sequence, path) of every segment, oldest first; [] if the directory is missing."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        if name.endswith(SUFFIX) and len(name) == 20 + len(SUFFIX) and name[:20].isdigit():
            found.append((int(name[:20]), directory / name))
    found.sort()
    return found


def segment_header(first_seq: int) -> bytes:
    return SEGMENT_HEADER.pack(SEGMENT_MAGIC, first_seq)


def check_header(data: bytes, first_seq: int) -> bool:
    if len(data) < SEGMENT_HEADER.size:
        return False
    magic, seq = SEGMENT_HEADER.unpack_from(data, 0)
    return bool(magic == SEGMENT_MAGIC and seq == first_seq)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Scan:
    """Records parsed from one segment, from ``start`` on (see `_scan`)."""

    __slots__ = ("checkpoints", "end", "last", "records", "status")

    def __init__(self) -> None:
        self.records: list[tuple[int, bytes]] = []
        self.end = 0
        """Offset just past the last valid record parsed."""
        self.last = 0
        """Sequence of the last valid record parsed (0: none)."""
        self.status = "eof"
        """``eof`` (ended at a record boundary), ``torn`` (an incomplete record at the end),
        ``corrupt`` (a complete record that fails its checks) or ``limit``."""
        self.checkpoints: list[tuple[int, int]] = []


def scan_segment(fd: int, start: int, prev: int, after: int, limit: int) -> Scan:
    """Parse records from ``start`` (a record boundary; ``prev`` = the sequence before it);
    collect up to ``limit`` with sequence > ``after``."""
    out = Scan()
    out.end, out.last = start, prev
    buf = b""
    base = start  # file offset of buf[0]
    pos = 0
    header_size = RECORD_HEADER.size
    unpack_header = RECORD_HEADER.unpack_from
    unpack_seq = SEQ.unpack_from
    next_checkpoint = start + _CHECKPOINT_EVERY
    while True:
        if len(buf) - pos < header_size:
            more = os.pread(fd, _CHUNK, base + len(buf))
            if not more:
                out.status = "eof" if pos == len(buf) else "torn"
                return out
            buf, base, pos = buf[pos:] + more, base + pos, 0
            continue
        length, crc = unpack_header(buf, pos)
        if length < SEQ.size or length > MAX_BODY:
            out.status = "corrupt"
            return out
        end = pos + header_size + length
        if end > len(buf):
            more = os.pread(fd, max(_CHUNK, end - len(buf)), base + len(buf))
            if not more:
                out.status = "torn"
                return out
            buf, base, pos = buf[pos:] + more, base + pos, 0
            continue
        body_start = pos + header_size
        if zlib.crc32(memoryview(buf)[body_start:end]) != crc:
            out.status = "corrupt"
            return out
        (seq,) = unpack_seq(buf, body_start)
        if seq <= out.last:
            out.status = "corrupt"
            return out
        record_offset = base + pos
        if record_offset >= next_checkpoint:
            out.checkpoints.append((seq, record_offset))
            next_checkpoint = record_offset + _CHECKPOINT_EVERY
        if seq > after:
            if len(out.records) >= limit:
                out.status = "limit"
                return out
            out.records.append((seq, buf[body_start + SEQ.size:end]))
        out.last = seq
        pos = end
        out.end = base + pos
