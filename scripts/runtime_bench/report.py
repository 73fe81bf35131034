"""The printed report: distributions of the stamps, rates, and the run's health."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable
from typing import Any

from .common import Options, dist_us, pct
from .probes import Probes
from .strategy import BenchState, LatencySample

Out = Callable[[str], object]
WIDTH = 100


class Captured(logging.Handler):
    """Keeps WARNING+ records of the run, to report them (they also go to stderr)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def latency_report(res: dict[str, Any], phase: str) -> dict[str, Any] | None:
    samples: dict[str, LatencySample] | None = res.get(f"latency_{phase}")
    if samples is None:
        return None
    probes: Probes = res["probes"]
    sent = probes.sent_at()
    st = probes.stamps
    total: list[int] = []
    to_send_call: list[int] = []
    answer: list[int] = []
    names = ("frame→strategy", "strategy→gate", "gate→tracker", "tracker→signer",
             "signer→signed", "signed→exec_signed", "exec_signed→send", "send call")
    stages: dict[str, list[int]] = {name: [] for name in names}
    signing: list[int] = []
    missing_frame = missing_sent = 0
    for cloid, sample in samples.items():
        sends = sent.get(cloid)
        if sample.frame_ns is None:
            missing_frame += 1
            continue
        if sends is None:
            missing_sent += 1
            continue
        entered, returned = sends
        total.append(returned - sample.frame_ns)
        to_send_call.append(entered - sample.frame_ns)
        if sample.accepted_ns is not None:
            answer.append(sample.accepted_ns - returned)
        if phase != "stages":
            continue
        times = [sample.frame_ns, sample.strategy_ns, st["exec"].get(cloid),
                 st["tracker"].get(cloid), st["signer"].get(cloid), st["signed"].get(cloid),
                 st["exec_signed"].get(cloid), entered, returned]
        for name, a, b in zip(names, times, times[1:], strict=False):
            if a is not None and b is not None:
                stages[name].append(b - a)
        if cloid in st["sign_start"]:
            signing.append(st["signed"][cloid] - st["sign_start"][cloid])
    return {"total": total, "to_send_call": to_send_call, "answer": answer, "stages": stages,
            "signing": signing, "missing_frame": missing_frame, "missing_sent": missing_sent,
            "n": len(samples)}


def report(opts: Options, rt: dict[str, Any], sdk: dict[str, Any] | None,
           streams: dict[str, float] | None, captured: Captured, sim_problems: list[str],
           elapsed: float) -> None:
    out = sys.stdout.write
    state: BenchState = rt["state"]
    probes: Probes = rt["probes"]
    out("=" * WIDTH + "\n")
    _tick_to_trade(out, rt, sdk, state, probes)
    out("-" * WIDTH + "\n")
    _throughput(out, opts, rt, sdk, state)
    out("-" * WIDTH + "\n")
    if streams is not None:
        _frames(out, opts, streams)
        out("-" * WIDTH + "\n")
    _health(out, rt, sdk, state, probes, captured, sim_problems)
    out(f"total {elapsed:.0f} s; median stage costs exclude the ~0.3-1 µs per stamp\n")
    sys.stdout.flush()


