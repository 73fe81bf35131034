"""The soak's judge: pure counting and comparison (no sockets, no clocks; unit-tested).

* `SequenceCheck`: every ``data.event_sequence`` from the first to the last must arrive exactly
  once, in order (lost, duplicated, out of order).
* `EventRecord`: what one subscriber saw: the sequence check, the last event per client order
  id, the times an order was tracked and opened (for latency), reasons that show a
  self-inflicted nonce or expiry rejection.
* `acceptable_states` / `judge_orders`: the venue's status for a cloid against the last event
  each subscriber saw for it.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import IO, Any

import attrs

NONCE_EXPIRY = {"nonce": "Invalid nonce", "expiry": "Action already expired"}
"""Self-inflicted rejections: the runtime signed too early or kept a request too long."""
SAMPLES = 20
"""Examples kept per kind of discrepancy (the counts are complete)."""
TERMINAL = frozenset({"FILLED", "CANCELLED", "FAILED"})


def nonce_expiry_kind(text: str) -> str | None:
    for kind, needle in NONCE_EXPIRY.items():
        if needle in text:
            return kind
    return None


@attrs.frozen(kw_only=True)
class SequenceReport:
    first: int | None
    last: int | None
    received: int
    lost: int
    duplicated: int
    out_of_order: int
    lost_ranges: tuple[tuple[int, int], ...]
    """The first few runs of missing numbers (inclusive)."""


class SequenceCheck:
    """Counts arrivals per event number (a byte each) and arrivals below the highest seen."""

    def __init__(self) -> None:
        self._counts = bytearray()
        self.max_seen = 0
        self.min_seen: int | None = None
        self.out_of_order = 0
        self.invalid = 0

    def add(self, seq: int) -> None:
        if seq < 1:
            self.invalid += 1
            return
        if seq >= len(self._counts):
            self._counts.extend(bytes(max(seq + 1 - len(self._counts), 4096)))
        count = self._counts[seq]
        if count == 0 and seq < self.max_seen:
            self.out_of_order += 1
        if count < 255:
            self._counts[seq] = count + 1
        self.max_seen = max(self.max_seen, seq)
        self.min_seen = seq if self.min_seen is None else min(self.min_seen, seq)

    def report(self, first: int | None = None, last: int | None = None) -> SequenceReport:
        """Judged over [first, last] (default: what this subscriber saw itself)."""
        lo = first if first is not None else self.min_seen
        hi = last if last is not None else (self.max_seen or None)
        counts = self._counts
        received = lost = duplicated = 0
        ranges: list[tuple[int, int]] = []
        if lo is not None and hi is not None:
            run_start: int | None = None
            for seq in range(lo, hi + 1):
                c = counts[seq] if seq < len(counts) else 0
                if c == 0:
                    lost += 1
                    if run_start is None:
                        run_start = seq
                    continue
                received += 1
                duplicated += c - 1
                if run_start is not None:
                    if len(ranges) < SAMPLES:
                        ranges.append((run_start, seq - 1))
                    run_start = None
            if run_start is not None and len(ranges) < SAMPLES:
                ranges.append((run_start, hi))
        return SequenceReport(first=lo, last=hi, received=received, lost=lost,
                              duplicated=duplicated, out_of_order=self.out_of_order,
                              lost_ranges=tuple(ranges))


@attrs.frozen(kw_only=True)
class LastEvent:
    seq: int
    state: str
    filled: Decimal
    reason: str
    event_type: str


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


class EventRecord:
    """Everything one subscriber saw, kept compact (a soak sees hundreds of thousands)."""

    def __init__(self, name: str, dump: IO[str] | None = None) -> None:
        self.name = name
        self.dump = dump
        """Where every body received goes, one JSON line each (diagnosis)."""
        self.sequence = SequenceCheck()
        self.last: dict[str, LastEvent] = {}
        self.tracked_ns: dict[str, int] = {}
        self.opened_ns: dict[str, int] = {}
        self.events = 0
        self.malformed = 0
        self.replayed = 0
        self.epochs: set[Any] = set()
        self.event_types: Counter[str] = Counter()
        self.failure_reasons: Counter[str] = Counter()
        self.nonce_expiry: Counter[str] = Counter()
        self.nonce_expiry_samples: list[str] = []

    def observe(self, topic: str, body: Mapping[str, Any], *, replayed: bool = False) -> None:
        if self.dump is not None:
            self.dump.write(json.dumps({"topic": topic, "replayed": replayed, "body": body},
                                       default=str) + "\n")
        data = body.get("data")
        seq = data.get("event_sequence") if isinstance(data, Mapping) else None
        cloid = data.get("client_order_id") if isinstance(data, Mapping) else None
        if not isinstance(seq, int) or not isinstance(cloid, str) or not isinstance(data,
                                                                                    Mapping):
            self.malformed += 1
            return
        self.events += 1
        self.replayed += replayed
        self.epochs.add(body.get("epoch"))
        self.sequence.add(seq)
        kind = str(body.get("event_type", topic))
        self.event_types[kind] += 1
        state = str(data.get("order_state", ""))
        reason = str(data.get("reason") or "")
        stamp = body.get("timestamp")
        if isinstance(stamp, int):
            if kind == "order_tracked" and cloid not in self.tracked_ns:
                self.tracked_ns[cloid] = stamp
            elif kind == "order_created" and cloid not in self.opened_ns:
                self.opened_ns[cloid] = stamp
        if kind == "order_failed":
            self.failure_reasons[reason[:80]] += 1
        bad = nonce_expiry_kind(reason)
        if bad is not None:
            self.nonce_expiry[bad] += 1
            if len(self.nonce_expiry_samples) < SAMPLES:
                self.nonce_expiry_samples.append(f"{cloid} {kind}: {reason}")
        previous = self.last.get(cloid)
        if previous is None or seq > previous.seq:
            self.last[cloid] = LastEvent(seq=seq, state=state,
                                         filled=_decimal(data.get("filled_amount")),
                                         reason=reason, event_type=kind)


# --- the venue's word ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class VenueOrder:
    """The venue's answer for one cloid: its status (``unknownOid`` when it never had it)."""

    status: str
    source: str = "orderStatus"


