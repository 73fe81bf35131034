"""Keep the runtime's CPUs busy at idle priority (opt-in: ``keep_warm`` / ``--keep-warm``).

Why: at a few orders a second the order path runs on a cold CPU. On the virtual machines
this was built on, the path's own work (normalise, track, sign: ~60 µs back to back) takes
~150-300 µs when it starts after 25 ms of idle, because the host gives an idle virtual CPU's
core to other work and the path's code and data have to come back into the cache; waking the
CPU every 500 µs restores its clock but not the cache. A CPU that never idles keeps its core:
measured there, tick-to-trade p50 fell by up to half, by nothing at other times (the host's
load decides; ``scripts/bench runtime`` prints both runs side by side). Bare metal with deep
C-states behaves alike.

How: a helper PROCESS (a thread would hold this process's GIL) with one thread per CPU of the
runtime, each pinned to its CPU and spinning at ``SCHED_IDLE`` priority: the scheduler runs it
only when nothing else wants the CPU and preempts it as soon as a runtime thread wakes, so it
never delays the runtime — but the CPU shows 100 % busy and draws the power of a busy core,
and the host may preempt a virtual CPU that never idles (rare multi-millisecond stalls: the
maximum rises while the median falls). It exits when the runtime stops it or closes its end
of the pipe — also when the runtime dies.
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
cpus = [int(c) for c in sys.argv[1].split(",")]
try:
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
except (AttributeError, OSError):
    os.nice(19)
fd = sys.stdin.fileno()
stop = threading.Event()

def spin(cpu):
    os.sched_setaffinity(0, {cpu})
    while not stop.is_set():
        for _ in range(20000):  # ~1 ms of spinning between looks at the pipe
            pass
        if select.select([fd], [], [], 0)[0]:
            stop.set()  # EOF: the runtime closed the pipe or died

threads = [threading.Thread(target=spin, args=(c,), daemon=True) for c in cpus]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


class CpuKeepAlive:
    """The helper process; ``start`` and ``stop`` are idempotent."""

    def __init__(self, cpus: Iterable[int] | None = None) -> None:
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
            [sys.executable, "-c", _HELPER, ",".join(map(str, self.cpus))],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, close_fds=True,
        )
        log.info("keeping CPUs %s busy at idle priority (pid %d)",
                 ",".join(map(str, self.cpus)), self._proc.pid)

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
