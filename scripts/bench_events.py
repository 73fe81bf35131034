"""Benchmark: order events through the publisher's live PUB path, and replay from the event log.

Run: scripts/bench events [--events N] [--runs R] [--skip-replay]
     (or .venv/bin/python scripts/bench_events.py ...; with PYTHONPATH pointing at an older
     checkout it measures that one: variants it lacks are skipped)

Live path: N pre-built order events (OrderAccepted, ~350-byte JSON bodies) go out on a PUB
socket on 127.0.0.1; a subscriber in a spawned process (its own core) counts them. The rate is
N / (receive time of the last event − time of the first send), median of R runs, for:

  1. reference: the publisher core's rendering + ``send_multipart`` on a bare PUB socket, one
     thread, no actor;
  2. the Publisher actor (told every event, as the tracker does), replay off;
  3. the Publisher actor with replay on: the event log directory set, the replay ROUTER thread
     running, heartbeats every second.

Writer cost: ``EventLog.append`` of each event's codec bytes (what the tracker adds per event),
against ``codec.encode`` alone.

Replay: N events in an event log; a DEALER asks "events since C" page by page (limit 1,000 and
10,000) until it has all of them: events/s served, against the log reader alone and the reader
plus ``codec.decode`` (the server's share before rendering) as references.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import attrs
import orjson
import zmq

from actors.publisher import Publisher
from actors.publishing import PublisherConfig, PublisherCore
from messages import codec
from messages.enums import OrderSide, OrderState, OrderType
from messages.ids import ClientOrderId, ExchangeOrderId
from messages.orders import OrderAccepted, OrderEvent, OrderSubmitted
from messages.publishing import GetEndpoint, GetPublisherStats
from supervision import ChildSpec, SupervisionTree, SupervisorSpec

HAS_REPLAY = "event_log_dir" in {f.name for f in attrs.fields(PublisherConfig)}


def order(seq: int, probe: bool = False) -> OrderEvent:
    kind = OrderSubmitted if probe else OrderAccepted
    return kind(client_order_id=ClientOrderId.from_int(seq + 1),
                exchange_order_id=ExchangeOrderId(10_000 + seq), trading_pair="BTC-USD",
                side=OrderSide.BUY, order_type=OrderType.LIMIT, price=Decimal("97000.5"),
                amount=Decimal("0.01"), filled_amount=Decimal(0),
                order_state=OrderState.SUBMITTED if probe else OrderState.OPEN,
                strategy_id="mm", sequence=seq, ts_event=1_700_000_000_000_000_000 + seq,
                ts_init=1_700_000_000_000_000_000 + seq)


def count_events(endpoint: str, n: int, conn: Connection) -> None:
    """The subscriber process: wait for a probe (the subscription is live), then count."""
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"orders.hyperliquid.")
    sub.connect(endpoint)
    while sub.recv_multipart()[0] != b"orders.hyperliquid.update":
        pass
    conn.send("ready")
    count = 0
    while count < n:
        if sub.recv_multipart()[0] == b"orders.hyperliquid.created":
            count += 1
    conn.send(time.monotonic())
    sub.close(linger=0)
    context.term()


def measure(endpoint: str, n: int, send_probe: Callable[[], None],
            send_all: Callable[[], None]) -> float:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=count_events, args=(endpoint, n, child))
    process.start()
    while not parent.poll(0.02):
        send_probe()
    assert parent.recv() == "ready"
    start = time.monotonic()
    send_all()
    end: float = parent.recv()
    process.join(10)
    return n / (end - start)


def reference_rate(events: list[OrderEvent]) -> float:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.bind("tcp://127.0.0.1:0")
    core = PublisherCore(PublisherConfig(), epoch=1)
    probe = order(0, probe=True)

    def send_probe() -> None:
        pub.send_multipart(core.encode(probe) or ())

    def send_all() -> None:
        encode, send = core.encode, pub.send_multipart
        for event in events:
            frames = encode(event)
            assert frames is not None
            send(frames)

    try:
        return measure(pub.getsockopt_string(zmq.LAST_ENDPOINT), len(events),
                       send_probe, send_all)
    finally:
        pub.close(linger=0)
        context.term()


def actor_rate(events: list[OrderEvent], log_dir: Path | None) -> float:
    options: dict[str, Any] = {"address": "tcp://127.0.0.1:0"}
    if log_dir is not None:
        options.update(event_log_dir=log_dir, replay_address="tcp://127.0.0.1:0")
    config = PublisherConfig(**options)
    tree = SupervisionTree(SupervisorSpec(id="root", children=[
        ChildSpec(id="publisher", mailbox_limit=None,
                  factory=lambda ctx: Publisher(ctx, config=config)),
    ])).start()
    try:
        publisher = tree.handle("publisher")
        probe = order(0, probe=True)

        def send_all() -> None:
            tell = publisher.tell
            for event in events:
                tell(event)

        rate = measure(publisher.ask(GetEndpoint(), timeout=5), len(events),
                       lambda: publisher.tell(probe), send_all)
        publisher.ask(GetPublisherStats(), timeout=30)
        return rate
    finally:
        tree.stop()


def live(n: int, runs: int) -> None:
    events = [order(i) for i in range(1, n + 1)]
    results: dict[str, list[float]] = {"reference": [], "replay off": [], "replay on": []}
    for _ in range(runs):
        results["reference"].append(reference_rate(events))
        results["replay off"].append(actor_rate(events, None))
        if HAS_REPLAY:
            with tempfile.TemporaryDirectory() as directory:
                results["replay on"].append(actor_rate(events, Path(directory)))
    ref = statistics.median(results["reference"])
    print(f"live PUB path, {n:,} order events, subscriber in its own process, median of {runs}")
    for name, rates in results.items():
        if not rates:
            print(f"  {name:<28} (not in this checkout)")
            continue
        rate = statistics.median(rates)
        print(f"  {name:<28} {rate:>10,.0f} events/s   x{rate / ref:.2f} of reference   "
              f"[{min(rates):,.0f}-{max(rates):,.0f}]")


def writer(n: int) -> None:
    from supervision.eventlog import EventLog

    events = [order(i) for i in range(1, n + 1)]
    start = time.perf_counter()
    payloads = [codec.encode(e) for e in events]
    encode_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as directory:
        log = EventLog.open(Path(directory))
        start = time.perf_counter()
        for event, payload in zip(events, payloads, strict=True):
            log.append(event.sequence, payload)
        append_s = time.perf_counter() - start
        log.close()
    print(f"writer, {n:,} events: codec.encode {encode_s / n * 1e6:.2f} us/event, "
          f"EventLog.append {append_s / n * 1e6:.2f} us/event "
          f"(x{append_s / encode_s:.2f} of encode)")


def replay(n: int, runs: int) -> None:
    from actors.publishing.protocol import encode_request
    from supervision.eventlog import EventLog, EventLogReader

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory)
        log = EventLog.open(path)
        log.append_many((i, codec.encode(order(i))) for i in range(1, n + 1))
        log.close()

        def read_only(decode: bool) -> float:
            reader = EventLogReader(path)
            start, after = time.perf_counter(), 0
            while after < n:
                records, after = reader.read_range(after, 10_000)
                if decode:
                    for _, payload in records:
                        codec.decode(payload)
            return n / (time.perf_counter() - start)

        config = PublisherConfig(address="tcp://127.0.0.1:0", event_log_dir=path,
                                 replay_address="tcp://127.0.0.1:0")
        tree = SupervisionTree(SupervisorSpec(id="root", children=[
            ChildSpec(id="publisher", factory=lambda ctx: Publisher(ctx, config=config)),
        ])).start()
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        try:
            endpoint = tree.handle("publisher").ask(GetPublisherStats(), timeout=5)
            dealer = context.socket(zmq.DEALER)
            dealer.connect(endpoint.replay_endpoint)

            def served(limit: int) -> float:
                start, after, got = time.perf_counter(), 0, 0
                while after < n:
                    dealer.send_multipart([b"", encode_request(1, after, limit=limit)])
                    frames = dealer.recv_multipart()
                    header = orjson.loads(frames[1])
                    after = header["through"]
                    got += header["count"]
                assert got == n
                return n / (time.perf_counter() - start)

            rows = {
                "reader only (reference)": [read_only(False) for _ in range(runs)],
                "reader + codec.decode": [read_only(True) for _ in range(runs)],
                "served, limit 1,000": [served(1_000) for _ in range(runs)],
                "served, limit 10,000": [served(10_000) for _ in range(runs)],
            }
            dealer.close(linger=0)
        finally:
            tree.stop()
            context.term()
    ref = statistics.median(rows["reader only (reference)"])
    print(f"replay of {n:,} logged events to one DEALER client, median of {runs}")
    for name, rates in rows.items():
        rate = statistics.median(rates)
        print(f"  {name:<28} {rate:>10,.0f} events/s   x{rate / ref:.3f} of reference")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-replay", action="store_true")
    args = parser.parse_args()
    live(args.events, args.runs)
    if HAS_REPLAY and not args.skip_replay:
        writer(args.events)
        replay(args.events, args.runs)


if __name__ == "__main__":
    main()
