"""Durability policies and the recovery result of the journal."""

from __future__ import annotations

import enum
from typing import ClassVar

import attrs


class SyncMode(enum.Enum):
    PAGE_CACHE = "page_cache"
    GROUP = "group"
    EVERY_RECORD = "every_record"


@attrs.frozen(kw_only=True)
class Durability:
    """When appended records are forced to stable storage.

    * ``Durability.PAGE_CACHE``: ``os.write`` only. Survives a crash of the process (the
      kernel has the data), not of the OS or the machine. The default, and enough for the
      failure model of actor restarts.
    * ``Durability.group_commit(records=N, interval_ms=T)``: ``fdatasync`` once N records are
      unsynced, or T ms after the first unsynced record (checked on append, and by a timer when
      the journal was opened with ``timers``). Loses at most the last N records / T ms on a
      power loss.
    * ``Durability.EVERY_RECORD``: ``fdatasync`` before ``append`` returns.
    """

    mode: SyncMode
    every_records: int | None = None
    interval_ms: float | None = None

    PAGE_CACHE: ClassVar[Durability]
    EVERY_RECORD: ClassVar[Durability]

    @classmethod
    def group_commit(cls, records: int | None = 64, interval_ms: float | None = 2.0
                     ) -> Durability:
        if records is None and interval_ms is None:
            raise ValueError("group commit needs a record count, an interval, or both")
        if records is not None and records < 1:
            raise ValueError("records must be >= 1")
        if interval_ms is not None and interval_ms <= 0:
            raise ValueError("interval_ms must be > 0")
        return cls(mode=SyncMode.GROUP, every_records=records, interval_ms=interval_ms)

    def describe(self) -> str:
        if self.mode is SyncMode.GROUP:
            return f"group commit ({self.every_records} records / {self.interval_ms} ms)"
        return str(self.mode.value)


Durability.PAGE_CACHE = Durability(mode=SyncMode.PAGE_CACHE)
Durability.EVERY_RECORD = Durability(mode=SyncMode.EVERY_RECORD)


@attrs.frozen(kw_only=True)
class Recovery:
    """What survived: the newest valid snapshot and the records after it, in order."""

    snapshot: bytes | None
    snapshot_seq: int
    """Sequence number the snapshot covers (0 without a snapshot)."""
    records: tuple[tuple[int, bytes], ...]
    """(seq, payload) with seq > snapshot_seq, contiguous."""
    last_seq: int
    """The last valid sequence number (0 for an empty journal)."""
    truncated_bytes: int = 0
    """Bytes of torn or corrupt tail dropped when the journal was opened."""
