"""The keep-warm helper: a SCHED_IDLE process, one pinned spinning thread per CPU, gone with
the runtime."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.keepalive import CpuKeepAlive
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(30)


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _thread_cpus(pid: int) -> list[set[int]]:
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        if int(tid) != pid:
            out.append(os.sched_getaffinity(int(tid)))
    return out


def test_one_idle_priority_thread_pinned_to_each_cpu_and_stop_ends_it() -> None:
    cpus = sorted(os.sched_getaffinity(0))
    helper = CpuKeepAlive(cpus)
    helper.start()
    pid = helper.pid
    assert pid is not None
    try:
        eventually(lambda: len(_thread_cpus(pid)) == len(cpus)
                   and sorted(sorted(s) for s in _thread_cpus(pid)) == [[c] for c in cpus],
                   timeout=10)
        assert os.sched_getscheduler(pid) == os.SCHED_IDLE
    finally:
        helper.stop()
    assert not _alive(pid)
    helper.stop()  # idempotent


def test_the_helper_exits_when_its_runtime_dies(tmp_path: Path) -> None:
    """A runtime killed without a chance to stop it must not leave the helper spinning."""
    script = tmp_path / "runtime.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from runtime.keepalive import CpuKeepAlive\n"
        "h = CpuKeepAlive()\n"
        "h.start()\n"
        "print(h.pid, flush=True)\n"
        "os._exit(0)\n"  # no stop(), no cleanup: like a crash
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=20,
                         check=True)
    pid = int(out.stdout.split()[0])
    eventually(lambda: not _alive(pid), timeout=10)


def test_it_spins_when_nothing_else_runs() -> None:
    """Busy, not sleeping: the helper's threads accumulate CPU time."""
    cpu = min(os.sched_getaffinity(0))
    helper = CpuKeepAlive([cpu])
    helper.start()
    pid = helper.pid
    assert pid is not None
    try:
        def cpu_ticks() -> int:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks

        eventually(lambda: cpu_ticks() >= 5, timeout=20)
    finally:
        helper.stop()


def test_no_cpu_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one CPU"):
        CpuKeepAlive([])
