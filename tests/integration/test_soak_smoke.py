"""scripts/soak end to end, short: a standalone exchange, scripts/run under actor chaos and venue
faults, subscribers, the venue's judgement, a JSON summary consistent with the exit code.

The soak's verdict on today's runtime is not asserted (that is what the soak is for); what is
asserted is that the machinery saw events, judged orders and reported the figures it promises.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(110)
def test_a_short_soak_runs_judges_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    done = subprocess.run(
        [str(REPO / "scripts" / "soak"), "--minutes", "0.5", "--quick", "--rates", "10,30,10",
         "--no-kills", "--judge-budget", "10", "--subscribers", "2",
         "--work-dir", str(tmp_path / "run"), "--out", str(out)],
        capture_output=True, text=True, timeout=100, check=False)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert summary["passed"] == (done.returncode == 0)
    assert summary["passed"] == (not summary["failures"])
    assert ("PASSED" if summary["passed"] else "FAILED:") in done.stdout
    for name in ("sub1", "sub2"):
        seen = summary["sequences"][name]
        assert seen["events"] > 0
        assert seen["first"] == 1
    assert summary["orders"]["cloids"] > 0
    assert summary["orders"]["judged"] > 0
    steps = summary["steps"]
    assert [s["rate"] for s in steps] == [10, 30, 10]
    assert sum(s["tracked"] for s in steps) > 0
    assert steps[0]["submit_to_open_ms"]
    assert summary["capabilities"]["judge_source_ip"]
    assert summary["runtime"]["starts"] >= 1
    assert summary["rss"]["peak_mb"] > 0
    assert (tmp_path / "run" / "runtime.log").exists()
    key = tmp_path / "run" / "soak.key"
    assert key.stat().st_mode & 0o077 == 0  # the key file is not readable by others
