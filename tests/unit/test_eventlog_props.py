"""Event log properties (hypothesis): what is appended reads back exactly, in order, through
rotation, retention and reopening; a tail torn or corrupted at any byte recovers to a prefix;
a reader racing a writer (thread or process) never sees a partial record or a wrong order."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervision.eventlog import EventLog, EventLogReader, NotRetainedError, list_segments
from tests.helpers import eventually

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 3), st.binary(max_size=90)),
        st.tuples(st.just("batch"), st.integers(1, 3), st.integers(1, 5)),
        st.tuples(st.just("read"), st.integers(0, 60), st.integers(0, 12)),
        st.tuples(st.just("reopen"), st.just(0), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=150)
@given(ops, st.integers(64, 400), st.sampled_from([10**9, 600, 300]))
def test_appends_then_reads_match_a_model(
    script: list[tuple[str, int, object]], segment_bytes: int, retain_bytes: int
) -> None:
    directory = Path(tempfile.mkdtemp())
    try:
        log = EventLog.open(directory, segment_bytes=segment_bytes, retain_bytes=retain_bytes)
        reader = EventLogReader(directory)
        model: list[tuple[int, bytes]] = []
        for op, a, b in script:
            if op == "append":
                assert isinstance(b, bytes)
                seq = (model[-1][0] if model else 0) + a
                log.append(seq, b)
                model.append((seq, b))
            elif op == "batch":
                assert isinstance(b, int)
                start = model[-1][0] if model else 0
                batch = [(start + a * (i + 1), b"%d" % i * i) for i in range(b)]
                log.append_many(batch)
                model.extend(batch)
            elif op == "reopen":
                log.close()
                log = EventLog.open(directory, segment_bytes=segment_bytes,
                                    retain_bytes=retain_bytes)
                assert log.truncated_bytes == 0
            else:
                assert isinstance(b, int)
                check_read(reader, model, a, b)
            assert log.last_sequence == (model[-1][0] if model else 0)
            first = reader.first_sequence()
            assert first == log.first_sequence
            if retain_bytes == 10**9:
                assert first == (model[0][0] if model else 0)
            segments = list_segments(directory)
            sizes = [path.stat().st_size for _, path in segments]
            assert sum(sizes[:-1]) <= retain_bytes
        for after in range(0, (model[-1][0] if model else 0) + 2):
            check_read(reader, model, after, 1000)
        assert reader.last_sequence() == log.last_sequence
        log.close()
    finally:
        shutil.rmtree(directory)


def check_read(reader: EventLogReader, model: list[tuple[int, bytes]], after: int,
               limit: int) -> None:
    first = reader.first_sequence()
    retained = [r for r in model if r[0] >= first] if first else []
    # Retention keeps a suffix of what was appended.
    assert retained == model[len(model) - len(retained):]
    if retained and after + 1 < first:
        with pytest.raises(NotRetainedError) as caught:
            reader.read_range(after, limit)
        assert caught.value.first_sequence == first
        assert reader.read(after, limit) == retained[:limit]
        return
    records, through = reader.read_range(after, limit)
    expected = [r for r in retained if r[0] > after][:limit]
    assert records == expected
    assert through >= after
    if limit == 0:
        assert through == after
    elif len(expected) == limit:
        assert through == expected[-1][0]
    else:
        assert through == max(after, model[-1][0] if model else 0)


@settings(max_examples=15)
@given(st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=6),
       st.integers(70, 200))
def test_a_tail_torn_or_corrupted_at_any_byte_recovers_to_a_prefix(
    payloads: list[bytes], segment_bytes: int
) -> None:
    source = Path(tempfile.mkdtemp())
    try:
        log = EventLog.open(source, segment_bytes=segment_bytes)
        records = [(2 * i + 1, p) for i, p in enumerate(payloads)]
        log.append_many(records)
        log.close()
        newest_first, newest = list_segments(source)[-1]
        data = newest.read_bytes()
        complete = [r for r in records if r[0] < newest_first]
        for cut in range(len(data)):
            for damage in ("truncate", "flip"):
                work = Path(tempfile.mkdtemp())
                try:
                    shutil.copytree(source, work, dirs_exist_ok=True)
                    target = work / newest.name
                    if damage == "truncate":
                        target.write_bytes(data[:cut])
                    else:
                        flipped = bytearray(data)
                        flipped[cut] ^= 0x5A
                        target.write_bytes(bytes(flipped))
                    reader_before = EventLogReader(work).read(0, 1000)
                    reopened = EventLog.open(work, segment_bytes=segment_bytes)
                    got = EventLogReader(work).read(0, 1000)
                    # A prefix of what was written, at least every record before the damage.
                    assert got == records[:len(got)]
                    assert len(got) >= len(complete)
                    assert reader_before == got  # readers never saw the damaged record either
                    assert reopened.last_sequence == (got[-1][0] if got else 0)
                    reopened.append(1000, b"after")
                    reopened.close()
                    assert EventLogReader(work).read(0, 1000) == [*got, (1000, b"after")]
                finally:
                    shutil.rmtree(work)
    finally:
        shutil.rmtree(source)


def payload_of(seq: int) -> bytes:
    return (b"%d;" % seq) * (seq % 37 + 1)


def write_dense(directory: str, count: int, segment_bytes: int, retain_bytes: int) -> None:
    log = EventLog.open(Path(directory), segment_bytes=segment_bytes, retain_bytes=retain_bytes)
    seq = log.last_sequence
    while seq < count:
        batch = [(s, payload_of(s)) for s in range(seq + 1, min(seq + 1 + seq % 4, count) + 1)]
        log.append_many(batch)
        seq = batch[-1][0]
    log.close()


def follow(reader: EventLogReader, count: int, limits: list[int]) -> tuple[int, int]:
    """Read until ``count`` while a writer appends: every record whole and in order, dense
    unless retention overtook the reader. Returns (records read, reads not retained)."""
    after, seen, skipped, i = 0, 0, 0, 0
    while after < count:
        i += 1
        try:
            records, through = reader.read_range(after, limits[i % len(limits)])
        except NotRetainedError as exc:
            first = exc.first_sequence
            assert first > after + 1
            after = first - 1
            skipped += 1
            continue
        for seq, payload in records:
            assert seq == after + 1, f"{seq} after {after}"
            assert payload == payload_of(seq)
            after = seq
            seen += 1
        assert through == after
        assert reader.last_sequence() >= after
    return seen, skipped


@settings(max_examples=5)
@given(st.integers(1500, 6000), st.sampled_from([10**9, 12_000]),
       st.lists(st.integers(1, 50), min_size=1, max_size=5))
def test_a_reader_racing_a_writer_thread_sees_whole_records_in_order(
    segment_bytes: int, retain_bytes: int, limits: list[int]
) -> None:
    directory = tempfile.mkdtemp()
    try:
        count = 3000
        writer = threading.Thread(target=write_dense,
                                  args=(directory, count, segment_bytes, retain_bytes))
        writer.start()
        seen, skipped = follow(EventLogReader(Path(directory)), count, limits)
        writer.join(10)
        assert not writer.is_alive()
        if retain_bytes == 10**9:
            assert (seen, skipped) == (count, 0)
    finally:
        shutil.rmtree(directory)


def test_a_reader_racing_a_writer_process_sees_whole_records_in_order() -> None:
    directory = tempfile.mkdtemp()
    try:
        count = 20_000
        process = multiprocessing.get_context("spawn").Process(
            target=write_dense, args=(directory, count, 4096, 64 * 1024))
        process.start()
        reader = EventLogReader(Path(directory))
        eventually(lambda: reader.last_sequence() > 0, timeout=20)
        seen, _ = follow(reader, count, [1, 7, 300])
        process.join(20)
        assert process.exitcode == 0
        assert seen > 0
        assert reader.last_sequence() == count
        assert os.path.isdir(directory)
    finally:
        shutil.rmtree(directory)
