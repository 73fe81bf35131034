"""scripts/tail prints the publisher's events as they arrive and flags sequence gaps."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from actors.publisher import GetEndpoint, Publisher
from actors.publishing import PublisherConfig
from messages.enums import OrderSide, OrderState, OrderType
from messages.ids import ClientOrderId, ExchangeOrderId
from messages.orders import OrderAccepted, OrderEvent, OrderSubmitted
from supervision import ChildSpec, Handle, SupervisionTree, SupervisorSpec
from tests.helpers import REPO


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


@pytest.fixture
def publisher() -> Iterator[Handle]:
    tree = SupervisionTree(SupervisorSpec(id="root", children=[
        ChildSpec(id="publisher", factory=lambda ctx: Publisher(
            ctx, config=PublisherConfig(address="tcp://127.0.0.1:0"))),
    ])).start()
    yield tree.handle("publisher")
    tree.stop()


def test_tail_prints_events_in_order(publisher: Handle) -> None:
    endpoint = publisher.ask(GetEndpoint(), timeout=5)
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "tail"), "--address", endpoint,
         "--topic", "orders.hyperliquid.created", "--topic", "orders.hyperliquid.update"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        assert err.get(10).startswith("# listening on")
        for n in range(200):  # probes until the subscription is in place
            publisher.tell(event(OrderSubmitted, n))
            try:
                first = out.get(0.05)
                break
            except queue.Empty:
                continue
        else:
            raise AssertionError("tail printed nothing")
        assert first.startswith("orders.hyperliquid.update {")
        for n in range(20):
            publisher.tell(event(OrderAccepted, n))
        created: list[dict[str, Any]] = []
        while len(created) < 20:
            line = out.get()
            if line.startswith("orders.hyperliquid.created "):
                created.append(orjson.loads(line.split(" ", 1)[1]))
        assert [c["sequence"] for c in created] == list(range(1, 21))
        assert created[0]["event_type"] == "order_created"
        assert created[19]["data"]["exchange_order_id"] == "19"
        assert err.queue.empty()  # no gaps reported
    finally:
        proc.terminate()
        proc.wait(10)
