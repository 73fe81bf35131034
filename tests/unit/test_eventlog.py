"""EventLog / EventLogReader: appends, rotation, retention, the fence, recovery of a torn tail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from supervision.errors import FencedError
from supervision.eventlog import (
    EventLog,
    EventLogError,
    EventLogReader,
    NotRetainedError,
    list_segments,
)


def test_empty_and_missing_logs(tmp_path: Path) -> None:
    reader = EventLogReader(tmp_path / "nowhere")
    assert (reader.first_sequence(), reader.last_sequence()) == (0, 0)
    assert reader.read(0, 10) == []
    assert reader.read_range(5, 10) == ([], 5)
    log = EventLog.open(tmp_path / "events")
    assert (log.first_sequence, log.last_sequence) == (0, 0)
    assert EventLogReader(tmp_path / "events").read_range(0, 10) == ([], 0)
    log.close()


def test_appends_read_back_in_order_with_gaps_allowed(tmp_path: Path) -> None:
    log = EventLog.open(tmp_path)
    log.append(1, b"a")
    log.append(2, b"")
    log.append_many([(5, b"c"), (9, b"d" * 1000)])
    assert (log.first_sequence, log.last_sequence) == (1, 9)
    reader = EventLogReader(tmp_path)
    assert reader.read(0, 100) == [(1, b"a"), (2, b""), (5, b"c"), (9, b"d" * 1000)]
    assert reader.read(2, 1) == [(5, b"c")]
    assert reader.read_range(2, 1) == ([(5, b"c")], 5)
    assert reader.read_range(5, 100) == ([(9, b"d" * 1000)], 9)
    assert reader.read_range(9, 100) == ([], 9)
    assert reader.read_range(3, 0) == ([], 3)
    assert reader.last_sequence() == 9
    log.close()


@pytest.mark.parametrize("bad", [3, 2, 0, -1])
def test_history_is_never_rewritten(tmp_path: Path, bad: int) -> None:
    log = EventLog.open(tmp_path)
    log.append(3, b"x")
    with pytest.raises(ValueError, match="never rewritten"):
        log.append(bad, b"y")
    with pytest.raises(ValueError, match="never rewritten"):
        log.append_many([(4, b"ok"), (4, b"again")])
    assert log.last_sequence == 3
    assert EventLogReader(tmp_path).read(0, 10) == [(3, b"x")]  # all or nothing
    with pytest.raises(TypeError):
        log.append(5, "text")  # type: ignore[arg-type]
    log.close()
    with pytest.raises(EventLogError, match="closed"):
        log.append(6, b"z")


def test_the_fence_is_called_before_every_write(tmp_path: Path) -> None:
    current = [True]
    calls = []

    def fence() -> None:
        calls.append(1)
        if not current[0]:
            raise FencedError("replaced")

    log = EventLog.open(tmp_path, fence=fence)
    log.append(1, b"a")
    log.append_many([(2, b"b"), (3, b"c")])
    assert len(calls) == 3  # open + two writes
    current[0] = False
    with pytest.raises(FencedError):
        log.append(4, b"d")
    assert log.last_sequence == 3
    assert EventLogReader(tmp_path).last_sequence() == 3


def test_rotation_and_retention(tmp_path: Path) -> None:
    log = EventLog.open(tmp_path, segment_bytes=256, retain_bytes=1024)
    payload = b"p" * 40  # 56-byte records: 4 per 256-byte segment
    for seq in range(1, 101):
        log.append(seq, payload)
    segments = list_segments(tmp_path)
    assert [first for first, _ in segments][-1] == 97
    assert all(path.stat().st_size <= 256 for _, path in segments)
    assert sum(path.stat().st_size for _, path in segments) <= 1024
    first = segments[0][0]
    assert log.first_sequence == first > 1
    reader = EventLogReader(tmp_path)
    assert reader.first_sequence() == first
    with pytest.raises(NotRetainedError) as caught:
        reader.read_range(first - 2, 10)
    assert caught.value.first_sequence == first
    assert reader.read_range(first - 1, 1000)[0] == [(s, payload) for s in range(first, 101)]
    assert reader.read(0, 1000)[0] == (first, payload)  # non-strict: from the oldest retained
    log.close()


def test_a_record_larger_than_a_segment_gets_its_own(tmp_path: Path) -> None:
    log = EventLog.open(tmp_path, segment_bytes=64)
    log.append(1, b"a" * 500)
    log.append(2, b"b")
    log.append(3, b"c" * 500)
    assert [f for f, _ in list_segments(tmp_path)] == [1, 2, 3]
    assert EventLogReader(tmp_path).read(0, 10) == [(1, b"a" * 500), (2, b"b"), (3, b"c" * 500)]
    log.close()


def test_reopen_continues_after_the_last_record(tmp_path: Path) -> None:
    log = EventLog.open(tmp_path, segment_bytes=128)
    log.append_many((s, b"%d" % s) for s in range(1, 21))
    log.close()
    log = EventLog.open(tmp_path, segment_bytes=128)
    assert (log.last_sequence, log.truncated_bytes) == (20, 0)
    with pytest.raises(ValueError, match="not after 20"):
        log.append(20, b"dup")
    log.append(21, b"21")
    assert EventLogReader(tmp_path).read(18, 10) == [(19, b"19"), (20, b"20"), (21, b"21")]
    log.close()


def test_a_newest_segment_with_a_torn_header_is_removed(tmp_path: Path) -> None:
    log = EventLog.open(tmp_path, segment_bytes=64)
    log.append(1, b"a" * 30)
    log.close()
    (tmp_path / "00000000000000000002.events").write_bytes(b"PEVL")  # died creating it
    reader = EventLogReader(tmp_path)
    assert reader.last_sequence() == 1
    assert reader.read(0, 10) == [(1, b"a" * 30)]
    log = EventLog.open(tmp_path, segment_bytes=64)
    assert log.last_sequence == 1
    assert log.truncated_bytes == 4
    assert [f for f, _ in list_segments(tmp_path)] == [1]
    log.append(2, b"b")
    assert reader.read(0, 10) == [(1, b"a" * 30), (2, b"b")]
    log.close()


def test_a_damaged_older_segment_is_skipped_not_fatal(tmp_path: Path) -> None:
    log = EventLog.open(tmp_path, segment_bytes=64)
    for seq in range(1, 7):
        log.append(seq, b"x" * 20)
    log.close()
    _, path = list_segments(tmp_path)[0]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # corrupt the last record of the oldest segment
    path.write_bytes(bytes(data))
    records = EventLogReader(tmp_path).read(0, 100)
    seqs = [s for s, _ in records]
    assert seqs == sorted(seqs)
    assert seqs[-1] == 6
    assert len(seqs) == 5


def test_sync_mode_writes_the_same_log(tmp_path: Path) -> None:
    log = EventLog.open(tmp_path, segment_bytes=64, sync=True)
    for seq in range(1, 6):
        log.append(seq, b"s" * 30)
    log.flush()
    log.close()
    assert [s for s, _ in EventLogReader(tmp_path).read(0, 10)] == [1, 2, 3, 4, 5]
    assert all(os.stat(p).st_mode & 0o077 == 0 for _, p in list_segments(tmp_path))


def test_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="segment_bytes"):
        EventLog.open(tmp_path, segment_bytes=8)
    with pytest.raises(ValueError, match="retain_bytes"):
        EventLog.open(tmp_path, retain_bytes=-1)
    with pytest.raises(ValueError, match="limit"):
        EventLogReader(tmp_path).read(0, -1)
