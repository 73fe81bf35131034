"""Risky settings are refused by ``scripts/run`` itself: exit code 2, one clear line saying
how to fix it, no traceback (issue 10, item 7)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO
from venues.simulator import DEMO_PRIVATE_KEY, FlowConfig, SimulatorConfig, start_simulator

RUN = REPO / "scripts" / "run"


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RUN), *argv, "--duration", "0", "--quiet",
                           "--data-dir", str(cwd / "var")],
                          capture_output=True, text=True, timeout=60, check=False, cwd=cwd)


@pytest.mark.timeout(90)
def test_run_refuses_a_publish_address_other_machines_reach(tmp_path: Path) -> None:
    done = _run("--publish", "tcp://0.0.0.0:5599", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.startswith(
        "configuration error: [publisher] address 'tcp://0.0.0.0:5599' can be reached from "
        "other machines")
    assert "--allow-remote-publish" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.timeout(90)
def test_run_refuses_a_key_file_others_may_read(tmp_path: Path) -> None:
    key = tmp_path / "agent.key"
    key.write_text(DEMO_PRIVATE_KEY + "\n")
    key.chmod(0o644)
    done = _run("--key-file", str(key), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.strip() == (
        f"configuration error: the key file {key} can be read by other users (mode 644): "
        f"restrict it with `chmod 600 {key}`, or pass --allow-insecure-key-file "
        "([account] allow_insecure_key_file = true) to use it anyway")
    assert "Traceback" not in done.stdout + done.stderr
    assert DEMO_PRIVATE_KEY[2:] not in done.stdout + done.stderr


@pytest.mark.timeout(90)
def test_run_refuses_a_vault_the_venue_does_not_know(tmp_path: Path) -> None:
    key = tmp_path / "master.key"
    key.write_text(DEMO_PRIVATE_KEY + "\n")
    key.chmod(0o600)
    vault = "0x" + "99" * 20
    with start_simulator(SimulatorConfig(flow=FlowConfig(enabled=False))) as sim:
        done = _run("--venue-url", sim.base_url, "--key-file", str(key), "--vault", vault,
                    cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.strip() == (f"configuration error: vault {vault} is not a sub-account "
                                   "or vault: it is unknown to the venue")
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "var").exists()  # refused before anything was written
