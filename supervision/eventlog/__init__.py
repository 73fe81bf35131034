"""A durable, append-only, sequence-keyed event log in a directory (one writer, many readers).

The writer (`EventLog`) appends ``(sequence, payload)`` records with strictly increasing
sequence numbers (gaps allowed, never a rewrite: a sequence <= the last raises ValueError).
Readers (`EventLogReader`, any thread or process) read "records after N" while the writer
appends, rotates and deletes segments.

On disk: segment files ``<first sequence:020d>.events``, each named by the sequence of its
first record::

    header = b"PEVL0001" | first_seq: u64 LE                  (16 bytes)
    record = length: u32 LE | crc32: u32 LE | body            (the journal's framing,
    body   = seq: u64 LE | payload                             supervision/journal/_format.py)

Sequences inside a segment increase strictly; every sequence in a segment is below the next
segment's name. A new segment starts when a record would take the active one past
``segment_bytes``; after a rotation the oldest segments are deleted while the total exceeds
``retain_bytes`` (the active segment is never deleted).

Durability: records are written with one ``os.write`` each (page cache): they survive a crash
or ``kill -9`` of the process, not a power loss. ``sync=True`` adds an ``fdatasync`` per append
(and a directory fsync per new segment); `EventLog.flush` forces what is appended to disk.

Crash recovery (`EventLog.open`): the newest segment is scanned; a torn or corrupt tail is cut
off (a record only partly written when the process died), and a newest segment without one
valid record is deleted. Older segments were complete when the writer moved on and are not
rescanned. Opening never fails on a torn tail.

Concurrency: one writer at a time is the caller's job (the order tracker's journal lock and
fence guarantee it); ``fence`` is called before every write so a replaced incarnation cannot
write. A reader returns only records whose length and CRC check out, so a record the writer is
still writing (or a torn one) is never returned; it lists the directory on every call, keeps a
file open while it reads it (a segment deleted meanwhile is still readable) and starts over
from the oldest segment when the one it wanted is gone.
"""

from supervision.eventlog._reader import EventLogReader
from supervision.eventlog._segment import (
    EventLogError,
    GiB,
    MiB,
    NotRetainedError,
    list_segments,
    segment_name,
)
from supervision.eventlog._writer import EventLog

__all__ = [
    "EventLog",
    "EventLogError",
    "EventLogReader",
    "GiB",
    "MiB",
    "NotRetainedError",
    "list_segments",
    "segment_name",
]
