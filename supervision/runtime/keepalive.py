"""Keep the runtime's CPUs out of deep idle (opt-in: ``keep_warm_us`` / ``--keep-warm``).

Why: a CPU that has idled for more than about a millisecond runs the next burst of work
slowly — on the virtual machines this was built on, the same signing code takes 39 µs on a
busy CPU, 86 µs after 10 ms of idle and 190 µs after 30 ms (the host parks an idle virtual
CPU; bare metal shows the same with deep C-states). A trading runtime waiting for the next
book frame idles exactly like that, so every order pays it. ``scripts/bench runtime`` prints
tick-to-trade latency with and without this helper, side by side.

How: a helper PROCESS (a thread would take this process's GIL) with one thread per CPU of the
runtime, each pinned to its CPU, waking every ``period_us`` at ``SCHED_IDLE`` priority: it runs
only when the CPU has nothing else to do, never delays a runtime thread, and stops the CPU from
halting for longer than the period. It costs a few per cent of each CPU. It exits when the
runtime stops it or closes its end of the pipe — also when the runtime dies.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterable

log = logging.getLogger(__name__)

_HELPER = """
import os, select, sys, threading
period = int(sys.argv[1]) / 1e6
cpus = [int(c) for c in sys.argv[2].split(",")]
try:
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
except (AttributeError, OSError):
    os.nice(19)
fd = sys.stdin.fileno()
stop = threading.Event()

def warm(cpu):
    os.sched_setaffinity(0, {cpu})
    while not stop.is_set():
        if select.select([fd], [], [], period)[0]:
            stop.set()  # EOF: the runtime closed the pipe or died

threads = [threading.Thread(target=warm, args=(c,), daemon=True) for c in cpus]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


class CpuKeepAlive:
    """The helper process; ``start`` and ``stop`` are idempotent."""

    def __init__(self, period_us: int, cpus: Iterable[int] | None = None) -> None:
        if not 50 <= period_us <= 100_000:
            raise ValueError(f"keep-warm period must be 50..100000 µs, not {period_us}")
        self.period_us = period_us
        self.cpus = tuple(sorted(cpus if cpus is not None else os.sched_getaffinity(0)))
        if not self.cpus:
            raise ValueError("keep-warm needs at least one CPU")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> None:
        if self._proc is not None:
            return
        self._proc = subprocess.Popen(  # noqa: S603 - our interpreter, our code, ints
            [sys.executable, "-c", _HELPER, str(self.period_us), ",".join(map(str, self.cpus))],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, close_fds=True,
        )
        log.info("keeping CPUs %s warm (a wake-up every %d µs, pid %d)",
                 ",".join(map(str, self.cpus)), self.period_us, self._proc.pid)

    def stop(self, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("keep-warm helper %d did not exit; killing it", proc.pid)
            proc.kill()
            proc.wait(timeout=timeout_s)
