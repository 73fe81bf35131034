"""The local exchange as a standalone subprocess (``scripts/sim``), and its control routes.

What the simulator offers is detected, not assumed: initial cumulative volume per account
(``cum_volume`` in its TOML), the fault fields (``/_control/faults`` echoes its plan), limit
counters in ``/_control/state``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (http://[0-9.]+:(\d+))")
HISTORY_CAP = 300_000
"""Finished orders the soak's exchange keeps for the judge."""


class VenueError(RuntimeError):
    pass


def new_key(path: Path) -> str:
    """A fresh private key in ``path`` (mode 0600, written so it is never world-readable);
    returns its address."""
    from eth_account import Account

    account = Account.create()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(account.key.hex() if account.key.hex().startswith("0x")
                 else "0x" + account.key.hex())
        fh.write("\n")
    address: str = account.address.lower()
    return address


def wait_for_line(path: Path, pattern: re.Pattern[str], *, offset: int, timeout_s: float,
                  proc: subprocess.Popen[bytes] | None = None) -> re.Match[str] | None:
    """Wait until a line after ``offset`` of the log at ``path`` matches (or the process
    exits, or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                fh.seek(offset)
                for line in fh:
                    match = pattern.search(line)
                    if match:
                        return match
        except FileNotFoundError:
            pass
        if proc is not None and proc.poll() is not None:
            return None
        time.sleep(0.1)
    return None


class Venue:
    def __init__(self, work_dir: Path, *, seed: int, flow_rate: float) -> None:
        self.work_dir = work_dir
        self.seed = seed
        self.flow_rate = flow_rate
        self.log_path = work_dir / "sim.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(ROOT / "scripts" / "sim"), "--port", "0", "--seed", str(self.seed),
             "--flow-rate", str(self.flow_rate), "--log-level", "WARNING",
             # The judge asks orderStatus for every order at the end: the exchange must still
             # know them (its default keeps 5,000 finished orders; a 20-minute soak makes
             # ~75,000, and an order last listed open may have ended unseen since).
             "--history-cap", str(HISTORY_CAP)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        match = wait_for_line(self.log_path, LISTENING, offset=offset, timeout_s=60,
                              proc=self.proc)
        if match is None:
            code = self.proc.poll()
            text = self.log_path.read_text(errors="replace")[offset:]
            raise VenueError(f"scripts/sim did not start (exit {code}): {text[-2000:]}")
        self.base_url = match.group(1)

    def fund(self, account: str, usdc: int, volume: int) -> None:
        """Credit ``usdc`` and, where the simulator supports it, ``volume`` USDC already traded
        (it raises the address's request budget: 1 request per USDC); check with
        `request_cap`."""
        self.control("fund", {"address": account, "usdc": usdc, "cum_volume": volume})

    def control(self, op: str, body: dict[str, Any] | None = None,
                timeout_s: float = 10.0) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base_url}/_control/{op}", data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            raise VenueError(f"/_control/{op}: HTTP {exc.code} {exc.read()[:300]!r}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise VenueError(f"/_control/{op}: {exc}") from None

    def state(self) -> dict[str, Any]:
        return self.control("state")

    def fault_fields(self) -> frozenset[str]:
        """The fault plan's fields, read from the plan the simulator echoes."""
        text = str(self.control("faults", {}).get("faults", ""))
        return frozenset(re.findall(r"(\w+)=", text))

    def usage(self, ip: str = "127.0.0.1", account: str = ""
              ) -> tuple[float, float, float, dict[str, float]] | None:
        """(REST weight charged, WebSocket messages sent) by ``ip`` so far, from the
        simulator's limit counters, the order and cancel entries ``account`` has sent (its
        ``nRequestsUsed``), and those units by what spent them (``ws post action:order``…);
        None when the simulator has no such counters."""
        state = self.state()
        limits = state.get("limits")
        if not isinstance(limits, dict) or not isinstance(limits.get("ips"), dict):
            return None
        requests = state.get("address_requests")
        sent = float(requests.get(account.lower(), 0)) if isinstance(requests, dict) else 0.0
        counters = limits["ips"].get(ip)
        if not isinstance(counters, dict):
            return (0.0, 0.0, sent, {})
        kinds = counters.get("usage_by_kind")
        by_kind = ({str(k): float(v) for k, v in kinds.items()} if isinstance(kinds, dict)
                   else {})
        return (float(counters.get("weight_charged", 0)), float(counters.get("ws_messages", 0)),
                sent, by_kind)

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
