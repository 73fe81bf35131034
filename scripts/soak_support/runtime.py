"""``scripts/run`` as a subprocess: start, ``kill -9`` + restart with the same data dir, clean
stop (SIGINT: it cancels its open orders), its RSS from /proc, its log."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from .venue import ROOT, wait_for_line

READY = re.compile(r"^perpetuum: ")


def config_toml(*, pair: str, schedule: tuple[tuple[float, float], ...], start_at: float,
                seed: int, max_submits_per_s: float, replay: str | None) -> str:
    """The runtime's configuration: the load strategy on ``pair`` with the soak's schedule,
    the replay endpoint when there is one."""
    steps = ", ".join(f"[{rate:g}, {seconds:.3f}]" for rate, seconds in schedule)
    publisher = f'[publisher]\nreplay_address = "{replay}"\n\n' if replay else ""
    return (
        publisher +
        "[strategy]\n"
        'kind = "load"\n'
        'id = "load"\n'
        f'trading_pair = "{pair}"\n'
        "\n[load]\n"
        f"schedule = [{steps}]\n"
        f"start_at = {start_at:.3f}\n"
        f"seed = {seed}\n"
        "\n[risk]\n"
        f"max_submits_per_s = {max_submits_per_s:g}\n"
    )


def rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None
    return None


def accepts_config(toml: str, path: Path, key_file: Path) -> tuple[bool, str]:
    """Whether ``scripts/run`` accepts this configuration: it is given an unreachable venue,
    so it exits 3 once the configuration passed, 2 (with the reason) when it did not."""
    path.write_text(toml, encoding="utf-8")
    done = subprocess.run(
        [str(ROOT / "scripts" / "run"), "--config", str(path), "--venue-url",
         "http://127.0.0.1:9", "--key-file", str(key_file), "--duration", "0", "--quiet"],
        capture_output=True, text=True, timeout=120, check=False)
    return done.returncode != 2, (done.stdout + done.stderr).strip()[-500:]


class StartFailedError(RuntimeError):
    def __init__(self, code: int, tail: str) -> None:
        lines = [line for line in tail.splitlines() if line.strip()
                 and not line.startswith("=====")]
        self.code = code
        self.reason = lines[-1][:300] if lines else ""
        super().__init__(f"scripts/run did not start (exit {code}): {tail}")


class RuntimeProcess:
    def __init__(self, args: list[str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.start_seconds: list[float] = []
        self.start_retries = 0
        self.exit_codes: list[int | None] = []
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        proc = self.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self, timeout_s: float = 90.0, attempts: int = 10) -> None:
        """Start ``scripts/run`` and wait for its start-up line. An exit 3 (venue unavailable
        at start: a fault burst) is retried after a second, as a service manager would."""
        for attempt in range(attempts):
            code = self._start_once(timeout_s)
            if code is None:
                return
            if code != 3 or attempt == attempts - 1:
                raise StartFailedError(code, self.log_path.read_text(errors="replace")[-3000:])
            self.start_retries += 1
            time.sleep(1.0)

    def _start_once(self, timeout_s: float) -> int | None:
        """None once started, else the exit code (-1: no start-up line in time)."""
        with self._lock:
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _closed()
            self._log.write(f"\n===== soak: start {self.starts + 1} at {time.time():.3f}\n"
                            .encode())
            self._log.flush()
            began = time.monotonic()
            self.proc = subprocess.Popen(
                [str(ROOT / "scripts" / "run"), *self.args], stdout=self._log,
                stderr=subprocess.STDOUT, start_new_session=True)
            self.starts += 1
            match = wait_for_line(self.log_path, READY, offset=offset, timeout_s=timeout_s,
                                  proc=self.proc)
            if match is None:
                if self.proc.poll() is None:
                    self.proc.kill()
                code = self.proc.wait(timeout=30)
                self.exit_codes.append(code)
                self._closed(f"did not start, exit {code}")
                return code if code >= 0 else -1
            self.start_seconds.append(round(time.monotonic() - began, 2))
            return None

    def kill9(self) -> None:
        with self._lock:
            proc = self.proc
            if proc is None or proc.poll() is not None:
                return
            proc.send_signal(signal.SIGKILL)
            self.exit_codes.append(proc.wait(timeout=30))
            self.kills += 1
            self._closed("killed with SIGKILL")

    def stop(self, timeout_s: float = 120.0) -> dict[str, Any]:
        """SIGINT and wait: the runtime halts, cancels its open orders and exits."""
        with self._lock:
            proc = self.proc
            if proc is None:
                return {"clean": False, "exit_code": None, "seconds": 0.0}
            began = time.monotonic()
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            clean = True
            try:
                code: int | None = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                clean = False
                proc.kill()
                code = proc.wait(timeout=30)
            self.exit_codes.append(code)
            self._closed(f"stopped, exit {code}")
            return {"clean": clean and code == 0, "exit_code": code,
                    "seconds": round(time.monotonic() - began, 2)}

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _closed(self, what: str) -> None:
        if self._log is not None:
            self._log.write(f"===== soak: {what} at {time.time():.3f}\n".encode())
            self._log.close()
            self._log = None


class RssSampler(threading.Thread):
    """Samples the runtime's RSS every ``every_s`` as (wall ns, pid, kB)."""

    def __init__(self, runtime: RuntimeProcess, every_s: float = 1.0) -> None:
        super().__init__(name="soak-rss", daemon=True)
        self.runtime = runtime
        self.every_s = every_s
        self.samples: list[tuple[int, int, int]] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.every_s):
            pid = self.runtime.pid
            if pid is None:
                continue
            kb = rss_kb(pid)
            if kb is not None:
                self.samples.append((time.time_ns(), pid, kb))


