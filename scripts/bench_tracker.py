"""Benchmark: order-lifecycle transitions per second with journaling, and recovery time.

Run: scripts/bench tracker [--orders N]
Each order goes PENDING_CREATE → SUBMITTED → OPEN → PARTIALLY_FILLED → FILLED: five journaled
transitions, each emitting one event. Printed side by side: no journal (reference), the real
journal with each durability policy. Then recovery of 10,000 open orders: from a snapshot, and
by replaying the whole journal.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.order_tracking.config import TrackerConfig
from actors.order_tracking.core import OrderTrackerCore
from messages import (
    ClientOrderId,
    EvidenceSource,
    ExchangeOrderId,
    FillReported,
    LiquiditySide,
    OrderSide,
    OrderType,
    RequestKind,
    SubmitAnswered,
    SubmitOrder,
    SubmitOutcome,
    TradeId,
)
from messages.tracking import RequestSent
from supervision.journal import Durability, Journal

T0 = 1_800_000_000_000_000_000
OPEN_ORDERS = TrackerConfig(max_open_orders=1_000_000)
"""Recovery holds 10,000 open orders, past the venue's default cap the tracker enforces."""


def _inputs(n: int, filled: bool = True) -> list[object]:
    out: list[object] = []
    for i in range(n):
        cloid = ClientOrderId.derive("bench", i)
        oid = ExchangeOrderId(10_000 + i)
        out.append(SubmitOrder(client_order_id=cloid, trading_pair="BTC-USD", side=OrderSide.BUY,
                               order_type=OrderType.LIMIT, amount=Decimal("1"),
                               price=Decimal("65000"), strategy_id="bench"))
        out.append(RequestSent(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), nonce=i,
                               expires_after_ms=None, ts_init=T0))
        out.append(SubmitAnswered(client_order_id=cloid, outcome=SubmitOutcome.RESTING,
                                  exchange_order_id=oid, filled_amount=None, average_price=None,
                                  error="", ts_init=T0))
        if filled:
            for k, amount in enumerate(("0.4", "0.6")):
                out.append(FillReported(
                    client_order_id=cloid, exchange_order_id=oid, trade_id=TradeId(i * 2 + k),
                    trading_pair="BTC-USD", side=OrderSide.BUY, price=Decimal("65000"),
                    amount=Decimal(amount), fee=Decimal("0.01"), fee_asset="USDC",
                    liquidity=LiquiditySide.MAKER, closed_pnl=Decimal(0),
                    start_position=Decimal(0), direction="Open Long", tx_hash="0x0",
                    source=EvidenceSource.STREAM, ts_event=T0, ts_init=T0))
    return out


def _run(inputs: list[object], journal: Journal | None) -> tuple[float, int]:
    core = OrderTrackerCore(TrackerConfig(retention_s=10**9), journal)
    now = T0
    events = 0
    gc.collect()
    started = time.perf_counter()
    for message in inputs:
        now += 1000
        events += len(core.handle(message, now).events)
    return time.perf_counter() - started, events


def transitions(n: int) -> None:
    inputs = _inputs(n)
    print(f"lifecycle transitions, {n} orders x 5 transitions (each emits one event)")
    print(f"{'journal':<44} {'transitions/s':>14} {'µs/transition':>14}")
    policies: list[tuple[str, Durability | None]] = [
        ("none (reference: in-memory only)", None),
        ("page cache (os.write per record)", Durability.PAGE_CACHE),
        ("group commit (fdatasync every 64 / 2 ms)", Durability.group_commit(64, 2.0)),
    ]
    for name, durability in policies:
        with tempfile.TemporaryDirectory() as tmp:
            journal = None if durability is None else Journal.open(tmp, durability=durability)
            try:
                elapsed, events = _run(inputs, journal)
            finally:
                if journal is not None:
                    journal.close()
        print(f"{name:<44} {events / elapsed:>14,.0f} {elapsed / events * 1e6:>14.1f}")
    small = inputs[: 5 * max(1, n // 20)]
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal.open(tmp, durability=Durability.EVERY_RECORD)
        try:
            elapsed, events = _run(small, journal)
        finally:
            journal.close()
    print(f"{'every record (fdatasync per record)':<44} {events / elapsed:>14,.0f} "
          f"{elapsed / events * 1e6:>14.1f}")
    print("target: >= 30,000 transitions/s with journaling")


def recovery(n: int) -> None:
    print(f"\nrecovery of {n} open orders (3 journaled inputs each)")
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal.open(tmp)
        core = OrderTrackerCore(OPEN_ORDERS, journal)
        now = T0
        for message in _inputs(n, filled=False):
            now += 1000
            core.handle(message, now)
        records = journal.last_seq
        journal.close()

        for label, snapshot in (("journal replay only", False), ("snapshot", True)):
            if snapshot:
                journal = Journal.open(tmp)
                recovered = OrderTrackerCore(OPEN_ORDERS, journal)
                rec = journal.recover()
                recovered.restore(rec.snapshot, (p for _, p in rec.records))
                journal.write_snapshot(recovered.snapshot(), journal.last_seq)
                journal.compact()
                journal.close()
            samples = []
            for _ in range(5):
                gc.collect()
                started = time.perf_counter()
                journal = Journal.open(tmp)
                rec = journal.recover()
                fresh = OrderTrackerCore(OPEN_ORDERS, journal)
                fresh.restore(rec.snapshot, (p for _, p in rec.records))
                samples.append(time.perf_counter() - started)
                journal.close()
                assert len(fresh.open_orders()) == n
            samples.sort()
            print(f"  {label:<30} {records if not snapshot else 0:>7} records  "
                  f"median {samples[2] * 1e3:7.1f} ms  (min {samples[0] * 1e3:.1f}, "
                  f"max {samples[-1] * 1e3:.1f})")
        # The worst case after a crash: the last snapshot plus up to `snapshot_every` records.
        journal = Journal.open(tmp)
        rec = journal.recover()
        live = OrderTrackerCore(OPEN_ORDERS, journal)
        live.restore(rec.snapshot, (p for _, p in rec.records))
        tail = 0
        for message in _inputs(n + 1000, filled=False)[3 * n:]:
            now += 1000
            live.handle(message, now)
            tail += 1
        journal.close()
        samples = []
        for _ in range(5):
            gc.collect()
            started = time.perf_counter()
            journal = Journal.open(tmp)
            rec = journal.recover()
            fresh = OrderTrackerCore(OPEN_ORDERS, journal)
            fresh.restore(rec.snapshot, (p for _, p in rec.records))
            samples.append(time.perf_counter() - started)
            journal.close()
        samples.sort()
        print(f"  {'snapshot + journal tail':<30} {tail:>7} records  "
              f"median {samples[2] * 1e3:7.1f} ms  (min {samples[0] * 1e3:.1f}, "
              f"max {samples[-1] * 1e3:.1f})")
    print("target: <= 100 ms (the tracker snapshots every 3,000 journaled inputs by default)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000)
    args = parser.parse_args()
    transitions(args.orders)
    recovery(10_000)


if __name__ == "__main__":
    main()
