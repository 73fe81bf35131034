"""The local exchange (``venues.simulator``) as a subprocess, and where the processes run.

The exchange runs in its own process so that its event loop does not compete with the runtime
for this process's GIL; when the runtime is pinned, the exchange gets the other CPUs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .common import REPO


def choose_cpus(spec: str) -> list[int]:
    """CPUs for the runtime and the SDK client, from ``--cpus``: 'auto' = the last CPU when
    there are several, 'all' = no pinning (an empty list), or a list such as 1 or 2,3."""
    available = sorted(os.sched_getaffinity(0))
    if spec == "auto":
        return available[-1:] if len(available) > 1 else []
    if spec == "all":
        return []
    return [int(c) for c in spec.split(",")]


def pin_runtime(cpus: list[int]) -> None:
    """Like `scripts/run --cpus`: the runtime's threads (and the SDK client's) on the given
    cores, the exchange subprocess started afterwards on the others (see `simulator`)."""
    if cpus:
        os.sched_setaffinity(0, cpus)


@contextmanager
def simulator(flow_rate: float, seed: int, workdir: Path) -> Iterator[tuple[str, Path]]:
    """scripts/sim on 127.0.0.1:0; yields (base URL, its log file)."""
    out, log_path = workdir / "sim.out", workdir / "sim.log"
    cmd = [sys.executable, "-m", "venues.simulator", "--port", "0", "--seed", str(seed),
           "--flow-rate", str(flow_rate), "--idle-timeout", "600", "--log-level", "WARNING",
           # A benchmark offers more than a venue admits on purpose (the SDK reference and the
           # sustained phase lift the client budgets); the runtime's own pacing is shown by
           # tests/integration/test_runtime_load.py against a venue that enforces them.
           "--no-limits"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    others = sorted(set(range(os.cpu_count() or 1)) - os.sched_getaffinity(0))
    if others:  # the runtime is pinned: keep the exchange off its core
        cmd = ["taskset", "-c", ",".join(map(str, others)), *cmd]
    with open(out, "w") as stdout, open(log_path, "w") as stderr:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=stdout, stderr=stderr, env=env)
    try:
        deadline = time.monotonic() + 30
        url = None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            for line in out.read_text().splitlines():
                if "listening on " in line:
                    url = line.split("listening on ")[1].split()[0]
            if url is None:
                time.sleep(0.05)
        if url is None:
            raise RuntimeError(f"the simulator did not start: {log_path.read_text()[-2000:]}")
        yield url, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