def scan_log(path: Path, needles: dict[str, str], samples: int = 10) -> dict[str, Any]:
    """Count log lines containing each needle (the runtime's own account of its rejections),
    and tracebacks other than the crashes chaos injects."""
    counts = dict.fromkeys(needles, 0)
    kept: dict[str, list[str]] = {k: [] for k in needles}
    tracebacks: list[str] = []
    in_traceback = False
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("Traceback"):
                    in_traceback = True
                elif in_traceback and not line.startswith((" ", "\t", "[", "=", "\n")) and (
                        not line[:1].isdigit()):
                    # Log lines of other threads (timestamps) and status lines can come in
                    # between; the first other line is the exception.
                    in_traceback = False
                    if "InjectedCrash" not in line and not line.startswith(
                            ("During handling", "The above exception")):
                        tracebacks.append(line.strip()[:300])
                for kind, needle in needles.items():
                    if needle in line:
                        counts[kind] += 1
                        if len(kept[kind]) < samples:
                            kept[kind].append(line.strip()[:300])
    except FileNotFoundError:
        pass
    return {"counts": counts, "samples": kept, "tracebacks": len(tracebacks),
            "traceback_samples": tracebacks[:samples]}


STEP_LINE = re.compile(r"step (\d+)/\d+ done \(.*?\): offered (\d+), accepted (\d+), filled "
                       r"(\d+), failed (\d+) \(refused (\d+)\), not sent for want of a book "
                       r"(\d+)")


def strategy_steps(path: Path) -> dict[int, dict[str, int]]:
    """What the load strategy logged at the end of each step, summed over the runtime's
    processes (a process killed during a step never logs that step: a lower bound)."""
    out: dict[int, dict[str, int]] = {}
    names = ("offered", "accepted", "filled", "failed", "refused", "no_book")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                match = STEP_LINE.search(line)
                if match:
                    step = out.setdefault(int(match.group(1)), dict.fromkeys(names, 0))
                    for name, value in zip(names, match.groups()[1:], strict=True):
                        step[name] += int(value)
    except FileNotFoundError:
        pass
    return out