def is_cancel_status(status: str) -> bool:
    return status in ("canceled", "scheduledCancel", "internalCancel") or (
        status.endswith("Canceled"))


def is_reject_status(status: str) -> bool:
    return status == "rejected" or status.endswith("Rejected")


def acceptable_states(status: str, *, had_fills: bool) -> frozenset[str]:
    """The runtime's state consistent with the venue's status for a cloid (docs/
    order-lifecycle.md, "What the venue's status means"); ``had_fills``: the cloid has fills."""
    if status == "filled":
        return frozenset({"FILLED"})
    if status in ("open", "triggered"):
        return frozenset({"PARTIALLY_FILLED" if had_fills else "OPEN"})
    if is_cancel_status(status):
        return frozenset({"CANCELLED"})
    if is_reject_status(status):
        # A rejected replacement of a partly filled order ends the order CANCELLED: FAILED
        # means the order never rested.
        return frozenset({"CANCELLED"}) if had_fills else frozenset({"FAILED"})
    if status == "unknownOid":
        return frozenset({"FAILED"})  # provably never placed
    return frozenset()


def venue_placed(status: str) -> bool:
    """The venue had the order on its book or filled it (not refused, not unknown)."""
    return status in ("open", "filled", "triggered") or is_cancel_status(status)


@attrs.frozen(kw_only=True)
class Discrepancy:
    kind: str
    """``state_mismatch``, ``false_failed``, ``no_event``, ``left_open``, ``unjudged``,
    ``unmapped_status``, ``fill_mismatch``."""
    cloid: str
    subscriber: str
    detail: str


def judge_orders(records: Sequence[EventRecord], venue: Mapping[str, VenueOrder],
                 open_after_stop: Collection[str],
                 venue_fills: Mapping[str, Decimal] | None = None) -> list[Discrepancy]:
    """Every cloid any subscriber saw or the venue knows, against the venue's status. Whether
    the cloid has fills comes from the venue's fills when given, else from the event."""
    out: list[Discrepancy] = []
    cloids: set[str] = set(venue)
    for record in records:
        cloids.update(record.last)
    for cloid in sorted(cloids):
        answer = venue.get(cloid)
        if cloid in open_after_stop:
            out.append(Discrepancy(kind="left_open", cloid=cloid, subscriber="*",
                                   detail="open at the venue after the clean stop"))
        if answer is None:
            out.append(Discrepancy(kind="unjudged", cloid=cloid, subscriber="*",
                                   detail=("no usable answer: not asked within the budget, or "
                                           "forgotten by the venue since it was listed")))
            continue
        for record in records:
            last = record.last.get(cloid)
            if last is None:
                if answer.status != "unknownOid":
                    out.append(Discrepancy(
                        kind="no_event", cloid=cloid, subscriber=record.name,
                        detail=f"venue says {answer.status}; no event for it arrived"))
                continue
            fills = venue_fills.get(cloid) if venue_fills is not None else last.filled
            allowed = acceptable_states(answer.status, had_fills=bool(fills and fills > 0))
            if not allowed:
                out.append(Discrepancy(kind="unmapped_status", cloid=cloid,
                                       subscriber=record.name,
                                       detail=f"venue status {answer.status!r}"))
            elif last.state not in allowed:
                kind = ("false_failed" if last.state == "FAILED" and answer.status != "unknownOid"
                        and not is_reject_status(answer.status) else "state_mismatch")
                reason = f" {last.reason!r}" if last.reason else ""
                out.append(Discrepancy(
                    kind=kind, cloid=cloid, subscriber=record.name,
                    detail=(f"last event {last.event_type} {last.state}{reason} (seq "
                            f"{last.seq}, filled {last.filled}); venue says {answer.status}")))
    return out


