"""The soak's command line and its seeded plan (when to kill, which fault when, the load steps).

The plan is a pure function of the options and the seed, so a failing soak can be re-run with
the same schedule (``--seed``).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

import attrs

RATES = (10.0, 20.0, 50.0, 100.0, 200.0, 10.0)
"""Stepped load, then back down to show recovery."""


@attrs.frozen(kw_only=True)
class Options:
    minutes: float = 20.0
    quick: bool = False
    seed: int = 1
    out: Path | None = None
    work_dir: Path | None = None
    keep: bool = False
    subscribers: int = 3
    chaos_kill_every_s: float = 5.0
    kill_every_s: float = 180.0
    fault_every_s: float = 20.0
    settle_s: float = 20.0
    """Quiet time after the last load step before the clean stop."""
    rates: tuple[float, ...] = RATES
    pair: str = "BTC-USD"
    max_submits_per_s: float = 1000.0
    judge_budget_s: float = 600.0
    cross_check: int = 300
    poll_every_s: float = 7.0
    """historicalOrders costs 120 weight: ~1,030 of the judge's 1,200 a minute."""
    flow_rate: float = 10.0
    no_faults: bool = False
    no_kills: bool = False
    verbose: bool = False
    dump_events: Path | None = None


def parse(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(
        prog="scripts/soak",
        description="Black-box soak: a standalone local exchange, scripts/run as a subprocess "
                    "under chaos, kill -9, venue faults and stepped load; the venue judges "
                    "every order at the end. Exits 1 on any discrepancy.")
    p.add_argument("--minutes", type=float, default=20.0, help="soak length (default 20)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: denser chaos and faults, shorter settle and judging")
    p.add_argument("--seed", type=int, default=1, help="seed of the plan and the exchange")
    p.add_argument("--out", type=Path, help="write the JSON summary here")
    p.add_argument("--work-dir", type=Path, help="keep the run's files here (default: a "
                                                   "temporary directory, removed unless --keep)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--subscribers", type=int, default=3,
                   help="subscribers running the whole soak (one more starts late)")
    p.add_argument("--chaos-kill-every", type=float, default=None, metavar="S",
                   help="actor chaos interval passed to scripts/run (default 5; quick 3)")
    p.add_argument("--kill-every", type=float, default=None, metavar="S",
                   help="kill -9 and restart the runtime this often (default 180; quick: once)")
    p.add_argument("--fault-every", type=float, default=None, metavar="S",
                   help="one venue fault this often (default 20; quick 8)")
    p.add_argument("--rates", help="comma-separated submits/s of the load steps "
                                   "(default 10,20,50,100,200,10)")
    p.add_argument("--pair", default="BTC-USD")
    p.add_argument("--max-submits-per-s", type=float, default=1000.0,
                   help="[risk] max_submits_per_s given to the runtime (default 1000: the "
                        "gate's own rate limit out of the way of the load)")
    p.add_argument("--judge-budget", type=float, default=None, metavar="S",
                   help="seconds the judge may spend on orderStatus queries (default 600)")
    p.add_argument("--no-faults", action="store_true", help="no venue faults")
    p.add_argument("--no-kills", action="store_true", help="no kill -9")
    p.add_argument("--dump-events", type=Path, metavar="FILE",
                   help="write every event the first subscriber receives here (JSON lines)")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    if a.minutes <= 0:
        p.error("--minutes must be > 0")
    rates: tuple[float, ...] = RATES
    if a.rates:
        try:
            rates = tuple(float(r) for r in a.rates.split(","))
        except ValueError:
            p.error(f"--rates must be numbers separated by commas, not {a.rates!r}")
        if not rates or any(r < 0 for r in rates):
            p.error("--rates must list submits per second >= 0")
    if a.subscribers < 1:
        p.error("--subscribers must be >= 1")
    quick = a.quick
    return Options(
        minutes=a.minutes, quick=quick, seed=a.seed, out=a.out, work_dir=a.work_dir,
        keep=a.keep, subscribers=a.subscribers,
        chaos_kill_every_s=_pick(a.chaos_kill_every, 3.0 if quick else 5.0),
        kill_every_s=_pick(a.kill_every, 0.0 if quick else 180.0),
        fault_every_s=_pick(a.fault_every, 8.0 if quick else 20.0),
        settle_s=8.0 if quick else 20.0, rates=rates, pair=a.pair,
        max_submits_per_s=a.max_submits_per_s,
        judge_budget_s=_pick(a.judge_budget, 120.0 if quick else 600.0),
        cross_check=50 if quick else 300, no_faults=a.no_faults, no_kills=a.no_kills,
        verbose=a.verbose, dump_events=a.dump_events)


def _pick(value: float | None, default: float) -> float:
    return default if value is None else value


# --- the plan -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Action:
    at_s: float
    """Seconds after the load schedule's start."""
    kind: str
    """``kill`` (kill -9 + restart), ``late_subscriber``, ``fault``, ``clear`` (undo a timed
    fault), ``drop_ws``, ``stall``."""
    params: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Plan:
    schedule: tuple[tuple[float, float], ...]
    """The load steps: (submits per second, seconds)."""
    load_s: float
    total_s: float
    actions: tuple[Action, ...]


def _faults(rng: random.Random, fields: frozenset[str]
            ) -> list[tuple[str, dict[str, Any], float]]:
    """Candidate faults the exchange offers: (kind, control body, seconds until undone; 0 =
    one-shot). Every fault field is a plan setting that sticks until changed, so a 5xx burst
    always names its path when paths exist."""
    status = rng.choice((500, 502, 503, 504))
    burst = {"http_error_status": status, "http_error_count": rng.randint(2, 8)}
    out: list[tuple[str, dict[str, Any], float]] = []
    if "http_error_path" in fields:
        for path in ("/exchange", "/info"):
            out.append(("fault", {**burst, "http_error_path": path}, 0.0))
    else:
        out.append(("fault", burst, 0.0))
    if "ws_post_error_next" in fields:  # a 5xx answered on the WS post channel
        out.append(("fault", {"ws_post_error_next": rng.randint(1, 5),
                              "ws_post_error_status": status, "ws_post_error_kind": "action"},
                    0.0))
    out += [
        ("fault", {"delay_s": round(rng.uniform(0.1, 0.8), 2)}, rng.uniform(3, 8)),
        ("drop_ws", {}, 0.0),
        ("fault", {"ws_drop_next": rng.randint(1, 5)}, 0.0),
        ("fault", {"ws_duplicate_next": rng.randint(1, 5)}, 0.0),
        ("fault", {"ws_reorder_next": rng.randint(1, 5)}, 0.0),
        ("fault", {"ws_drop_rate": 0.02, "ws_duplicate_rate": 0.02, "ws_reorder_rate": 0.02},
         rng.uniform(3, 8)),
        ("stall", {"seconds": round(rng.uniform(0.5, 2.5), 2)}, 0.0),
    ]
    if "ws_mangle_next" in fields:
        out.append(("fault", {"ws_mangle_next": rng.randint(1, 3)}, 0.0))
        out.append(("fault", {"ws_mangle_rate": 0.01}, rng.uniform(3, 6)))
    return out


def build_plan(opts: Options, *, fault_fields: frozenset[str]) -> Plan:
    """Steps of equal length filling the soak minus the settle time; kills, faults and the late
    subscriber at seeded times inside the load."""
    rng = random.Random(opts.seed)
    total = opts.minutes * 60.0
    load_s = max(total - opts.settle_s, 1.0)
    step_s = load_s / len(opts.rates)
    schedule = tuple((rate, step_s) for rate in opts.rates)
    actions: list[Action] = [Action(at_s=round(0.4 * load_s, 3), kind="late_subscriber")]
    if not opts.no_kills:
        if opts.kill_every_s > 0:
            t = opts.kill_every_s
            while t < load_s - 15:
                actions.append(Action(at_s=round(t + rng.uniform(-10, 10), 3), kind="kill"))
                t += opts.kill_every_s
        else:
            actions.append(Action(at_s=round(0.55 * load_s, 3), kind="kill"))
    if not opts.no_faults and opts.fault_every_s > 0:
        t = opts.fault_every_s / 2
        while t < load_s - 5:
            candidates = [c for c in _faults(rng, fault_fields)
                          if c[0] != "fault" or set(c[1]) <= fault_fields]
            kind, body, undo_s = rng.choice(candidates)
            at = round(t + rng.uniform(0, opts.fault_every_s / 4), 3)
            actions.append(Action(at_s=at, kind=kind, params=body))
            if undo_s > 0:
                actions.append(Action(at_s=round(at + undo_s, 3), kind="clear",
                                      params=dict.fromkeys(body, 0)))
            t += opts.fault_every_s
    actions.sort(key=lambda a: a.at_s)
    return Plan(schedule=schedule, load_s=load_s, total_s=total, actions=tuple(actions))
