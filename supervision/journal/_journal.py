"""The write-ahead journal: append-only records, snapshots, recovery, one fenced writer."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from clock import Clock, SystemClock, TimerHandle, Timers
from supervision.errors import FencedError, JournalCorruptError, JournalError, JournalLockedError
from supervision.fence import Fence
from supervision.journal import _format as fmt
from supervision.journal._types import Durability, Recovery, SyncMode

log = logging.getLogger(__name__)

LOG_NAME = "journal.log"
LOCK_NAME = "journal.lock"
KEEP_SNAPSHOTS = 2


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class Journal:
    """A single-writer, append-only record log with snapshots (see the package docstring)."""

    def __init__(
        self,
        directory: Path,
        *,
        fence: Fence | None,
        durability: Durability,
        clock: Clock | None,
        timers: Timers | None,
    ) -> None:
        self.directory = directory
        self.durability = durability
        self._fence = fence
        self._clock = clock
        self._timers = timers
        self._lock = threading.Lock()
        self._lock_fd = -1
        self._fd = -1
        self._size = 0
        self._base_seq = 1
        self._next_seq = 1
        self._snapshot_seq = 0
        self._unsynced = 0
        self._first_unsynced_ns = 0
        self._sync_timer: TimerHandle | None = None
        self._closed = False
        self._revoked = False
        self._broken: str | None = None
        self._pending_recovery: Recovery | None = None
        self._unregister_fence: Callable[[], None] | None = None
        self.epoch = 0

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        *,
        fence: Fence | None = None,
        durability: Durability = Durability.PAGE_CACHE,
        clock: Clock | None = None,
        timers: Timers | None = None,
    ) -> Journal:
        """Lock the directory for writing, recover it, and truncate a torn or corrupt tail.

        The recovered state is kept for the first `recover()` call. Raises `FencedError` if
        ``fence`` is already stale, `JournalLockedError` if another writer holds the directory,
        `JournalCorruptError` if records are missing that no snapshot covers.
        """
        if fence is not None:
            fence.check()
        if durability.mode is SyncMode.GROUP and durability.interval_ms is not None:
            clock = clock if clock is not None else SystemClock()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        journal = cls(path, fence=fence, durability=durability, clock=clock, timers=timers)
        journal._acquire_lock()
        try:
            journal._pending_recovery = journal._open_log()
            if fence is not None:
                journal._unregister_fence = fence.on_revoke(journal._revoke)
        except BaseException:
            journal._release()
            raise
        return journal

    def _acquire_lock(self) -> None:
        lock_path = self.directory / LOCK_NAME
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise JournalLockedError(
                f"journal {self.directory} is held by another writer ({holder or 'unknown'})"
            ) from None
        previous = os.pread(fd, 200, 0).decode("ascii", "replace").split()
        epoch = int(previous[1]) if len(previous) >= 2 and previous[1].isdigit() else 0
        self.epoch = epoch + 1
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"epoch {self.epoch} pid {os.getpid()}\n".encode("ascii"), 0)
        os.fsync(fd)
        self._lock_fd = fd

    def _read_state(self) -> tuple[int, list[tuple[int, bytes]], int, str | None, int]:
        """(base_seq, records, valid_end, why the scan stopped, file size)."""
        log_path = self.directory / LOG_NAME
        try:
            data = log_path.read_bytes()
        except FileNotFoundError:
            data = b""
        base_seq = fmt.decode_log_header(data)
        if base_seq is None:
            if len(data) >= fmt.LOG_HEADER.size and not data.startswith(fmt.LOG_MAGIC):
                raise JournalCorruptError(f"{log_path} is not a journal (bad magic)")
            return 1, [], 0, "missing or torn header", len(data)
        records, end, why = fmt.scan_records(data, fmt.LOG_HEADER.size, base_seq)
        return base_seq, records, end, why, len(data)

    def _open_log(self) -> Recovery:
        log_path = self.directory / LOG_NAME
        base_seq, records, end, why, size = self._read_state()
        snapshot_seq, snapshot = self._load_snapshot()
        truncated = 0
        if end == 0:
            # No usable header: start a fresh log after whatever the snapshot covers.
            if size:
                log.warning("journal %s: header unreadable (%s); rewriting it", log_path, why)
            truncated = size
            self._rewrite_log(snapshot_seq + 1, [])
            base_seq = snapshot_seq + 1
        elif end < size:
            truncated = size - end
            log.warning(
                "journal %s: %s; dropping %d bytes of tail after record %d",
                log_path, why, truncated, base_seq + len(records) - 1,
            )
            fd = os.open(log_path, os.O_WRONLY)
            try:
                os.ftruncate(fd, end)
                os.fsync(fd)
            finally:
                os.close(fd)
        last_seq = base_seq + len(records) - 1
        if base_seq > snapshot_seq + 1:
            raise JournalCorruptError(
                f"journal {self.directory}: records before {base_seq} were compacted but the "
                f"newest valid snapshot covers only up to {snapshot_seq}"
            )
        if snapshot_seq > last_seq:
            # The snapshot is newer than the log's tail (the tail was lost): continue after it.
            log.warning("journal %s: snapshot %d is ahead of the log (last %d); restarting the "
                        "log after the snapshot", log_path, snapshot_seq, last_seq)
            self._rewrite_log(snapshot_seq + 1, [])
            base_seq, records, last_seq = snapshot_seq + 1, [], snapshot_seq
        self._base_seq = base_seq
        self._next_seq = last_seq + 1
        self._snapshot_seq = snapshot_seq
        self._fd = os.open(log_path, os.O_WRONLY | os.O_APPEND)
        self._size = os.fstat(self._fd).st_size
        after = [r for r in records if r[0] > snapshot_seq] if snapshot_seq else records
        return Recovery(
            snapshot=snapshot,
            snapshot_seq=snapshot_seq,
            records=tuple(after),
            last_seq=last_seq,
            truncated_bytes=truncated,
        )

    def _snapshot_files(self) -> list[tuple[int, Path]]:
        found = []
        for entry in self.directory.iterdir():
            seq = fmt.snapshot_seq_from_name(entry.name)
            if seq is not None:
                found.append((seq, entry))
        found.sort(reverse=True)
        return found

    def _load_snapshot(self) -> tuple[int, bytes | None]:
        for seq, path in self._snapshot_files():
            decoded = fmt.decode_snapshot(path.read_bytes())
            if decoded is not None and decoded[0] == seq:
                return seq, decoded[1]
            log.error("journal %s: snapshot %s is corrupt; trying an older one", self.directory,
                      path.name)
        return 0, None

    def _rewrite_log(self, base_seq: int, records: Iterable[tuple[int, bytes]]) -> None:
        """Atomically replace the log (temp file, fsync, rename, directory fsync)."""
        log_path = self.directory / LOG_NAME
        temp = self.directory / (LOG_NAME + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            chunks = [fmt.encode_log_header(base_seq)]
            chunks.extend(fmt.encode_record(seq, payload) for seq, payload in records)
            _write_all(fd, b"".join(chunks))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, log_path)
        _fsync_dir(self.directory)

    # -- writing -----------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    @property
    def snapshot_seq(self) -> int:
        return self._snapshot_seq

    def _check_writable(self) -> None:
        """Lock held."""
        if self._revoked:
            raise FencedError(f"journal {self.directory}: this writer was replaced (fenced)")
        if self._closed:
            raise JournalError(f"journal {self.directory} is closed")
        if self._broken is not None:
            raise JournalError(f"journal {self.directory} is unusable: {self._broken}")
        if self._fence is not None:
            self._fence.check()

    def append(self, payload: bytes) -> int:
        """Append one record; returns its sequence number. Nothing is written if fenced."""
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise TypeError(f"journal records are bytes, got {type(payload).__name__}")
        with self._lock:
            self._check_writable()
            seq = self._next_seq
            self._write(fmt.encode_record(seq, bytes(payload)))
            self._next_seq = seq + 1
            self._after_write(1)
            return seq

    def append_many(self, payloads: Iterable[bytes]) -> range:
        """Append records in one write; returns their sequence numbers."""
        items = [bytes(p) for p in payloads]
        with self._lock:
            self._check_writable()
            first = self._next_seq
            if not items:
                return range(first, first)
            encode = fmt.encode_record
            self._write(b"".join(encode(first + i, p) for i, p in enumerate(items)))
            self._next_seq = first + len(items)
            self._after_write(len(items))
            return range(first, self._next_seq)

    def _write(self, data: bytes) -> None:
        """Lock held. A failed write is rolled back so the log never keeps a torn record."""
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, self._size)
            except OSError as again:
                self._broken = f"write failed ({exc}) and could not be rolled back ({again})"
                raise JournalError(self._broken) from exc
            raise JournalError(f"journal {self.directory}: append failed: {exc}") from exc
        self._size += len(data)

    def _after_write(self, count: int) -> None:
        """Lock held: apply the durability policy."""
        durability = self.durability
        if durability.mode is SyncMode.PAGE_CACHE:
            return
        if durability.mode is SyncMode.EVERY_RECORD:
            os.fdatasync(self._fd)
            return
        if self._unsynced == 0 and self._clock is not None:
            self._first_unsynced_ns = self._clock.monotonic_ns()
            if self._timers is not None and durability.interval_ms is not None:
                self._sync_timer = self._timers.call_later(
                    durability.interval_ms / 1000, self._sync_due
                )
        self._unsynced += count
        full = durability.every_records is not None and self._unsynced >= durability.every_records
        late = (
            durability.interval_ms is not None
            and self._clock is not None
            and self._clock.monotonic_ns() - self._first_unsynced_ns
            >= durability.interval_ms * 1e6
        )
        if full or late:
            self._sync_locked()

    def _sync_locked(self) -> None:
        if self._unsynced and self._fd >= 0:
            os.fdatasync(self._fd)
        self._unsynced = 0
        if self._sync_timer is not None:
            self._sync_timer.cancel()
            self._sync_timer = None

    def _sync_due(self) -> None:
        with self._lock:
            self._sync_timer = None
            if not self._closed and not self._revoked:
                self._sync_locked()

    def sync(self) -> None:
        """Force every appended record to stable storage now."""
        with self._lock:
            if self._fd >= 0 and not self._closed:
                os.fdatasync(self._fd)
                self._unsynced = 0

    @property
    def unsynced(self) -> int:
        return self._unsynced

    # -- snapshots and compaction --------------------------------------------------------------

    def write_snapshot(self, state: bytes, seq: int) -> None:
        """Store ``state`` as of record ``seq`` (temp file, fsync, rename, directory fsync);
        keeps the newest two snapshots."""
        with self._lock:
            self._check_writable()
            if not 0 < seq <= self._next_seq - 1:
                raise ValueError(f"snapshot seq {seq} is not a record of this journal "
                                 f"(last {self._next_seq - 1})")
            if seq < self._snapshot_seq:
                raise ValueError(f"snapshot seq {seq} is older than snapshot {self._snapshot_seq}")
            name = fmt.snapshot_name(seq)
            temp = self.directory / f".{name}.tmp"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, fmt.encode_snapshot(seq, bytes(state)))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.directory / name)
            _fsync_dir(self.directory)
            self._snapshot_seq = seq
            for _, old in self._snapshot_files()[KEEP_SNAPSHOTS:]:
                old.unlink()

    def compact(self) -> int:
        """Drop the records covered by the newest snapshot; returns how many were dropped."""
        with self._lock:
            self._check_writable()
            keep_after = self._snapshot_seq
            if keep_after < self._base_seq:
                return 0
            self._sync_locked()
            base_seq, records, end, why, size = self._read_state()
            if end < size:
                raise JournalError(f"journal {self.directory} changed under its writer: {why}")
            kept = [r for r in records if r[0] > keep_after]
            self._rewrite_log(keep_after + 1, kept)
            os.close(self._fd)
            self._fd = os.open(self.directory / LOG_NAME, os.O_WRONLY | os.O_APPEND)
            self._size = os.fstat(self._fd).st_size
            dropped = keep_after + 1 - base_seq
            self._base_seq = keep_after + 1
            return dropped

    # -- reading -----------------------------------------------------------------------------

    def recover(self) -> Recovery:
        """The newest valid snapshot and every record after it.

        The first call returns what `open` recovered; later calls read the directory again.
        """
        with self._lock:
            pending = self._pending_recovery
            self._pending_recovery = None
            if pending is not None:
                return pending
            if self._closed:
                raise JournalError(f"journal {self.directory} is closed")
            base_seq, records, _end, _why, _size = self._read_state()
            snapshot_seq, snapshot = self._load_snapshot()
            last_seq = base_seq + len(records) - 1
            return Recovery(
                snapshot=snapshot,
                snapshot_seq=snapshot_seq,
                records=tuple(r for r in records if r[0] > snapshot_seq),
                last_seq=max(last_seq, snapshot_seq),
            )

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Flush per the durability policy and release the directory. Idempotent."""
        with self._lock:
            if self._closed:
                return
            if not self._revoked and self.durability.mode is not SyncMode.PAGE_CACHE:
                self._sync_locked()
            self._closed = True
            self._release()

    def _release(self) -> None:
        if self._sync_timer is not None:
            self._sync_timer.cancel()
            self._sync_timer = None
        if self._unregister_fence is not None:
            self._unregister_fence()
            self._unregister_fence = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _revoke(self) -> None:
        """Fence callback: the incarnation that opened this journal was replaced."""
        self._revoked = True
        if not self._lock.acquire(timeout=2.0):
            log.error("journal %s: a replaced writer is stuck inside a write; its lock is kept",
                      self.directory)
            return
        try:
            log.warning("journal %s: writer epoch %d fenced off", self.directory, self.epoch)
            self._unregister_fence = None
            self._release()
        finally:
            self._lock.release()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
