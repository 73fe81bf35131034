"""Benchmark: supervision overheads, restart latency and the journal, with references side by side.

Run: scripts/bench supervision   (or .venv/bin/python scripts/bench_supervision.py [--quick])

Prints, in one run:
  1. tell throughput through a stable Handle vs a raw pykka ActorRef (target: within 10%),
  2. restart latency from death to serving, empty backlog (target p50 <= 2 ms) and 10k backlog,
  3. journal append rate per durability policy, next to a bare os.write loop,
  4. journal replay rate (target >= 200k records/s), next to a bare read + CRC scan.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zlib
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pykka

from clock import SystemClock, ThreadTimers
from supervision import (
    ChildContext,
    ChildSpec,
    SupervisedActor,
    SupervisionTree,
    SupervisorSpec,
)
from supervision.journal import Durability, Journal

PAYLOAD = b"\x93\x01\xa9OrderTracked" + b"x" * 176  # ~190 bytes, like an order event


# -- 1. throughput ---------------------------------------------------------------------------


class Done:
    pass


class RawCounter(pykka.ThreadingActor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        if type(message) is Done:
            return self.count
        self.count += 1
        return None


class HandleCounter(SupervisedActor):
    def __init__(self, ctx: ChildContext) -> None:
        super().__init__(ctx)
        self.count = 0

    def handle(self, message: Any) -> Any:
        if type(message) is Done:
            return self.count
        self.count += 1
        return None


def timed_tells(tell: Any, ask: Any, n: int) -> float:
    message = object()
    start = time.perf_counter()
    for _ in range(n):
        tell(message)
    ask(Done())
    return n / (time.perf_counter() - start)


def bench_throughput(n: int, rounds: int) -> None:
    timers = ThreadTimers()
    tree = SupervisionTree(
        SupervisorSpec(id="bench", children=[ChildSpec(id="c", factory=HandleCounter,
                                                       mailbox_limit=None)]),
        clock=SystemClock(), timers=timers,
    ).start()
    handle = tree.handle("c")
    raw = RawCounter.start()
    raw_rates, handle_rates = [], []
    try:
        for _ in range(rounds):  # interleaved, so drift affects both sides alike
            raw_rates.append(timed_tells(raw.tell, lambda m: raw.ask(m, timeout=60), n))
            handle_rates.append(timed_tells(handle.tell, lambda m: handle.ask(m, timeout=60), n))
    finally:
        raw.stop()
        tree.stop()
        timers.stop()
    raw_med, handle_med = statistics.median(raw_rates), statistics.median(handle_rates)
    ratio = handle_med / raw_med
    print(f"\n1. tell throughput ({n:,} tells x {rounds} interleaved rounds, median)")
    print(f"   raw pykka ActorRef      {raw_med:>12,.0f} msg/s   "
          f"[{min(raw_rates):,.0f} .. {max(raw_rates):,.0f}]")
    print(f"   supervision Handle      {handle_med:>12,.0f} msg/s   "
          f"[{min(handle_rates):,.0f} .. {max(handle_rates):,.0f}]")
    verdict = "OK" if ratio >= 0.9 else "MISSED"
    print(f"   handle / raw            {ratio:>12.2f}          target >= 0.90: {verdict}")


# -- 2. restart latency -------------------------------------------------------------------------


class Crash:
    pass


class Filler:
    pass


class Mark:
    pass


class Gate:
    """Holds the actor until released, so a backlog can be queued behind a Crash."""

    def __init__(self) -> None:
        self.release = threading.Event()


class Restartable(SupervisedActor):
    """Records when it dies and when its successor handles its first message."""

    crashed_at: int = 0
    first_at: int = 0
    drained: threading.Event = threading.Event()

    def __init__(self, ctx: ChildContext) -> None:
        super().__init__(ctx)
        self.first = True

    def handle(self, message: Any) -> Any:
        if self.first:
            self.first = False
            Restartable.first_at = time.perf_counter_ns()
        kind = type(message)
        if kind is Gate:
            message.release.wait(60)
            return None
        if kind is Crash:
            Restartable.crashed_at = time.perf_counter_ns()
            raise RuntimeError("benchmark crash")
        if kind is Mark:
            Restartable.drained.set()
        return None


def bench_restart(samples: int, backlog: int, backlog_samples: int) -> None:
    logging.getLogger("supervision").setLevel(logging.CRITICAL)
    timers = ThreadTimers()
    tree = SupervisionTree(
        SupervisorSpec(id="bench", intensity=10**9, period=1, children=[
            ChildSpec(id="r", factory=Restartable, mailbox_limit=None)]),
        clock=SystemClock(), timers=timers,
    ).start()
    handle = tree.handle("r")

    def one(backlog_size: int) -> tuple[float, float]:
        Restartable.drained = threading.Event()
        handle.ask(Filler(), timeout=30)  # an incarnation that has already served
        gate = Gate()
        handle.tell(gate)  # queue the whole backlog behind the crash before it happens
        handle.tell(Crash())
        for _ in range(backlog_size):
            handle.tell(Filler())
        handle.tell(Mark())
        gate.release.set()
        assert Restartable.drained.wait(60)
        serving_ms = (Restartable.first_at - Restartable.crashed_at) / 1e6
        drained_ms = (time.perf_counter_ns() - Restartable.crashed_at) / 1e6
        return serving_ms, drained_ms

    try:
        empty = [one(0)[0] for _ in range(samples)]
        loaded = [one(backlog) for _ in range(backlog_samples)]
    finally:
        tree.stop()
        timers.stop()

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    print("\n2. restart latency, death -> new incarnation handles its first message")
    p50 = statistics.median(empty)
    print(f"   empty backlog  (n={samples:>4})  p50 {p50:6.3f} ms  p90 {pct(empty, .9):6.3f} ms  "
          f"max {max(empty):6.3f} ms   target p50 <= 2 ms: {'OK' if p50 <= 2 else 'MISSED'}")
    serving = [s for s, _ in loaded]
    drained = [d for _, d in loaded]
    print(f"   {backlog:,} backlog (n={backlog_samples:>4})  "
          f"p50 {statistics.median(serving):6.3f} ms  p90 {pct(serving, .9):6.3f} ms  "
          f"max {max(serving):6.3f} ms   (hand-over is O(1))")
    print(f"   ... and until the {backlog:,} handed-over messages are handled: "
          f"p50 {statistics.median(drained):.1f} ms")


# -- 3. journal appends -----------------------------------------------------------------------


def bench_raw_write(directory: Path, n: int) -> float:
    fd = os.open(directory / "raw.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    frame = b"\0" * 16 + PAYLOAD
    start = time.perf_counter()
    for _ in range(n):
        os.write(fd, frame)
    rate = n / (time.perf_counter() - start)
    os.close(fd)
    return rate


def bench_journal(base: Path, counts: dict[str, int]) -> None:
    print("\n3. journal append rate (~190-byte records, one append() per record)")
    raw_dir = Path(tempfile.mkdtemp(dir=base))
    print(f"   reference: bare os.write          {bench_raw_write(raw_dir, counts['page']):>10,.0f}"
          " records/s")
    policies = [
        ("page cache (default)", Durability.PAGE_CACHE, counts["page"]),
        ("group commit 64 rec / 2 ms", Durability.group_commit(records=64, interval_ms=2.0),
         counts["group"]),
        ("every record (fdatasync)", Durability.EVERY_RECORD, counts["every"]),
    ]
    for name, durability, n in policies:
        directory = Path(tempfile.mkdtemp(dir=base))
        journal = Journal.open(directory, durability=durability)
        start = time.perf_counter()
        for _ in range(n):
            journal.append(PAYLOAD)
        journal.close()
        rate = n / (time.perf_counter() - start)
        print(f"   {name:<30} {rate:>12,.0f} records/s   (n={n:,})")
    directory = Path(tempfile.mkdtemp(dir=base))
    with Journal.open(directory) as journal:
        batch = [PAYLOAD] * 64
        n = counts["page"]
        start = time.perf_counter()
        for _ in range(n // 64):
            journal.append_many(batch)
        rate = (n // 64) * 64 / (time.perf_counter() - start)
    print(f"   {'page cache, append_many(64)':<30} {rate:>12,.0f} records/s")


# -- 4. replay --------------------------------------------------------------------------------


def bench_replay(base: Path, n: int) -> None:
    directory = Path(tempfile.mkdtemp(dir=base))
    with Journal.open(directory) as journal:
        for start in range(0, n, 1000):
            journal.append_many([PAYLOAD] * min(1000, n - start))
    log_path = directory / "journal.log"
    rates, raw_rates = [], []
    for _ in range(5):
        begin = time.perf_counter()
        data = log_path.read_bytes()
        view = memoryview(data)
        offset, count = 16, 0
        while offset < len(data):
            length = int.from_bytes(data[offset:offset + 4], "little")
            zlib.crc32(view[offset + 8:offset + 8 + length])
            offset += 8 + length
            count += 1
        raw_rates.append(count / (time.perf_counter() - begin))
        begin = time.perf_counter()
        with Journal.open(directory) as journal:
            recovered = journal.recover()
        rates.append(len(recovered.records) / (time.perf_counter() - begin))
        assert len(recovered.records) == n
    median = statistics.median(rates)
    print(f"\n4. journal replay: open (lock, scan, CRC, truncate check) + recover(), {n:,} records")
    print(f"   reference: bare read + CRC loop    {statistics.median(raw_rates):>10,.0f} records/s")
    print(f"   Journal.open + recover()           {median:>10,.0f} records/s   "
          f"target >= 200,000: {'OK' if median >= 200_000 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (smoke run)")
    parser.add_argument("--dir", default=None, help="directory for journal files (a real disk)")
    args = parser.parse_args()
    quick = args.quick
    print(f"python {sys.version.split()[0]}, pykka {version('pykka')}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} (other processes distort thread wake-ups)")
    bench_throughput(n=50_000 if quick else 200_000, rounds=3 if quick else 7)
    bench_restart(samples=50 if quick else 300, backlog=10_000,
                  backlog_samples=5 if quick else 30)
    base = Path(tempfile.mkdtemp(prefix="bench-journal-", dir=args.dir))
    try:
        bench_journal(base, {"page": 50_000 if quick else 200_000,
                             "group": 20_000 if quick else 100_000,
                             "every": 1_000 if quick else 3_000})
        bench_replay(base, 20_000 if quick else 100_000)
    finally:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
