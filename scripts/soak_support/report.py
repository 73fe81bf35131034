"""The soak's verdict: figures from what the subscribers saw and what the venue said, the list
of failures (any one makes the soak exit 1), a JSON summary and a human one."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from .judge import (
    NONCE_EXPIRY,
    RSS_LIMIT_MB,
    EventRecord,
    LastEvent,
    VenueOrder,
    interpolate,
    judge_fills,
    judge_orders,
    percentiles,
    rss_findings,
    step_bounds,
    summarize,
    venue_placed,
)
from .options import Options, Plan
from .runtime import scan_log, strategy_steps

UNDER_LOAD = 50.0
"""Steps offering at least this many submits per second count as "under load"."""
HOW_USAGE = (
    "orders the venue placed (open, filled or cancelled after resting) in the steps offering "
    f">= {UNDER_LOAD:g}/s, over the rate-limit usage the exchange counted for the runtime's IP "
    "in them (/_control/state limits.ips: REST weight charged + WebSocket messages sent; a "
    "WS post of an action of n orders is one message, as a REST action of up to 39 orders "
    "weighs 1)")


def _kinds_delta(samples: list[tuple[int, dict[str, float]]] | None, lo: int,
                 hi: int) -> dict[str, float]:
    """Units spent by kind between the samples nearest ``lo`` and ``hi``, largest first."""
    if not samples:
        return {}
    def at(t: int) -> dict[str, float]:
        return min(samples, key=lambda s: abs(s[0] - t))[1]
    a, b = at(lo), at(hi)
    spent = {k: round(v - a.get(k, 0.0), 1) for k, v in b.items()}
    return dict(sorted(((k, v) for k, v in spent.items() if v > 0), key=lambda kv: -kv[1]))


def _delta(samples: list[tuple[int, float]], lo: int, hi: int) -> float | None:
    a, b = interpolate(samples, lo), interpolate(samples, hi)
    return None if a is None or b is None else round(b - a, 1)


@attrs.frozen(kw_only=True)
class Outcome:
    opts: Options
    plan: Plan
    start_ns: int
    capabilities: dict[str, Any]
    records: list[EventRecord]
    """The whole-soak subscribers, then the late one."""
    late_started: bool
    subscriber_mode: str
    subscriber_errors: list[str]
    subscriber_notices: dict[str, dict[str, int]]
    """What the subscriber library reported (gaps it could not fill, publisher restarts…)."""
    notice_samples: list[str]
    answers: dict[str, VenueOrder]
    open_cloids: set[str]
    open_count: int
    venue_fills: dict[str, Decimal]
    """Size filled per cloid, from the venue's fills."""
    fills_complete_from_ms: int | None
    """None: every fill of the soak was reachable; else only those from then on."""
    evidence: dict[str, Any]
    usage: list[tuple[int, float, float, float]] | None
    """(wall ns, REST weight, WebSocket messages) of the runtime's IP at the venue."""
    usage_kinds: list[tuple[int, dict[str, float]]] | None
    """(wall ns, units spent so far by kind) of the runtime's IP at the venue."""
    rss: list[tuple[int, int, int]]
    stop: dict[str, Any]
    runtime_starts: int
    runtime_start_seconds: list[float]
    runtime_start_retries: int
    """Starts that exited 3 (venue unavailable: a fault burst at start-up) and were retried."""
    incidents: list[str]
    executed: list[str]
    notes: list[str]
    log_path: Path
    work_dir: Path


def consensus(records: Sequence[EventRecord]) -> dict[str, LastEvent]:
    """Per cloid, the newest event any subscriber saw."""
    out: dict[str, LastEvent] = {}
    for record in records:
        for cloid, last in record.last.items():
            known = out.get(cloid)
            if known is None or last.seq > known.seq:
                out[cloid] = last
    return out