def _tick_to_trade(out: Out, rt: dict[str, Any], sdk: dict[str, Any] | None,
                   state: BenchState, probes: Probes) -> None:
    out("1. tick-to-trade: l2Book frame bytes received (reader thread) → signed order bytes "
        "written to the venue connection\n")
    phases = {
        "idle": "A. default: the CPU idles between book frames (~12 ms)",
        "warm": "B. the same with the runtime's keep-warm helper (--keep-warm: the CPU kept "
                "busy at idle priority, it never idles)",
        "stages": "S. as A, half as long, with stage stamps (wrappers of ~0.3-1 µs each hot, "
                  "more on a cold CPU) to split the path",
    }
    for phase, title in phases.items():
        lat = latency_report(rt, phase)
        if lat is not None:
            out(f"  {title}\n")
            _latency_phase(out, lat, stages=phase == "stages")
    out(f"   reference: the same WS post send in this process, runtime not started: "
        f"{dist_us(rt['post_reference'])}\n")
    out("     (the bytes leave between 'called' and 'returned'; CPython polls then sends, "
        "releasing the GIL for each, and the sender must win the GIL back from the runtime's "
        "other threads before it can send and return)\n")
    ref = rt.get("path_reference")
    if ref:
        out("   reference: the path's own work in one thread, no actors (normalise + risk, track "
            "with the journal write, sign), before the runtime starts:\n")
        out(f"     {'back to back (hot caches)':<58} {dist_us(ref['path_hot'])}\n")
        out(f"     {'after 25 ms idle each time (as the orders above)':<58} "
            f"{dist_us(ref['path_cold'])}\n")
        out(f"     {'a 300-step integer loop, hot':<58} {dist_us(ref['loop_hot'])}\n")
        out(f"     {'the same loop after 25 ms idle':<58} {dist_us(ref['loop_cold'])}\n")
        out("     (the loop shows what idling costs the CPU itself — a slower restart; the path "
            "adds its code and data coming back into the cache; in the runtime, other actors' "
            "work between two orders evicts them too)\n")
    if sdk is not None and sdk["samples"]:
        s = sdk["samples"]
        out(f"   SDK frame → request written   {dist_us([c - a for a, _, c, _ in s if c])}\n")
        out(f"   SDK callback → req. written   {dist_us([c - b for _, b, c, _ in s if c])}\n")
        out(f"     {'SDK: request written → order() returned':<58} "
            f"{dist_us([d - c for _, _, c, d in sdk['samples'] if c])}\n")
    out(f"   no answer in 2 s {state.stuck}, requests queued by the rate budget "
        f"{rt['latency_queued']}\n")
    out(f"   batching: orders {rt['latency_batching']}; cancels {rt['latency_cancel_batching']}\n")


def _latency_phase(out: Out, lat: dict[str, Any], *, stages: bool) -> None:
    total = lat["total"]
    p50 = pct(total, 50) / 1e3 if total else math.inf
    p99 = pct(total, 99) / 1e3 if total else math.inf
    out(f"   perpetuum, send returned      {dist_us(total)}\n")
    out(f"   perpetuum, send called        {dist_us(lat['to_send_call'])}\n")
    out(f"   target p50 ≤ 400 µs, p99 ≤ 2000 µs (on 'send returned'): p50 {verdict(p50 <= 400)}, "
        f"p99 {verdict(p99 <= 2000)}; stage stamps {'on' if stages else 'off'}\n")
    if stages:
        out("   stages (perpetuum; each row its own distribution):\n")
        names = {
            "frame→strategy": "reader → market stream (parse, fan-out) → strategy.on_book",
            "strategy→gate": "strategy builds SubmitOrder → risk gate",
            "gate→tracker": "risk gate normalise/risk → tracker",
            "tracker→signer": "tracker journal + SignOrders → signer",
            "signer→signed": "signer hop + build + sign",
            "signed→exec_signed": "SignedAction → execution",
            "exec_signed→send": "execution: budget, in-flight entry → WS send called",
            "send call": "WS send: frame, mask, syscall, GIL re-acquired",
        }
        for key, label in names.items():
            out(f"     {label:<58} {dist_us(lat['stages'][key])}\n")
        out(f"     {'  of which signing one action (keccak, ECDSA, JSON)':<58} "
            f"{dist_us(lat['signing'])}\n")
    out(f"   after: bytes written → strategy hears OrderAccepted (venue round trip, "
        f"answer, tracker):\n     {'':<58} {dist_us(lat['answer'])}\n")
    out(f"   latency orders {lat['n']}, unmatched frame stamps {lat['missing_frame']}, "
        f"not sent over WS {lat['missing_sent']}\n")


