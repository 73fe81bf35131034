"""The journal: records, recovery, snapshots, compaction, durability, locking and fencing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from clock import ManualClock
from supervision import FencedError, JournalCorruptError, JournalError, JournalLockedError
from supervision.fence import FenceAuthority
from supervision.journal import Durability, Journal
from supervision.journal import _format as fmt

LOG = "journal.log"


def payloads(count: int, start: int = 0) -> list[bytes]:
    return [f"record-{i}".encode() * (1 + i % 3) for i in range(start, start + count)]


def test_append_and_recover_across_reopen(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        assert journal.recover().records == ()
        assert [journal.append(p) for p in payloads(3)] == [1, 2, 3]
        assert journal.append_many(payloads(2, 3)) == range(4, 6)
        assert journal.append_many([]) == range(6, 6)
    with Journal.open(tmp_path) as journal:
        recovery = journal.recover()
        assert recovery.records == tuple(enumerate(payloads(5), start=1))
        assert (recovery.last_seq, recovery.snapshot, recovery.snapshot_seq) == (5, None, 0)
        assert journal.append(b"next") == 6
        assert journal.recover().records[-1] == (6, b"next")  # a second call re-reads


def test_torn_tail_is_truncated_so_the_next_append_starts_clean(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        journal.append_many(payloads(4))
    log_path = tmp_path / LOG
    full = log_path.read_bytes()
    log_path.write_bytes(full[:-5])  # the last record is torn
    with Journal.open(tmp_path) as journal:
        recovery = journal.recover()
        assert [seq for seq, _ in recovery.records] == [1, 2, 3]
        assert recovery.truncated_bytes == len(fmt.encode_record(4, payloads(4)[3])) - 5
        assert journal.append(b"after") == 4
    with Journal.open(tmp_path) as journal:
        assert journal.recover().records[-1] == (4, b"after")


def test_corrupt_record_ends_the_valid_prefix(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        journal.append_many(payloads(5))
    log_path = tmp_path / LOG
    data = bytearray(log_path.read_bytes())
    third = fmt.LOG_HEADER.size + sum(len(fmt.encode_record(i + 1, p)) for i, p in
                                      enumerate(payloads(2)))
    data[third + 12] ^= 0xFF  # a payload byte of record 3
    log_path.write_bytes(bytes(data))
    with Journal.open(tmp_path) as journal:
        assert [seq for seq, _ in journal.recover().records] == [1, 2]


def test_snapshots_keep_two_and_recovery_uses_the_newest(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        journal.append_many(payloads(10))
        for seq in (3, 6, 9):
            journal.write_snapshot(f"state@{seq}".encode(), seq)
        with pytest.raises(ValueError, match="older"):
            journal.write_snapshot(b"old", 2)
        with pytest.raises(ValueError, match="not a record"):
            journal.write_snapshot(b"future", 11)
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("snapshot-"))
    assert names == [fmt.snapshot_name(6), fmt.snapshot_name(9)]
    with Journal.open(tmp_path) as journal:
        recovery = journal.recover()
        assert (recovery.snapshot, recovery.snapshot_seq) == (b"state@9", 9)
        assert recovery.records == ((10, payloads(10)[9]),)


def test_corrupt_newest_snapshot_falls_back_to_the_previous_one(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        journal.append_many(payloads(10))
        journal.write_snapshot(b"state@4", 4)
        journal.write_snapshot(b"state@8", 8)
    newest = tmp_path / fmt.snapshot_name(8)
    newest.write_bytes(newest.read_bytes()[:-1])
    with Journal.open(tmp_path) as journal:
        recovery = journal.recover()
        assert (recovery.snapshot, recovery.snapshot_seq) == (b"state@4", 4)
        assert [seq for seq, _ in recovery.records] == [5, 6, 7, 8, 9, 10]


def test_compaction_drops_covered_records_and_keeps_sequence_numbers(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        journal.append_many(payloads(10))
        assert journal.compact() == 0  # nothing covered yet
        journal.write_snapshot(b"state@7", 7)
        size_before = (tmp_path / LOG).stat().st_size
        assert journal.compact() == 7
        assert (tmp_path / LOG).stat().st_size < size_before
        assert journal.append(b"eleven") == 11
    with Journal.open(tmp_path) as journal:
        recovery = journal.recover()
        assert [seq for seq, _ in recovery.records] == [8, 9, 10, 11]


def test_compacted_journal_without_a_valid_snapshot_is_reported(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        journal.append_many(payloads(5))
        journal.write_snapshot(b"s", 5)
        journal.compact()
    (tmp_path / fmt.snapshot_name(5)).write_bytes(b"garbage")
    with pytest.raises(JournalCorruptError, match="compacted"):
        Journal.open(tmp_path)


def test_snapshot_ahead_of_a_lost_log_tail_continues_after_the_snapshot(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        journal.append_many(payloads(6))
        journal.write_snapshot(b"state@6", 6)
    log_path = tmp_path / LOG
    log_path.write_bytes(log_path.read_bytes()[: fmt.LOG_HEADER.size])  # the log lost it all
    with Journal.open(tmp_path) as journal:
        assert journal.recover().snapshot_seq == 6
        assert journal.append(b"seven") == 7
    with Journal.open(tmp_path) as journal:
        recovery = journal.recover()
        assert (recovery.snapshot_seq, recovery.records) == (6, ((7, b"seven"),))


def test_a_foreign_file_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / LOG).write_bytes(b"NOTAJOURNALFILE!" + b"x" * 10)
    with pytest.raises(JournalCorruptError, match="magic"):
        Journal.open(tmp_path)


def test_one_writer_per_directory_and_the_epoch_grows(tmp_path: Path) -> None:
    first = Journal.open(tmp_path)
    with pytest.raises(JournalLockedError, match="epoch 1"):
        Journal.open(tmp_path)
    first.close()
    second = Journal.open(tmp_path)
    assert (first.epoch, second.epoch) == (1, 2)
    second.close()
    with pytest.raises(JournalError, match="closed"):
        second.append(b"x")


def test_stale_fence_appends_nothing(tmp_path: Path) -> None:
    authority = FenceAuthority("tracker")
    fence = authority.issue()
    journal = Journal.open(tmp_path, fence=fence)
    journal.append(b"one")
    size = (tmp_path / LOG).stat().st_size
    newer = authority.issue()  # the incarnation was replaced: the journal is revoked
    with pytest.raises(FencedError):
        journal.append(b"zombie")
    with pytest.raises(FencedError):
        journal.write_snapshot(b"zombie", 1)
    assert (tmp_path / LOG).stat().st_size == size
    with pytest.raises(FencedError):
        Journal.open(tmp_path, fence=fence)
    with Journal.open(tmp_path, fence=newer) as successor:  # the lock was released
        assert successor.recover().records == ((1, b"one"),)
        assert successor.append(b"two") == 2
    journal.close()


def test_a_failed_write_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal.open(tmp_path)
    journal.append(b"good")
    size = (tmp_path / LOG).stat().st_size
    real_write = os.write

    def half_then_fail(fd: int, data: Any) -> int:
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_fail)
    with pytest.raises(JournalError, match="No space"):
        journal.append(b"x" * 100)
    monkeypatch.setattr(os, "write", real_write)
    assert (tmp_path / LOG).stat().st_size == size
    assert journal.append(b"next") == 2
    journal.close()
    with Journal.open(tmp_path) as reopened:
        assert reopened.recover().records == ((1, b"good"), (2, b"next"))


def test_records_must_be_bytes(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal, pytest.raises(TypeError, match="bytes"):
        journal.append("text")  # type: ignore[arg-type]


class SyncCounter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, fd: int) -> None:
        self.calls += 1


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> SyncCounter:
    counter = SyncCounter()
    monkeypatch.setattr(os, "fdatasync", counter)
    return counter


def test_page_cache_durability_never_syncs(tmp_path: Path, syncs: SyncCounter) -> None:
    with Journal.open(tmp_path, durability=Durability.PAGE_CACHE) as journal:
        journal.append_many(payloads(50))
        journal.append(b"x")
    assert syncs.calls == 0


def test_every_record_durability_syncs_each_append(tmp_path: Path, syncs: SyncCounter) -> None:
    with Journal.open(tmp_path, durability=Durability.EVERY_RECORD) as journal:
        for p in payloads(5):
            journal.append(p)
        assert syncs.calls == 5
        journal.append_many(payloads(3))
        assert syncs.calls == 6


def test_group_commit_by_count_and_by_timer(tmp_path: Path, syncs: SyncCounter) -> None:
    clock = ManualClock()
    durability = Durability.group_commit(records=3, interval_ms=2.0)
    journal = Journal.open(tmp_path, durability=durability, clock=clock, timers=clock)
    journal.append_many(payloads(2))
    assert (syncs.calls, journal.unsynced) == (0, 2)
    journal.append(b"third")
    assert (syncs.calls, journal.unsynced) == (1, 0)
    journal.append(b"lonely")
    clock.advance(0.0019)
    assert syncs.calls == 1
    clock.advance(0.0001)  # 2 ms after the first unsynced record
    assert (syncs.calls, journal.unsynced) == (2, 0)
    journal.append(b"at close")
    journal.close()
    assert syncs.calls == 3
    with pytest.raises(ValueError, match="group commit"):
        Durability.group_commit(records=None, interval_ms=None)
