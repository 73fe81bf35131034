"""scripts/tail prints the publisher's events as they arrive; with replay (the default) it prints
every order event once, in order, through a late start and publisher crashes, never reports a
gap it could fill, and reports one it cannot; --no-replay is the old live-only behaviour."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from actors.publisher import Publisher
from actors.publishing import PublisherConfig
from messages import codec
from messages.enums import OrderSide, OrderState, OrderType
from messages.ids import ClientOrderId, ExchangeOrderId
from messages.orders import OrderAccepted, OrderEvent, OrderSubmitted
from messages.publishing import GetEndpoint
from supervision import ChildSpec, Handle, SupervisionTree, SupervisorSpec
from supervision.eventlog import EventLog, list_segments
from tests.helpers import REPO, eventually
from tests.runtime_support.runtime import free_port


def event(kind: type[OrderSubmitted] | type[OrderAccepted], n: int) -> OrderEvent:
    state = OrderState.SUBMITTED if kind is OrderSubmitted else OrderState.OPEN
    return kind(
        client_order_id=ClientOrderId.from_int(n + 1), exchange_order_id=ExchangeOrderId(n),
        trading_pair="BTC-USD", side=OrderSide.BUY, order_type=OrderType.LIMIT,
        price=Decimal("97000"), amount=Decimal("0.01"), filled_amount=Decimal(0),
        order_state=state, strategy_id="mm", sequence=n, ts_event=n, ts_init=n,
    )


class Lines:
    def __init__(self, stream: object) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.queue.put(line.rstrip("\n"))

    def get(self, timeout: float = 5.0) -> str:
        return self.queue.get(timeout=timeout)

    def drain(self) -> list[str]:
        out = []
        while not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out


def free_address() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


def tail(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(REPO / "scripts" / "tail"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def publisher() -> Iterator[Handle]:
    tree = SupervisionTree(SupervisorSpec(id="root", children=[
        ChildSpec(id="publisher", factory=lambda ctx: Publisher(
            ctx, config=PublisherConfig(address="tcp://127.0.0.1:0"))),
    ])).start()
    yield tree.handle("publisher")
    tree.stop()


def test_tail_prints_events_in_order(publisher: Handle) -> None:
    """A publisher without replay: tail starts "now" and prints live events in order."""
    endpoint = publisher.ask(GetEndpoint(), timeout=5)
    proc = tail("--address", endpoint, "--replay-address", free_address(),
                "--topic", "orders.hyperliquid.created", "--topic", "orders.hyperliquid.update")
    try:
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        assert err.get(10).startswith("# listening on")
        n = 0
        for n in range(1, 200):  # probes until the subscription is in place
            publisher.tell(event(OrderSubmitted, n))
            try:
                first = out.get(0.05)
                break
            except queue.Empty:
                continue
        else:
            raise AssertionError("tail printed nothing")
        assert first.startswith("orders.hyperliquid.update {")
        for k in range(n + 1, n + 21):
            publisher.tell(event(OrderAccepted, k))
        created: list[dict[str, Any]] = []
        while len(created) < 20:
            line = out.get()
            if line.startswith("orders.hyperliquid.created "):
                created.append(orjson.loads(line.split(" ", 1)[1]))
        assert [c["sequence"] for c in created] == list(range(1, 21))
        assert [c["data"]["event_sequence"] for c in created] == list(range(n + 1, n + 21))
        assert created[0]["event_type"] == "order_created"
        assert err.queue.empty()  # no gaps reported
    finally:
        proc.terminate()
        proc.wait(10)


class Runtime:
    def __init__(self, directory: Path, **log_options: Any) -> None:
        self.pub, self.replay = free_address(), free_address()
        config = PublisherConfig(address=self.pub, replay_address=self.replay,
                                 event_log_dir=directory, heartbeat_s=0.05, linger_ms=50)
        self.tree = SupervisionTree(SupervisorSpec(id="root", intensity=100, children=[
            ChildSpec(id="publisher", factory=lambda ctx: Publisher(ctx, config=config)),
        ])).start()
        self.publisher = self.tree.handle("publisher")
        self.log = EventLog.open(directory, **log_options)

    def write(self, first: int, last: int) -> None:
        for seq in range(first, last + 1):
            e = event(OrderAccepted if seq % 2 else OrderSubmitted, seq)
            self.log.append(seq, codec.encode(e))
            self.publisher.tell(e)

    def close(self) -> None:
        self.tree.stop()
        self.log.close()


def sequences(out: Lines, until: int) -> list[int]:
    got: list[int] = []
    while not got or got[-1] < until:
        topic, body = out.get(10).split(" ", 1)
        assert topic.startswith("orders.hyperliquid.")
        got.append(orjson.loads(body)["data"]["event_sequence"])
    return got


def test_tail_replays_history_and_crashes_without_reporting_gaps(tmp_path: Path) -> None:
    rt = Runtime(tmp_path)
    rt.write(1, 50)  # before tail starts
    proc = tail("--address", rt.pub, "--replay-address", rt.replay, "--after", "0",
                "--topic", "orders.")
    try:
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        assert "after event 0" in err.get(10)
        assert sequences(out, 50) == list(range(1, 51))
        for k in range(3):
            rt.write(51 + 100 * k, 100 + 100 * k)
            eventually(lambda: rt.tree.crash("publisher"))
            rt.write(101 + 100 * k, 150 + 100 * k)
        assert sequences(out, 350) == list(range(51, 351))
        messages = err.drain()
        assert not [m for m in messages if "GAP" in m], messages
        assert all("publisher restarted" in m for m in messages), messages
    finally:
        proc.terminate()
        proc.wait(10)
        rt.close()


def test_tail_reports_a_gap_it_cannot_fill(tmp_path: Path) -> None:
    rt = Runtime(tmp_path, segment_bytes=2048, retain_bytes=4096)
    rt.write(1, 200)
    first = list_segments(tmp_path)[0][0]
    proc = tail("--address", rt.pub, "--replay-address", rt.replay, "--after", "0")
    try:
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        err.get(10)
        assert sequences(out, 200) == list(range(first, 201))
        assert err.get(5) == (f"# GAP: events 1..{first - 1} are lost: the event log starts at "
                              f"{first} now")
    finally:
        proc.terminate()
        proc.wait(10)
        rt.close()


def test_no_replay_is_live_only_and_refuses_after() -> None:
    proc = tail("--no-replay", "--after", "3")
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert "--after needs replay" in err
    proc = tail("--after", "soon")
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert "'now'" in err