def judge_fills(records: Sequence[EventRecord], venue_fills: Mapping[str, Decimal],
                skip: Collection[str] = ()) -> list[Discrepancy]:
    """The filled size of each order in the last event each subscriber saw against the sum of
    the venue's fills for its cloid (``skip``: orders whose fills the venue may have
    forgotten). Orders a subscriber never heard of are `judge_orders`' business."""
    out: list[Discrepancy] = []
    for record in records:
        for cloid, last in record.last.items():
            if cloid in skip:
                continue
            venue = venue_fills.get(cloid, Decimal(0))
            if last.filled != venue:
                out.append(Discrepancy(
                    kind="fill_mismatch", cloid=cloid, subscriber=record.name,
                    detail=(f"last event {last.event_type} {last.state} filled {last.filled}; "
                            f"the venue's fills add up to {venue}")))
    return out


def summarize(discrepancies: Iterable[Discrepancy]) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    cloids: dict[str, set[str]] = {}
    samples: dict[str, list[str]] = {}
    for d in discrepancies:
        counts[d.kind] += 1
        cloids.setdefault(d.kind, set()).add(d.cloid)
        kept = samples.setdefault(d.kind, [])
        if len(kept) < SAMPLES:
            kept.append(f"{d.cloid} [{d.subscriber}] {d.detail}")
    return {"counts": dict(counts), "cloids": {k: len(v) for k, v in cloids.items()},
            "samples": samples}


# --- figures ------------------------------------------------------------------------------------


def percentiles(values: Sequence[float], points: Sequence[float] = (50, 90, 99)) -> dict[str,
                                                                                         float]:
    """Nearest-rank percentiles, plus max and count; empty when there are no values."""
    if not values:
        return {}
    ordered = sorted(values)
    n = len(ordered)
    out = {f"p{p:g}": ordered[min(n - 1, max(0, math.ceil(n * p / 100) - 1))] for p in points}
    out["max"] = ordered[-1]
    out["n"] = float(len(ordered))
    return out


def step_bounds(start_ns: int, schedule: Sequence[tuple[float, float]]) -> list[tuple[int, int]]:
    bounds: list[tuple[int, int]] = []
    t = start_ns
    for _rate, seconds in schedule:
        end = t + int(seconds * 1e9)
        bounds.append((t, end))
        t = end
    return bounds


def step_of(ts_ns: int, bounds: Sequence[tuple[int, int]]) -> int | None:
    for i, (lo, hi) in enumerate(bounds):
        if lo <= ts_ns < hi:
            return i
    return None


def interpolate(samples: Sequence[tuple[int, float]], at_ns: int) -> float | None:
    """A counter's value at ``at_ns`` from (time, value) samples in time order."""
    if not samples or at_ns < samples[0][0] or at_ns > samples[-1][0]:
        return None
    for (t0, v0), (t1, v1) in itertools.pairwise(samples):
        if t0 <= at_ns <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (at_ns - t0) / (t1 - t0)
    return samples[-1][1]


RSS_LIMIT_MB = 512.0
"""Above this the runtime's memory is not bounded in any useful sense for a 2-core machine."""
RSS_SETTLE_MB = 25.0
"""How much the last (low-load) step may sit above the highest loaded step: allocator noise."""


def rss_findings(samples: Sequence[tuple[int, int, int]], bounds: Sequence[tuple[int, int]]
                 ) -> dict[str, Any]:
    """(time ns, pid, RSS kB) samples → per-step median/max MB, about 200 points of the series
    (unix s, pid, MB), and a growth flag. Memory is bounded when it stops growing once the load
    drops: the last step (back at low load) is not above the highest of the steps before it
    (+ ``RSS_SETTLE_MB``) and the peak stays under ``RSS_LIMIT_MB``. (Comparing with the cold
    first step would flag the bounded caches a run fills — retained finished orders, fill keys —
    and CPython rarely hands freed memory back to the system.)"""
    per_step: list[dict[str, float]] = []
    for lo, hi in bounds:
        values = sorted(kb / 1024 for t, _pid, kb in samples if lo <= t < hi)
        per_step.append({"median_mb": round(values[len(values) // 2], 1),
                         "max_mb": round(values[-1], 1)} if values else {})
    peak = max((kb / 1024 for _t, _p, kb in samples), default=0.0)
    first = per_step[0].get("median_mb") if per_step else None
    last = per_step[-1].get("median_mb") if per_step else None
    before = [step["median_mb"] for step in per_step[:-1] if step]
    still_growing = last is not None and bool(before) and last > max(before) + RSS_SETTLE_MB
    growth = still_growing or peak > RSS_LIMIT_MB
    every = max(1, len(samples) // 200)
    series = [(round(t / 1e9, 1), pid, round(kb / 1024, 1)) for t, pid, kb in samples[::every]]
    return {"per_step": per_step, "series": series, "peak_mb": round(peak, 1),
            "first_step_mb": first,
            "last_step_mb": last, "growth_not_returned": growth,
            "processes": len({pid for _t, pid, _kb in samples})}
