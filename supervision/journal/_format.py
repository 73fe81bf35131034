"""On-disk formats of the journal: the record log and snapshot files.

Record log (``journal.log``)::

    header  = b"PJNL0001" | base_seq: u64 LE          (16 bytes; base_seq = seq of record 1)
    record  = length: u32 LE | crc32: u32 LE | body   (length = len(body))
    body    = seq: u64 LE | payload                   (payload: the caller's msgpack bytes)

The CRC covers the body, so a corrupt length field is caught too (it delimits a body whose CRC
does not match, or runs past the end of the file). Sequence numbers are explicit and must be
contiguous from ``base_seq``; a scan stops at the first short, oversized, mis-checksummed or
out-of-sequence record: everything before it is the valid prefix.

Snapshot (``snapshot-<seq:020d>.snap``)::

    b"PSNP0001" | seq: u64 LE | length: u64 LE | crc32: u32 LE | state
"""

from __future__ import annotations

import struct
import zlib

LOG_MAGIC = b"PJNL0001"
LOG_HEADER = struct.Struct("<8sQ")
RECORD_HEADER = struct.Struct("<II")
SEQ = struct.Struct("<Q")
MAX_BODY = 64 * 1024 * 1024

SNAP_MAGIC = b"PSNP0001"
SNAP_HEADER = struct.Struct("<8sQQI")

_crc32 = zlib.crc32
_pack_header = RECORD_HEADER.pack
_pack_seq = SEQ.pack


def encode_log_header(base_seq: int) -> bytes:
    return LOG_HEADER.pack(LOG_MAGIC, base_seq)


def decode_log_header(data: bytes) -> int | None:
    """The base sequence number, or None if ``data`` does not start with a valid header."""
    if len(data) < LOG_HEADER.size:
        return None
    magic, base_seq = LOG_HEADER.unpack_from(data, 0)
    if magic != LOG_MAGIC or base_seq < 1:
        return None
    return int(base_seq)


def encode_record(seq: int, payload: bytes) -> bytes:
    body = _pack_seq(seq) + payload
    return _pack_header(len(body), _crc32(body)) + body


def scan_records(
    data: bytes, offset: int, first_seq: int
) -> tuple[list[tuple[int, bytes]], int, str | None]:
    """Parse records from ``offset``; returns (records, end of the valid prefix, why it ended).

    ``why`` is None when the data ended exactly at a record boundary.
    """
    records: list[tuple[int, bytes]] = []
    append = records.append
    unpack_header = RECORD_HEADER.unpack_from
    unpack_seq = SEQ.unpack_from
    view = memoryview(data)
    size = len(data)
    expected = first_seq
    reason: str | None = None
    while True:
        if offset == size:
            break
        if offset + RECORD_HEADER.size > size:
            reason = f"torn record header at offset {offset}"
            break
        length, crc = unpack_header(data, offset)
        start = offset + RECORD_HEADER.size
        end = start + length
        if length < SEQ.size or length > MAX_BODY:
            reason = f"bad record length {length} at offset {offset}"
            break
        if end > size:
            reason = f"torn record at offset {offset} ({size - start} of {length} bytes)"
            break
        if _crc32(view[start:end]) != crc:
            reason = f"CRC mismatch at offset {offset}"
            break
        (seq,) = unpack_seq(data, start)
        if seq != expected:
            reason = f"sequence {seq} where {expected} was expected at offset {offset}"
            break
        append((seq, data[start + SEQ.size : end]))
        expected += 1
        offset = end
    return records, offset, reason


def encode_snapshot(seq: int, state: bytes) -> bytes:
    return SNAP_HEADER.pack(SNAP_MAGIC, seq, len(state), _crc32(state)) + state


def decode_snapshot(data: bytes) -> tuple[int, bytes] | None:
    """(seq, state), or None if the file is not a complete, intact snapshot."""
    if len(data) < SNAP_HEADER.size:
        return None
    magic, seq, length, crc = SNAP_HEADER.unpack_from(data, 0)
    state = data[SNAP_HEADER.size :]
    if magic != SNAP_MAGIC or len(state) != length or _crc32(state) != crc:
        return None
    return int(seq), state


def snapshot_name(seq: int) -> str:
    return f"snapshot-{seq:020d}.snap"


def snapshot_seq_from_name(name: str) -> int | None:
    if not (name.startswith("snapshot-") and name.endswith(".snap")):
        return None
    digits = name[len("snapshot-") : -len(".snap")]
    return int(digits) if digits.isdigit() else None
