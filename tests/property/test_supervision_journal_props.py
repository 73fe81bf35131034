"""Journal properties: a damaged tail recovers exactly the valid prefix; snapshots don't change
what replay yields."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from supervision.journal import Journal
from supervision.journal import _format as fmt

LOG = "journal.log"
RECORDS = st.lists(st.binary(min_size=0, max_size=120), min_size=1, max_size=40)


def write(directory: Path, items: list[bytes]) -> list[int]:
    """Write ``items``; returns the end offset of each record in the log."""
    with Journal.open(directory) as journal:
        journal.append_many(items)
    ends = []
    offset = fmt.LOG_HEADER.size
    for seq, payload in enumerate(items, start=1):
        offset += len(fmt.encode_record(seq, payload))
        ends.append(offset)
    assert (directory / LOG).stat().st_size == offset
    return ends


@settings(max_examples=80)
@given(items=RECORDS, cut=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_truncation_recovers_exactly_the_complete_records(items: list[bytes], cut: float) -> None:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        ends = write(directory, items)
        size = fmt.LOG_HEADER.size + int(cut * (ends[-1] - fmt.LOG_HEADER.size))
        log_path = directory / LOG
        log_path.write_bytes(log_path.read_bytes()[:size])
        survivors = sum(1 for end in ends if end <= size)
        with Journal.open(directory) as journal:
            recovery = journal.recover()
            assert recovery.records == tuple(enumerate(items[:survivors], start=1))
            assert recovery.truncated_bytes == size - (ends[survivors - 1] if survivors else
                                                       fmt.LOG_HEADER.size)
            assert journal.append(b"fresh") == survivors + 1
        with Journal.open(directory) as journal:
            expected = [*items[:survivors], b"fresh"]
            assert journal.recover().records == tuple(enumerate(expected, start=1))


@settings(max_examples=80)
@given(items=RECORDS, where=st.floats(min_value=0, max_value=1, exclude_max=True),
       flip=st.integers(min_value=1, max_value=255))
def test_corruption_recovers_exactly_the_records_before_the_damaged_one(
    items: list[bytes], where: float, flip: int
) -> None:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        ends = write(directory, items)
        position = fmt.LOG_HEADER.size + int(where * (ends[-1] - fmt.LOG_HEADER.size))
        log_path = directory / LOG
        data = bytearray(log_path.read_bytes())
        data[position] ^= flip
        log_path.write_bytes(bytes(data))
        damaged = next(i for i, end in enumerate(ends) if position < end)
        with Journal.open(directory) as journal:
            assert journal.recover().records == tuple(enumerate(items[:damaged], start=1))
            assert journal.append(b"fresh") == damaged + 1


def fold(state: tuple[int, int], payload: bytes) -> tuple[int, int]:
    """A non-commutative fold, so order and duplicates both show."""
    count, digest = state
    return count + 1, (digest * 31 + int.from_bytes(payload or b"\0", "big")) % (2**61 - 1)


def replay(snapshot: bytes | None, records: tuple[tuple[int, bytes], ...]) -> tuple[int, int]:
    state = (0, 7)
    if snapshot is not None:
        count, digest = snapshot.split(b":")
        state = (int(count), int(digest))
    for _, payload in records:
        state = fold(state, payload)
    return state


@settings(max_examples=60)
@given(items=RECORDS, at=st.lists(st.floats(min_value=0, max_value=1), max_size=3),
       compact=st.booleans())
def test_replay_after_a_snapshot_equals_replay_without_it(
    items: list[bytes], at: list[float], compact: bool
) -> None:
    with tempfile.TemporaryDirectory() as with_name, tempfile.TemporaryDirectory() as plain_name:
        write(Path(plain_name), items)
        with Journal.open(Path(with_name)) as journal:
            state = (0, 7)
            points = sorted({1 + int(f * (len(items) - 1)) for f in at})
            for seq, payload in enumerate(items, start=1):
                journal.append(payload)
                state = fold(state, payload)
                if seq in points:
                    journal.write_snapshot(f"{state[0]}:{state[1]}".encode(), seq)
            if compact:
                journal.compact()
        with Journal.open(Path(with_name)) as journal:
            recovered = journal.recover()
        with Journal.open(Path(plain_name)) as journal:
            plain = journal.recover()
        assert plain.snapshot is None
        assert recovered.snapshot_seq == (points[-1] if points else 0)
        assert replay(recovered.snapshot, recovered.records) == replay(None, plain.records)
        assert recovered.last_seq == plain.last_seq == len(items)
