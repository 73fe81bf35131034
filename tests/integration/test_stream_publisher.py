"""The publisher's PUB socket with a real SUB socket on 127.0.0.1: a 50,000-event burst arrives
without a gap in the seed format, msgpack works, a restart starts a new epoch at 1, and
restarts rebind the PUB and replay sockets even on a shared ZMQ context."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import msgpack
import orjson
import pytest
import zmq

from actors.publisher import Publisher
from actors.publishing import PublisherConfig
from messages.enums import LiquiditySide, OrderSide, OrderState, OrderType
from messages.ids import ClientOrderId, ExchangeOrderId, TradeId
from messages.orders import OrderFilled, OrderSubmitted
from messages.publishing import GetEndpoint, GetPublisherStats, PublisherStats
from supervision import ChildSpec, Handle, SupervisionTree, SupervisorSpec
from tests.helpers import eventually
from tests.runtime_support.runtime import free_port

BURST = 50_000
SEED_KEYS = ("client_order_id", "exchange_order_id", "trading_pair", "order_type", "price",
             "amount", "filled_amount", "order_state")


def common(n: int, state: OrderState) -> dict[str, Any]:
    return {
        "client_order_id": ClientOrderId.from_int(n + 1), "exchange_order_id": ExchangeOrderId(n),
        "trading_pair": "BTC-USD", "side": OrderSide.BUY, "order_type": OrderType.LIMIT,
        "price": Decimal("97000.5"), "amount": Decimal("0.01"), "filled_amount": Decimal("0.01"),
        "order_state": state, "strategy_id": "mm", "sequence": n,
        "ts_event": 1_700_000_000_000_000_000 + n, "ts_init": 1_700_000_000_000_000_000 + n,
    }


def fill(n: int) -> OrderFilled:
    return OrderFilled(**common(n, OrderState.FILLED), fill_price=Decimal("97000.5"),
                       fill_amount=Decimal("0.01"), fee=Decimal("0.0097"), fee_asset="USDC",
                       trade_id=TradeId(10_000 + n), liquidity=LiquiditySide.TAKER)


def probe(n: int) -> OrderSubmitted:
    return OrderSubmitted(**common(n, OrderState.SUBMITTED))


class Subscriber:
    def __init__(self, endpoint: str) -> None:
        self.context = zmq.Context()
        self.sock = self.context.socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"orders.hyperliquid.")

    def recv(self, timeout_ms: int = 5000) -> tuple[str, bytes] | None:
        if not self.sock.poll(timeout_ms):
            return None
        topic, body = self.sock.recv_multipart()
        return topic.decode(), body

    def join(self, publisher: Handle) -> None:
        """Beat the slow joiner: send probes until one arrives, then drain them."""
        for n in range(200):
            publisher.tell(probe(n))
            if self.recv(50) is not None:
                while self.recv(100) is not None:
                    pass
                return
        raise AssertionError("no probe reached the subscriber")

    def close(self) -> None:
        self.sock.close()
        self.context.term()


def tree_with(config: PublisherConfig) -> SupervisionTree:
    return SupervisionTree(SupervisorSpec(id="root", children=[
        ChildSpec(id="publisher", factory=lambda ctx: Publisher(ctx, config=config)),
    ])).start()


@pytest.fixture
def tree() -> Iterator[SupervisionTree]:
    tree = tree_with(PublisherConfig(address="tcp://127.0.0.1:0"))
    yield tree
    tree.stop()


def test_a_burst_arrives_complete_in_the_seed_format(tree: SupervisionTree) -> None:
    publisher = tree.handle("publisher")
    endpoint = publisher.ask(GetEndpoint(), timeout=5)
    assert endpoint.startswith("tcp://127.0.0.1:")
    assert not endpoint.endswith(":0")
    sub = Subscriber(endpoint)
    try:
        sub.join(publisher)
        for n in range(BURST):
            publisher.tell(fill(n))
        sequences, epochs = [], set()
        for n in range(BURST):
            got = sub.recv()
            assert got is not None, f"message {n} of {BURST} never arrived"
            topic, raw = got
            assert topic == "orders.hyperliquid.filled"
            body = orjson.loads(raw)
            sequences.append(body["sequence"])
            epochs.add(body["epoch"])
            if n in (0, BURST - 1):
                assert body["event_type"] == "order_filled"
                assert body["timestamp"] == 1_700_000_000_000_000_000 + n
                assert all(key in body["data"] for key in SEED_KEYS)
                assert body["data"]["exchange_order_id"] == str(n)
                assert body["data"]["price"] == "97000.5"
                assert body["data"]["trade_id"] == str(10_000 + n)
        assert sequences == list(range(1, BURST + 1))
        assert len(epochs) == 1
        stats = publisher.ask(GetPublisherStats(), timeout=5)
        assert isinstance(stats, PublisherStats)
        assert stats.published >= BURST + 1
        assert epochs == {stats.epoch}
    finally:
        sub.close()


def test_msgpack_bodies() -> None:
    tree = tree_with(PublisherConfig(address="tcp://127.0.0.1:0", format="msgpack"))
    publisher = tree.handle("publisher")
    sub = Subscriber(publisher.ask(GetEndpoint(), timeout=5))
    try:
        sub.join(publisher)
        for n in range(1000):
            publisher.tell(fill(n))
        bodies = []
        for _ in range(1000):
            got = sub.recv()
            assert got is not None
            bodies.append(msgpack.unpackb(got[1]))
        assert [b["sequence"] for b in bodies] == list(range(1, 1001))
        assert bodies[5]["data"]["fill_amount"] == "0.01"
    finally:
        sub.close()
        tree.stop()


def test_a_restart_starts_a_new_epoch_from_one() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    tree = tree_with(PublisherConfig(address=address, linger_ms=100))
    publisher = tree.handle("publisher")
    sub = Subscriber(address)
    try:
        sub.join(publisher)
        for n in range(3):
            publisher.tell(fill(n))
        before = [orjson.loads(got[1]) for got in (sub.recv() for _ in range(3)) if got]
        assert [b["sequence"] for b in before] == [1, 2, 3]
        assert tree.crash("publisher")
        sub.join(publisher)  # the SUB socket reconnects to the new incarnation by itself
        assert publisher.incarnation == 2
        publisher.tell(fill(3))
        got = sub.recv()
        assert got is not None
        after = orjson.loads(got[1])
        assert after["sequence"] == 1
        assert after["epoch"] > before[0]["epoch"]
    finally:
        sub.close()
        tree.stop()


def incarnation_is(handle: Handle, n: int) -> bool:
    return handle.incarnation == n


def test_restarts_rebind_both_sockets_even_on_a_shared_context(tmp_path: Path) -> None:
    """With an injected context a closed socket lets go of its port asynchronously, so an
    immediate rebind meets EADDRINUSE: the start retries instead of failing."""
    shared: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pub, replay = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    config = PublisherConfig(address=pub, replay_address=replay, event_log_dir=tmp_path,
                             heartbeat_s=0.05, linger_ms=0)
    tree = SupervisionTree(SupervisorSpec(id="root", intensity=100, children=[
        ChildSpec(id="publisher", factory=lambda ctx: Publisher(ctx, config=config,
                                                                 context=shared)),
    ])).start()
    publisher = tree.handle("publisher")
    sub = shared.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"sync.orders.")
    sub.connect(pub)
    try:
        for n in range(2, 7):
            eventually(lambda: tree.crash("publisher"))
            eventually(partial(incarnation_is, publisher, n))
            stats = publisher.ask(GetPublisherStats(), timeout=5)
            assert stats.replay_endpoint == replay
        current = publisher.ask(GetPublisherStats(), timeout=5).epoch
        beat: dict[str, Any] = {}
        while beat.get("epoch") != current:  # the newest incarnation's heartbeats arrive
            assert sub.poll(5000)
            beat = orjson.loads(sub.recv_multipart()[1])
        assert beat["replay"] is True
        counters = tree.counters("publisher")
        assert (counters.starts, counters.failures) == (6, 5)  # no start failed to bind
    finally:
        sub.close(linger=0)
        tree.stop()
        shared.term()
