"""Replay with real ZMQ on 127.0.0.1: the publisher's replay server (ranges, topic filters, "not
retained"), and subscribers that get every order event exactly once, in order, through publisher
crashes, a late start, a whole process restart (torn log tail included) and a quiet loss, and
that wait a bounded time for a replay server that never answers.

A test writer stands in for the order tracker: it appends each event to the event log, then
tells the publisher (the tracker's order)."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
import zmq

from actors.publisher import Publisher
from actors.publishing import PublisherConfig, PublisherCore
from actors.publishing.protocol import encode_request
from actors.publishing.subscriber import EventSubscriber, Notice, ReceivedEvent
from messages import codec
from messages.enums import LiquiditySide, OrderSide, OrderState, OrderType
from messages.ids import ClientOrderId, ExchangeOrderId, TradeId
from messages.orders import (
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderFilled,
    OrderSubmitted,
)
from messages.publishing import GetPublisherStats, PublisherStats
from supervision import ChildSpec, Handle, SupervisionTree, SupervisorSpec
from supervision.eventlog import EventLog, list_segments
from tests.helpers import eventually
from tests.runtime_support.runtime import free_port


def order_event(seq: int) -> OrderEvent:
    kind = seq % 4
    common: dict[str, Any] = {
        "client_order_id": ClientOrderId.from_int(seq // 4 + 1),
        "exchange_order_id": ExchangeOrderId(seq), "trading_pair": "BTC-USD",
        "side": OrderSide.BUY, "order_type": OrderType.LIMIT, "price": Decimal("97000.5"),
        "amount": Decimal("0.01"), "strategy_id": "mm", "sequence": seq,
        "ts_event": 1_700_000_000_000_000_000 + seq, "ts_init": 1_700_000_000_000_000_000 + seq,
    }
    if kind == 0:
        return OrderSubmitted(**common, filled_amount=Decimal(0), order_state=OrderState.SUBMITTED)
    if kind == 1:
        return OrderAccepted(**common, filled_amount=Decimal(0), order_state=OrderState.OPEN)
    if kind == 2:
        return OrderFilled(**common, filled_amount=Decimal("0.01"), order_state=OrderState.FILLED,
                           fill_price=Decimal("97000.5"), fill_amount=Decimal("0.01"),
                           fee=Decimal("0.0097"), fee_asset="USDC", trade_id=TradeId(seq),
                           liquidity=LiquiditySide.TAKER)
    return OrderCancelled(**common, filled_amount=Decimal(0), order_state=OrderState.CANCELLED,
                          reason="canceled")


def free_address() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


class Runtime:
    """A publisher in a supervision tree plus the writer the tracker would be."""

    def __init__(self, directory: Path, pub: str, replay: str, **log_options: Any) -> None:
        self.config = PublisherConfig(address=pub, replay_address=replay, event_log_dir=directory,
                                      heartbeat_s=0.05, linger_ms=100)
        self.tree = SupervisionTree(SupervisorSpec(id="root", intensity=1000, children=[
            ChildSpec(id="publisher", factory=lambda ctx: Publisher(ctx, config=self.config)),
        ])).start()
        self.publisher: Handle = self.tree.handle("publisher")
        self.log = EventLog.open(directory, **log_options)

    def write(self, first: int, last: int, *, tell: bool = True) -> None:
        for seq in range(first, last + 1):
            event = order_event(seq)
            self.log.append(seq, codec.encode(event))
            if tell:
                self.publisher.tell(event)

    def stats(self) -> PublisherStats:
        stats = self.publisher.ask(GetPublisherStats(), timeout=5)
        assert isinstance(stats, PublisherStats)
        return stats

    def stop(self) -> None:
        self.tree.stop()
        self.log.close()


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    with tempfile.TemporaryDirectory() as directory:
        rt = Runtime(Path(directory), free_address(), free_address())
        yield rt
        rt.stop()


def subscriber(rt: Runtime, notices: list[Notice] | None = None, **options: Any
               ) -> EventSubscriber:
    options.setdefault("request_timeout_s", 0.2)
    options.setdefault("replay_wait_s", 20.0)
    sink = notices if notices is not None else []
    return EventSubscriber(rt.config.address, rt.config.replay_endpoint,
                           on_notice=sink.append, **options)


def collect(sub: EventSubscriber, until: int, timeout: float = 20.0) -> list[ReceivedEvent]:
    """Events until one with ``event_sequence >= until`` arrived (fails after ``timeout``)."""
    got: list[ReceivedEvent] = []
    deadline = time.monotonic() + timeout
    while not got or (got[-1].sequence or 0) < until:
        assert time.monotonic() < deadline, f"got {[e.sequence for e in got][-5:]} of {until}"
        event = sub.next(timeout_s=0.1)
        if event is not None:
            got.append(event)
    return got


def settle(sub: EventSubscriber) -> None:
    """Pump the subscriber until it has seen a heartbeat and is caught up (no event expected)."""
    deadline = time.monotonic() + 10
    while not (sub.stats.heartbeats and sub.caught_up):
        assert time.monotonic() < deadline, sub.stats
        assert sub.next(timeout_s=0.02) is None


def reached(got: list[ReceivedEvent], sequence: int) -> bool:
    return bool(got) and got[-1].sequence == sequence


def ask(address: str, request: bytes) -> list[bytes]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(address)
    try:
        dealer.send_multipart([b"", request])
        assert dealer.poll(5000), "no reply"
        frames: list[bytes] = dealer.recv_multipart()
    finally:
        dealer.close()
    assert frames[0] == b""
    return frames[1:]


def test_the_replay_server_serves_ranges_topic_filters_and_says_not_retained(
        runtime: Runtime) -> None:
    runtime.write(1, 40, tell=False)
    address = runtime.config.replay_endpoint
    epoch = runtime.stats().epoch
    header, *pairs = ask(address, encode_request(7, 10, limit=5))
    head = orjson.loads(header)
    assert head == {"id": 7, "status": "ok", "epoch": epoch, "after": 10, "through": 15,
                    "count": 5, "first_sequence": 1, "last_sequence": 40, "format": "json"}
    live = PublisherCore(runtime.config, epoch=epoch)
    for i, seq in enumerate(range(11, 16)):
        topic, body = pairs[2 * i], orjson.loads(pairs[2 * i + 1])
        expected_topic, expected = live.encode(order_event(seq)) or (b"", b"")
        assert topic == expected_topic
        assert body == dict(orjson.loads(expected), sequence=None, replayed=True)
    header, *pairs = ask(address, encode_request(8, 0, topics=("orders.hyperliquid.filled",)))
    head = orjson.loads(header)
    assert (head["through"], head["count"]) == (40, 10)
    assert set(pairs[::2]) == {b"orders.hyperliquid.filled"}
    assert [orjson.loads(b)["data"]["event_sequence"] for b in pairs[1::2]] == list(
        range(2, 41, 4))
    header, *pairs = ask(address, encode_request(9, 40))
    assert orjson.loads(header)["through"] == 40
    assert pairs == []
    header, *_ = ask(address, b'{"op": "since", "id": 1, "after": -3}')
    assert orjson.loads(header)["status"] == "error"
    assert "after" in orjson.loads(header)["error"]
    assert runtime.stats().replayed == 15


def test_a_request_older_than_the_log_retains_is_answered_not_retained() -> None:
    with tempfile.TemporaryDirectory() as directory:
        rt = Runtime(Path(directory), free_address(), free_address(), segment_bytes=2048,
                     retain_bytes=4096)
        try:
            rt.write(1, 200, tell=False)
            first = list_segments(Path(directory))[0][0]
            assert first > 1
            header, *pairs = ask(rt.config.replay_endpoint, encode_request(3, 0))
            head = orjson.loads(header)
            assert head["status"] == "not_retained"
            assert (head["first_sequence"], head["last_sequence"]) == (first, 200)
            assert pairs == []
            notices: list[Notice] = []
            sub = subscriber(rt, notices, after=0)
            try:
                got = collect(sub, 200)
                assert [e.sequence for e in got] == list(range(first, 201))
                assert [(n.first, n.last) for n in notices if n.kind == "unfillable"] == [
                    (1, first - 1)]
                assert sub.stats.unfillable_events == first - 1
            finally:
                sub.close()
        finally:
            rt.stop()


def test_a_subscriber_gets_every_event_once_in_order_through_publisher_crashes(
        runtime: Runtime) -> None:
    """Each crash lands in the middle of a burst, with events queued in the publisher's mailbox
    and on its socket, while the subscriber is following live."""
    chunk, crashes = 300, 10
    total = chunk * crashes
    sub = subscriber(runtime, after=0)
    got: list[ReceivedEvent] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for k in range(crashes):
                start = k * chunk
                runtime.write(start + 1, start + chunk // 2)
                eventually(lambda: runtime.tree.crash("publisher"))
                runtime.write(start + chunk // 2 + 1, start + chunk)
                eventually(partial(reached, got, start + chunk), timeout=20)
        except BaseException as exc:
            errors.append(exc)
            raise

    writer = threading.Thread(target=write)
    writer.start()
    try:
        deadline = time.monotonic() + 40
        while not errors and (not got or got[-1].sequence != total):
            assert time.monotonic() < deadline
            event = sub.next(timeout_s=0.1)
            if event is not None:
                got.append(event)
        writer.join(10)
        assert not errors
        assert [e.sequence for e in got] == list(range(1, total + 1))
        stats = sub.stats
        assert stats.live + stats.replayed == total
        assert stats.live > 0
        assert stats.unfillable_gaps == 0
        assert stats.epochs >= 2  # (an incarnation can end before the subscription reaches it)
        assert runtime.publisher.incarnation == crashes + 1
    finally:
        sub.close()


def test_a_late_subscriber_gets_the_whole_history_then_live(runtime: Runtime) -> None:
    runtime.write(1, 500)
    eventually(lambda: runtime.stats().last_sequence == 500)
    sub = subscriber(runtime, after=0, limit=120)
    try:
        got = collect(sub, 500)
        assert [e.sequence for e in got] == list(range(1, 501))
        assert all(e.replayed and e.body["replayed"] for e in got)
        runtime.write(501, 520)
        got = collect(sub, 520)
        assert [e.sequence for e in got] == list(range(501, 521))
        assert sub.stats.replayed == 500
        assert sub.stats.replay_requests >= 5  # 120 per reply
    finally:
        sub.close()


def test_a_subscriber_that_resumes_after_n_gets_only_what_follows(runtime: Runtime) -> None:
    runtime.write(1, 50)
    sub = subscriber(runtime, after=42, topics=("orders.hyperliquid.filled",))
    try:
        runtime.write(51, 60)
        got = collect(sub, 58)
        assert [e.sequence for e in got] == [46, 50, 54, 58]
        assert {e.topic for e in got} == {"orders.hyperliquid.filled"}
    finally:
        sub.close()


def test_a_subscriber_outlives_a_whole_process_restart(tmp_path: Path) -> None:
    pub, replay = free_address(), free_address()
    first = Runtime(tmp_path, pub, replay)
    sub = subscriber(first, after=0)
    try:
        first.write(1, 300)
        got = collect(sub, 300)
        first.write(301, 400)
        first.tree.stop()  # the process dies (the log is not closed: kill -9)
        segment = list_segments(tmp_path)[-1][1]
        with segment.open("ab") as torn:
            torn.write(b"\x40\x00\x00\x00partial")  # a record cut short by the kill
        second = Runtime(tmp_path, pub, replay)
        try:
            assert second.log.last_sequence == 400
            assert second.log.truncated_bytes == 11
            second.write(401, 600)  # some of these go out before the subscriber reconnects
            got += collect(sub, 600)
            assert [e.sequence for e in got] == list(range(1, 601))
            assert sub.stats.epochs == 2
            assert sub.stats.unfillable_gaps == 0
        finally:
            second.stop()
    finally:
        sub.close()


def test_the_heartbeat_lets_a_quiet_subscriber_detect_and_fill_a_loss(runtime: Runtime) -> None:
    sub = subscriber(runtime, after=0)
    try:
        runtime.write(1, 10)
        collect(sub, 10)
        settle(sub)  # the start-up catch-up is answered and heartbeats arrive
        runtime.write(11, 12, tell=False)  # the tracker logged them; the publisher never heard
        got = collect(sub, 12, timeout=5)
        assert [(e.sequence, e.replayed) for e in got] == [(11, True), (12, True)]
        assert sub.stats.gaps_filled == 1
        assert sub.stats.heartbeats >= 2
    finally:
        sub.close()


def test_a_topic_filtered_subscriber_through_crashes(runtime: Runtime) -> None:
    sub = subscriber(runtime, after=0, topics=("orders.hyperliquid.filled",
                                               "orders.hyperliquid.cancelled"))
    try:
        for k in range(3):
            runtime.write(k * 100 + 1, (k + 1) * 100)
            eventually(lambda: runtime.tree.crash("publisher"))
        got = collect(sub, 299)
        assert [e.sequence for e in got] == [s for s in range(1, 301) if s % 4 in (2, 3)]
        assert sub.stats.unfillable_gaps == 0
    finally:
        sub.close()


def test_a_replay_server_that_never_answers_costs_a_bounded_wait(runtime: Runtime) -> None:
    runtime.write(1, 5)  # before the subscriber: only replay could give them
    eventually(lambda: runtime.stats().last_sequence == 5)
    notices: list[Notice] = []
    sub = EventSubscriber(runtime.config.address, free_address(), after=0,
                          request_timeout_s=0.05, max_request_timeout_s=0.2, replay_wait_s=1.0,
                          on_notice=notices.append)
    try:
        settle_live(sub)
        runtime.write(6, 10)
        started = time.monotonic()
        got = collect(sub, 10)
        assert [e.sequence for e in got] == [6, 7, 8, 9, 10]
        assert 0.9 < time.monotonic() - started < 5
        assert [n.kind for n in notices if n.kind != "epoch"] == [
            "replay_unavailable", "unfillable"]
        assert (notices[-1].first, notices[-1].last) == (1, 5)
        assert sub.stats.replay_timeouts >= 3
        assert sub.stats.unfillable_events == 5
    finally:
        sub.close()


def settle_live(sub: EventSubscriber) -> None:
    """Wait until the subscriber's SUB socket gets heartbeats (its subscription is live)."""
    deadline = time.monotonic() + 10
    while not sub.stats.heartbeats:
        assert time.monotonic() < deadline
        assert sub.next(timeout_s=0.02) is None
