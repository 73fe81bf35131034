"""What every part of the runtime benchmark shares: the order it places, its options, stats."""

from __future__ import annotations

import math
import time
from decimal import Decimal
from pathlib import Path

import attrs

REPO = Path(__file__).resolve().parents[2]
PAIR, COIN = "BTC-USD", "BTC"
SIZE = Decimal("0.0002")  # ~19 USD at 95% of 100k: above the 10 USD minimum
FAR = Decimal("0.95")
KEY_ENV = "PERPETUUM_BENCH_DEMO_KEY"
mono = time.monotonic_ns


@attrs.frozen(kw_only=True)
class Options:
    """The command line's settings that the measurements read (see the driver's --help)."""

    latency_s: float
    latency_interval_ms: float
    burst: int
    sustained_s: float
    window: int
    sdk_s: float
    sdk_seq_s: float
    flow_rate: float
    seed: int
    stream_frames: int
    stages: bool
    keep_warm: bool


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


def dist_us(values_ns: list[int]) -> str:
    if not values_ns:
        return "no samples"
    us = [v / 1e3 for v in values_ns]
    return (f"p50 {pct(us, 50):7.0f}  p90 {pct(us, 90):7.0f}  p99 {pct(us, 99):7.0f}  "
            f"max {max(us):7.0f} µs  n={len(us)}")