def first_times(records: Sequence[EventRecord], attr: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for record in records:
        for cloid, ts in getattr(record, attr).items():
            if cloid not in out or ts < out[cloid]:
                out[cloid] = ts
    return out


def step_figures(o: Outcome, final: dict[str, LastEvent]) -> list[dict[str, Any]]:
    bounds = step_bounds(o.start_ns, o.plan.schedule)
    tracked = first_times(o.records, "tracked_ns")
    opened = first_times(o.records, "opened_ns")
    logged = strategy_steps(o.log_path)
    per: list[dict[str, Any]] = []
    members: list[list[str]] = [[] for _ in bounds]
    for cloid, ts in tracked.items():
        for i, (lo, hi) in enumerate(bounds):
            if lo <= ts < hi:
                members[i].append(cloid)
                break
    for i, ((rate, seconds), (lo, hi)) in enumerate(zip(o.plan.schedule, bounds, strict=True)):
        cloids = members[i]
        latencies = [(opened[c] - tracked[c]) / 1e6 for c in cloids if c in opened]
        states = Counter(final[c].state for c in cloids if c in final)
        placed = sum(1 for c in cloids if c in o.answers and venue_placed(o.answers[c].status))
        rest = ws = used = entries = None
        if o.usage:
            rest = _delta([(t, w) for t, w, _m, _r in o.usage], lo, hi)
            ws = _delta([(t, m) for t, _w, m, _r in o.usage], lo, hi)
            entries = _delta([(t, r) for t, _w, _m, r in o.usage], lo, hi)
            used = None if rest is None or ws is None else rest + ws
        per.append({
            "step": i + 1, "rate": rate, "seconds": round(seconds, 1),
            "usage_by_kind": _kinds_delta(o.usage_kinds, lo, hi),
            "offered_nominal": round(rate * seconds),
            "strategy_log": logged.get(i + 1, {}), "tracked": len(cloids),
            "opened": sum(1 for c in cloids if c in opened), "venue_placed": placed,
            "final_states": dict(states),
            "submit_to_open_ms": {k: round(v, 1) for k, v in percentiles(latencies).items()},
            "rest_weight": rest, "ws_messages": ws, "usage": used,
            "orders_per_unit": round(placed / used, 2) if used else None,
            "order_requests": entries,
            "requests_per_unit": round(entries / used, 2) if used and entries else None,
        })
    return per


def build_summary(o: Outcome) -> dict[str, Any]:
    failures: list[str] = []
    whole, late = o.records[:-1], o.records[-1]
    last_seq = max((r.sequence.max_seen for r in o.records), default=0)
    sequences: dict[str, Any] = {}
    for record in [*whole, *([late] if o.late_started else [])]:
        rep = record.sequence.report(1, last_seq) if last_seq else record.sequence.report()
        sequences[record.name] = {**attrs.asdict(rep), "events": record.events,
                                  "replayed": record.replayed, "malformed": record.malformed,
                                  "epochs": len(record.epochs)}
        if record.events == 0:
            failures.append(f"{record.name}: received no order event at all")
        if rep.lost or rep.duplicated or rep.out_of_order or record.malformed:
            failures.append(f"{record.name}: {rep.lost} events lost, {rep.duplicated} "
                            f"duplicated, {rep.out_of_order} out of order, {record.malformed} "
                            f"malformed (event_sequence 1..{last_seq})")
    judged = [*whole, *([late] if o.late_started else [])]
    discrepancies = judge_orders(judged, o.answers, o.open_cloids,
                                 o.venue_fills if o.fills_complete_from_ms is None else None)
    skip: set[str] = set()
    if o.fills_complete_from_ms is not None:
        cutoff = o.fills_complete_from_ms * 1_000_000
        skip = {c for c, t in first_times(judged, "tracked_ns").items() if t < cutoff}
    discrepancies += judge_fills(judged, o.venue_fills, skip)
    orders = summarize(discrepancies)
    first = judged[0].name if judged else ""
    orders["pairs"] = {f"{state} vs venue {status}": n for (state, status), n in Counter(
        (judged[0].last[d.cloid].state, o.answers[d.cloid].status) for d in discrepancies
        if d.subscriber == first and d.kind in ("state_mismatch", "false_failed")
        and d.cloid in o.answers
    ).most_common(12)}
    for kind, count in sorted(orders["counts"].items()):
        failures.append(f"orders: {count} × {kind} ({orders['cloids'][kind]} orders)")
    final = consensus(judged)
    if o.open_count:
        failures.append(f"{o.open_count} orders open at the venue after the clean stop")
    nonce_events = Counter[str]()
    for record in o.records:
        for kind, n in record.nonce_expiry.items():
            nonce_events[kind] = max(nonce_events[kind], n)
    logged = scan_log(o.log_path, NONCE_EXPIRY)
    for kind in NONCE_EXPIRY:
        n_events, n_log = nonce_events.get(kind, 0), logged["counts"][kind]
        if n_events or n_log:
            failures.append(f"{kind} rejections: {n_events} in events, {n_log} log lines")
    steps = step_figures(o, final)
    loaded = [s for s in steps if s["rate"] >= UNDER_LOAD and s["usage"]]
    placed_loaded = sum(s["venue_placed"] for s in loaded)
    used_loaded = sum(s["usage"] for s in loaded)
    entries_loaded = sum(s["order_requests"] or 0 for s in loaded)
    rss = rss_findings(o.rss, step_bounds(o.start_ns, o.plan.schedule))
    if rss["growth_not_returned"]:
        failures.append(f"RSS not bounded: still growing after the load dropped, or above "
                        f"{RSS_LIMIT_MB:.0f} MB (per step "
                        f"{[s.get('median_mb') for s in rss['per_step']]} MB, peak "
                        f"{rss['peak_mb']} MB)")
    if not o.stop.get("clean"):
        failures.append(f"the runtime did not stop cleanly: {o.stop}")
    failures += [f"runtime: {i}" for i in o.incidents]
    failures += [f"subscriber error: {e}" for e in o.subscriber_errors]
    if logged["tracebacks"]:
        failures.append(f"{logged['tracebacks']} tracebacks in the runtime's log (other than "
                        f"injected crashes), e.g. {logged['traceback_samples'][:3]}")
    if not o.late_started:
        o.notes.append("the late subscriber never started (the soak ended first)")
    return {
        "passed": not failures, "failures": failures,
        "options": {k: str(v) if isinstance(v, Path) else v
                    for k, v in attrs.asdict(o.opts).items()},
        "schedule": [list(s) for s in o.plan.schedule], "capabilities": o.capabilities,
        "notes": o.notes, "subscriber_mode": o.subscriber_mode, "sequences": sequences,
        "subscriber_notices": o.subscriber_notices, "notice_samples": o.notice_samples,
        "orders": {"cloids": len(final), "judged": len(o.answers),
                   "final_states": dict(Counter(e.state for e in final.values())),
                   "venue_statuses": dict(Counter(a.status for a in o.answers.values())),
                   "discrepancies": orders},
        "failure_reasons": dict(Counter(
            {k: v for r in whole[:1] for k, v in r.failure_reasons.most_common(15)})),
        "nonce_expiry": {"events": dict(nonce_events), "log": logged["counts"],
                         "samples": [*whole[0].nonce_expiry_samples[:5],
                                     *logged["samples"]["nonce"][:5],
                                     *logged["samples"]["expiry"][:5]] if whole else []},
        "left_open": {"count": o.open_count, "cloids": sorted(o.open_cloids)[:20]},
        "steps": steps,
        "under_load": {"steps": [s["step"] for s in loaded], "venue_placed": placed_loaded,
                       "usage": round(used_loaded, 1),
                       "orders_per_unit": (round(placed_loaded / used_loaded, 2)
                                           if used_loaded else None),
                       "order_requests": entries_loaded,
                       "requests_per_unit": (round(entries_loaded / used_loaded, 2)
                                             if used_loaded else None),
                       "how": HOW_USAGE},
        "rss": rss,
        "runtime": {"starts": o.runtime_starts, "start_seconds": o.runtime_start_seconds,
                    "start_retries_venue_unavailable": o.runtime_start_retries,
                    "stop": o.stop, "incidents": o.incidents, "tracebacks":
                    logged["tracebacks"], "log": str(o.log_path)},
        "venue_evidence": o.evidence, "executed": o.executed,
    }


def write_json(path: Path, summary: dict[str, Any]) -> None:
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _ms(p: dict[str, float]) -> str:
    if not p:
        return "-"
    return f"{p['p50']:.0f}/{p['p90']:.0f}/{p['p99']:.0f}/{p['max']:.0f}"


def print_summary(s: dict[str, Any], say: Callable[[str], None]) -> None:
    say("")
    say("==== soak summary ====")
    opts = s["options"]
    say(f"minutes {opts['minutes']:g}{' (quick)' if opts['quick'] else ''}, seed {opts['seed']}; "
        f"subscribers: {s['subscriber_mode']}")
    caps = s["capabilities"]
    say("exchange: limits enforced {limits_enforced}, address cap {address_request_cap}, "
        "mangled frames {mangled_frames}, judge from {judge_source_ip}".format(**caps))
    for name, q in s["sequences"].items():
        say(f"events {name:5s}: {q['events']:7d} received ({q['replayed']} replayed), "
            f"event_sequence {q['first']}..{q['last']}: lost {q['lost']}, duplicated "
            f"{q['duplicated']}, out of order {q['out_of_order']}, publisher epochs "
            f"{q['epochs']}")
    o = s["orders"]
    say(f"orders: {o['cloids']} cloids, {o['judged']} judged by the venue; final states "
        f"{o['final_states']}")
    say(f"venue statuses: {o['venue_statuses']}")
    if o["discrepancies"].get("pairs"):
        say("  runtime's last state vs the venue (first subscriber): "
            + "; ".join(f"{n} × {pair}" for pair, n in o["discrepancies"]["pairs"].items()))
    for kind, count in sorted(o["discrepancies"]["counts"].items()):
        say(f"  {kind}: {count} ({o['discrepancies']['cloids'][kind]} orders)")
        for sample in o["discrepancies"]["samples"][kind][:3]:
            say(f"    e.g. {sample}")
    n = s["nonce_expiry"]
    say(f"nonce/expiry rejections: events {n['events'] or 0}, log lines {n['log']}")
    say(f"left open after the clean stop: {s['left_open']['count']}")
    say("step  rate/s   secs  offered    sent tracked  opened  placed  FILLED CANCELLED FAILED  "
        "submit->OPEN ms p50/p90/p99/max  REST wt  WS msgs  orders/unit  requests/unit")
    for st in s["steps"]:
        fs = st["final_states"]
        sent = st["strategy_log"].get("offered")
        say(f"{st['step']:4d} {st['rate']:7g} {st['seconds']:6.0f} {st['offered_nominal']:8d} "
            f"{_n(sent):>7} {st['tracked']:7d} {st['opened']:7d} {st['venue_placed']:7d} "
            f"{fs.get('FILLED', 0):7d} {fs.get('CANCELLED', 0):9d} {fs.get('FAILED', 0):6d}  "
            f"{_ms(st['submit_to_open_ms']):>31s} {_n(st['rest_weight']):>8} "
            f"{_n(st['ws_messages']):>8} {_n(st['orders_per_unit']):>12} "
            f"{_n(st['requests_per_unit']):>14}")
    for st in s["steps"]:
        kinds = st.get("usage_by_kind") or {}
        if kinds:
            spent = ", ".join(f"{k} {v:g}" for k, v in list(kinds.items())[:8])
            say(f"  step {st['step']} usage by kind: {spent}")
    u = s["under_load"]
    say(f"under load (steps {u['steps']}): {u['venue_placed']} orders placed for "
        f"{u['usage']} units of rate-limit usage = {u['orders_per_unit']} orders per unit "
        f"(REST weight + WS messages); {u['order_requests']} order and cancel requests = "
        f"{u['requests_per_unit']} per unit (the venue's nRequestsUsed)")
    say("(offered: rate × seconds; sent: what the strategy logged it submitted, a lower bound "
        "when the runtime was killed during the step; tracked: orders with an order_tracked "
        "event; placed: the venue had them)")
    r = s["rss"]
    say(f"RSS MB per step (median): {[p.get('median_mb') for p in r['per_step']]}; peak "
        f"{r['peak_mb']}; {r['processes']} runtime processes")
    rt = s["runtime"]
    say(f"runtime: {rt['starts']} starts (start-up s {rt['start_seconds']}; "
        f"{rt['start_retries_venue_unavailable']} retried after exit 3), stop {rt['stop']}")
    top = sorted(s["failure_reasons"].items(), key=lambda kv: -kv[1])[:6]
    if top:
        say("FAILED reasons: " + "; ".join(f"{v} × {k!r}" for k, v in top))
    for note in s["notes"]:
        say(f"note: {note}")
    if s["passed"]:
        say("PASSED: no discrepancy")
    else:
        say(f"FAILED: {len(s['failures'])} kinds of discrepancy")
        for failure in s["failures"]:
            say(f"  - {failure}")