def _throughput(out: Out, opts: Options, rt: dict[str, Any], sdk: dict[str, Any] | None,
                state: BenchState) -> None:
    out("2. orders through the whole path (strategy → execution → tracker → signer → WS → venue "
        "→ answer → tracker → strategy)\n")
    n_acc = len(state.burst_acc)
    if n_acc and state.burst_sub:
        first = min(state.burst_sub.values())
        span = (max(state.burst_acc.values()) - first) / 1e9
        out(f"   burst of {state.burst_n}: {n_acc} OPEN in {span * 1e3:.0f} ms = "
            f"{n_acc / span:,.0f} accepted orders/s (failed {state.burst_failed})\n")
        if state.burst_cancelled:
            cspan = (max(state.burst_cancelled) - state.burst_cancel_t0) / 1e9
            out(f"   then {len(state.burst_cancelled)} cancelled in {cspan * 1e3:.0f} ms = "
                f"{len(state.burst_cancelled) / cspan:,.0f} cancels/s\n")
        out(f"   batching: orders {rt['burst_batching']}; cancels {rt['burst_cancel_batching']}\n")
    warm = state.sus_t0 + 1_000_000_000
    steady = [t for t in state.sus_acc if warm <= t <= state.sus_end]
    secs = (state.sus_end - warm) / 1e9
    if secs > 0:
        out(f"   sustained {opts.sustained_s:g} s, {opts.window} in flight, each accepted "
            f"order cancelled and replaced: {len(steady) / secs:,.0f} accepted orders/s "
            f"(+ as many cancels), {len(state.sus_acc)} accepted, "
            f"{len(state.sus_cancelled)} cancelled\n")
        out(f"     submit → OrderAccepted under that load: {dist_us(state.sus_ack)}\n")
        out(f"   batching: orders {rt['sustained_batching']}; "
            f"cancels {rt['sustained_cancel_batching']}\n")
    out("   (sustained: execution's client-side venue budgets lifted; with them a real account "
        "gets ≤ 400 orders/s, ≤ 200/s if each is also cancelled)\n")
    if sdk is not None:
        out(f"   SDK, one thread, time inside its calls: Exchange.order "
            f"{sdk['seq_rate']:,.0f} orders/s; bulk_orders of 40 {sdk['bulk_rate']:,.0f} "
            f"orders/s (no tracking, journal, events or cancels on that path)\n")


def _frames(out: Out, opts: Options, streams: dict[str, float]) -> None:
    out(f"3. market frames/s through the market stream to a subscriber "
        f"({opts.stream_frames:,} l2Book frames, 8 coins)\n")
    out(f"   inline (default): every frame parsed and delivered  {streams['inline']:>9,.0f}/s"
        f"   target ≥ 20,000/s: {verdict(streams['inline'] >= 20_000)}\n")
    out(f"   through the mailbox, conflation off                 {streams['off']:>9,.0f}/s\n")
    out(f"   through the mailbox, conflated, LATEST_WINS          {streams['on']:>9,.0f}/s"
        f"   ({streams['on_parsed']:,.0f} parsed, the rest superseded)\n")
    out(f"   reference: one thread, recv + parse, no actor       {streams['parse']:>9,.0f}/s\n")


def _health(out: Out, rt: dict[str, Any], sdk: dict[str, Any] | None, state: BenchState,
            probes: Probes, captured: Captured, sim_problems: list[str]) -> None:
    out("health\n")
    stats = rt["exec_stats"]
    out(f"   execution: {stats}; HTTP fallback sends {len(probes.http_sent)}\n")
    s = rt["stream_stats"]
    out(f"   market stream: {s.frames} frames parsed, {s.conflated} conflated, "
        f"{s.books} books, {s.fanout_failures} fan-out failures, {s.connections} connections\n")
    out(f"   supervision: {rt['counters'] or 'no restarts, failures or dead letters'}\n")
    out(f"   open orders before stop {rt['open_before_stop']}, left after cancel-on-exit: "
        f"{rt['left_open']} by the tracker, {rt['venue_open_after_stop']} at the venue; "
        f"SDK left open {sdk['left_open'] if sdk else 'n/a'}\n")
    failures = state.failures
    out(f"   order failures {len(failures)}{': ' + failures[0] if failures else ''}; "
        f"status unknown {state.unknown}\n")
    if sdk is not None:
        out(f"   SDK errors {len(sdk['errors'])}"
            f"{': ' + sdk['errors'][0] if sdk['errors'] else ''}; SDK cancel actions refused "
            f"{len(sdk['cancel_errors'])}"
            f"{': ' + sdk['cancel_errors'][0] if sdk['cancel_errors'] else ''}\n")
    by_logger: dict[str, int] = {}
    for record in captured.records:
        key = f"{record.levelname} {record.name}"
        by_logger[key] = by_logger.get(key, 0) + 1
    out(f"   warnings/errors logged here: {by_logger or 'none'}\n")
    for record in captured.records[:5]:
        out(f"     {record.levelname} {record.name}: {record.getMessage()[:160]}\n")
    out(f"   simulator warnings/errors: {len(sim_problems)}\n")
    for line in sim_problems[:3]:
        out(f"     {line[:160]}\n")
