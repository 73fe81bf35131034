"""The connected runtime against the local exchange: orders through the whole actor path.

A probe strategy records every event the tracker routes to it; the test sends commands to
execution with the probe's strategy id (as the probe's own buy/sell would) and a ZMQ subscriber
checks each event on the wire in the seed's JSON format.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import zmq

from actors import paths
from actors.publishing.core import PublisherConfig
from actors.strategy import Strategy, StrategySettings
from messages import (
    BookSnapshot,
    CancelAll,
    CancelOrder,
    ClientOrderId,
    GetBook,
    ModifyOrder,
    OrderEvent,
    OrderFilled,
    OrderSide,
    OrderState,
    OrderType,
    SubmitOrder,
    TimeInForce,
)
from messages.publishing import GetEndpoint
from messages.tracking import GetOpenOrders, GetOrder, TrackedOrder
from runtime.config import RuntimeConfig, StrategyConfig
from runtime.launch import Runtime
from runtime.wiring import Wiring, strategy_spec
from supervision.spec import ChildContext, ChildSpec
from tests.helpers import eventually
from tests.runtime_support.runtime import free_port
from tests.support.supervision import EventRecorder
from venues.simulator import DEMO_ADDRESS

PAIR = "ETH-USD"


class Probe(Strategy):
    """Hears what a strategy hears; trades only when the test tells execution to."""

    def __init__(self, ctx: ChildContext, *, settings: StrategySettings,
                 sink: EventRecorder) -> None:
        super().__init__(ctx, settings=settings)
        self.sink = sink

    def on_order_event(self, event: OrderEvent) -> None:
        self.sink(event)


class Wire:
    """A ZMQ subscriber collecting (topic, body) from the publisher in a thread."""

    def __init__(self, address: str) -> None:
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sub = self.context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"orders.hyperliquid.")
        self.sub.setsockopt(zmq.RCVTIMEO, 200)
        self.sub.connect(address)
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                topic, body = self.sub.recv_multipart()
            except zmq.Again:
                continue
            with self.lock:
                self.messages.append((topic.decode(), orjson.loads(body)))

    def of(self, cloid: ClientOrderId) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [(t, b) for t, b in self.messages if b["data"]["client_order_id"] == cloid]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.sub.close(linger=0)
        self.context.term()


class Rig:
    def __init__(self, rt: Runtime, probe: EventRecorder, wire: Wire) -> None:
        self.rt, self.probe, self.wire = rt, probe, wire
        assert rt.tree is not None
        self.tree = rt.tree
        self.gate = rt.tree.handle(paths.RISK_GATE)
        self.tracker = rt.tree.handle("order_tracker")
        self.n = 0

    def cloid(self) -> ClientOrderId:
        self.n += 1
        return ClientOrderId.derive("runtime-test", self.n)

    def book(self) -> BookSnapshot:
        book: BookSnapshot | None = eventually(
            lambda: self.tree.handle("market_stream").ask(GetBook(trading_pair=PAIR), timeout=5),
            timeout=15)
        assert book is not None
        return book

    def submit(self, side: OrderSide, amount: str, price: Decimal | None, *,
               kind: OrderType = OrderType.LIMIT, tif: TimeInForce = TimeInForce.GTC,
               cloid: ClientOrderId | None = None) -> ClientOrderId:
        cloid = cloid or self.cloid()
        self.gate.tell(SubmitOrder(
            client_order_id=cloid, trading_pair=PAIR, side=side, order_type=kind,
            amount=Decimal(amount), price=price, time_in_force=tif, strategy_id="probe"))
        return cloid

    def order(self, cloid: ClientOrderId) -> TrackedOrder | None:
        result: TrackedOrder | None = self.tracker.ask(GetOrder(client_order_id=cloid),
                                                       timeout=5)
        return result

    def wait_state(self, cloid: ClientOrderId, *states: OrderState,
                   timeout: float = 15) -> TrackedOrder:
        order: TrackedOrder = eventually(
            lambda: (o := self.order(cloid)) is not None and o.state in states and o,
            timeout=timeout, message=f"{cloid} never reached {states}: {self.order(cloid)}")
        return order

    def events(self, cloid: ClientOrderId) -> list[OrderEvent]:
        return self.probe.of(OrderEvent, lambda e: e.client_order_id == cloid)

    def venue_open(self) -> dict[str, Any]:
        assert self.rt.sim is not None
        orders = self.rt.sim.call(lambda core: list(core.engine.live_orders(DEMO_ADDRESS)))
        return {o.cloid: o for o in orders if o.cloid is not None}


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    address = f"tcp://127.0.0.1:{free_port()}"
    probe = EventRecorder()

    def make_probe(w: Wiring) -> ChildSpec:
        return strategy_spec("probe", lambda ctx: Probe(
            ctx, settings=StrategySettings(strategy_id="probe", trading_pairs=(PAIR,),
                                           run_id=w.run_id), sink=probe))

    config = RuntimeConfig(strategy=StrategyConfig(kind="none"),
                           data_dir=Path(tmp_path_factory.mktemp("runtime")),
                           publisher=PublisherConfig(address=address))
    rt = Runtime(config, strategies=(make_probe,))
    rt.start()
    assert rt.tree is not None
    wire = Wire(rt.tree.handle("publisher").ask(GetEndpoint(), timeout=5))
    try:
        rig = Rig(rt, probe, wire)
        _handshake(rig)
        yield rig
    finally:
        rt.stop(cancel=True)
        wire.close()


def _handshake(rig: Rig) -> None:
    """A PUB drops what it sends before a new subscriber's subscription arrives (the "slow
    joiner"): place and cancel one order until its events are seen on the wire."""
    cloid = rig.submit(OrderSide.BUY, "0.02", _passive(rig.book(), OrderSide.BUY, "0.05"),
                       kind=OrderType.LIMIT_MAKER)
    rig.wait_state(cloid, OrderState.OPEN)
    rig.gate.tell(CancelOrder(client_order_id=cloid, strategy_id="probe"))
    eventually(lambda: any(t.endswith("cancelled") for t, _ in rig.wire.of(cloid)), timeout=15)


def _passive(book: BookSnapshot, side: OrderSide, away: str) -> Decimal:
    best = book.best_bid if side is OrderSide.BUY else book.best_ask
    assert best is not None
    factor = (1 - Decimal(away)) if side is OrderSide.BUY else (1 + Decimal(away))
    return best.price * factor


def _names(events: list[OrderEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


@pytest.mark.timeout(60)
def test_resting_order_events_reach_strategy_and_zmq(rig: Rig) -> None:
    cloid = rig.submit(OrderSide.BUY, "0.02", _passive(rig.book(), OrderSide.BUY, "0.02"),
                       kind=OrderType.LIMIT_MAKER)
    order = rig.wait_state(cloid, OrderState.OPEN)
    assert order.exchange_order_id is not None
    venue = rig.venue_open()[cloid]
    assert venue.oid == order.exchange_order_id
    eventually(lambda: len(rig.events(cloid)) >= 3, timeout=30)
    assert _names(rig.events(cloid)) == ["OrderTracked", "OrderSubmitted", "OrderAccepted"]
    wire = eventually(lambda: len(rig.wire.of(cloid)) >= 3 and rig.wire.of(cloid), timeout=30)
    assert [t for t, _ in wire] == ["orders.hyperliquid.update", "orders.hyperliquid.update",
                                    "orders.hyperliquid.created"]
    _topic, body = wire[-1]
    assert body["event_type"] == "order_created"
    assert isinstance(body["timestamp"], int)
    data = body["data"]
    assert data["client_order_id"] == cloid
    assert data["exchange_order_id"] == str(order.exchange_order_id)
    assert data["trading_pair"] == PAIR
    assert data["order_type"] == "LIMIT_MAKER"
    assert Decimal(data["price"]) == order.price
    assert data["amount"] == "0.02"
    assert data["filled_amount"] == "0"
    assert data["order_state"] == "OPEN"
    rig.gate.tell(CancelOrder(client_order_id=cloid, strategy_id="probe"))
    rig.wait_state(cloid, OrderState.CANCELLED)
    assert cloid not in rig.venue_open()


@pytest.mark.timeout(60)
def test_full_fill_of_a_crossing_ioc(rig: Rig) -> None:
    book = rig.book()
    ask = book.best_ask
    assert ask is not None
    size = min(Decimal("0.02"), ask.size)
    cloid = rig.submit(OrderSide.BUY, str(size), ask.price * Decimal("1.01"),
                       tif=TimeInForce.IOC)
    order = rig.wait_state(cloid, OrderState.FILLED, OrderState.CANCELLED)
    assert order.filled_amount > 0
    assert order.filled_amount == sum(f.amount for f in order.fills)
    if order.state is OrderState.FILLED:
        assert order.filled_amount == order.amount
    def probe_filled() -> Decimal:
        fills = [e for e in rig.events(cloid) if isinstance(e, OrderFilled)]
        return sum((e.fill_amount for e in fills), Decimal(0))

    eventually(lambda: probe_filled() == order.filled_amount, timeout=10)
    # Wait for the fill event that carries the final amount (an earlier partial fill may be
    # the latest one on the wire for a moment).
    wire = eventually(lambda: [b for t, b in rig.wire.of(cloid)
                               if t.endswith(("filled", "partial_fill"))
                               and Decimal(b["data"]["filled_amount"]) == order.filled_amount],
                      timeout=10)
    assert "trade_id" in wire[-1]["data"]
    assert "fee" in wire[-1]["data"]


@pytest.mark.timeout(90)
def test_partial_fill_then_cancel(rig: Rig) -> None:
    book = rig.book()
    ask = book.best_ask
    assert ask is not None
    # Bigger than the best ask level: the rest rests at that price after the partial fill.
    size = (ask.size * 3).quantize(Decimal("0.0001"))
    cloid = rig.submit(OrderSide.BUY, str(size), ask.price)
    order = rig.wait_state(cloid, OrderState.PARTIALLY_FILLED, OrderState.FILLED)
    assert 0 < order.filled_amount <= order.amount
    rig.gate.tell(CancelOrder(client_order_id=cloid, strategy_id="probe"))
    final = rig.wait_state(cloid, OrderState.CANCELLED, OrderState.FILLED)
    assert final.filled_amount == sum(f.amount for f in final.fills)
    # The tracker's state changes before the probe and the wire hear of it: wait for the
    # terminal event there rather than reading what arrived so far.
    last = "OrderCancelled" if final.state is OrderState.CANCELLED else "OrderFilled"
    names = eventually(lambda: (n := _names(rig.events(cloid))) and n[-1] == last and n,
                       timeout=10)
    assert "OrderFilled" in names
    eventually(lambda: any(t.endswith((".partial_fill", ".filled"))
                           for t, _ in rig.wire.of(cloid)), timeout=10)


@pytest.mark.timeout(60)
def test_modify_replaces_price_and_exchange_id(rig: Rig) -> None:
    book = rig.book()
    cloid = rig.submit(OrderSide.SELL, "0.02", _passive(book, OrderSide.SELL, "0.02"),
                       kind=OrderType.LIMIT_MAKER)
    before = rig.wait_state(cloid, OrderState.OPEN)
    new_price = _passive(book, OrderSide.SELL, "0.03")
    rig.gate.tell(ModifyOrder(client_order_id=cloid, price=new_price,
                                   strategy_id="probe"))
    after = eventually(
        lambda: (o := rig.order(cloid)) is not None and o.exchange_order_id
        != before.exchange_order_id and o, timeout=15)
    assert after.state is OrderState.OPEN
    assert after.price is not None
    assert before.price is not None
    assert after.price > before.price
    venue = rig.venue_open()[cloid]
    assert venue.oid == after.exchange_order_id
    assert Decimal(venue.limit_px) == after.price
    eventually(lambda: "OrderModified" in _names(rig.events(cloid)), timeout=10,
               message="no OrderModified event")
    rig.gate.tell(CancelOrder(client_order_id=cloid, strategy_id="probe"))
    rig.wait_state(cloid, OrderState.CANCELLED)


@pytest.mark.timeout(60)
def test_orders_sent_together_are_one_batch_and_cancel_all_clears_them(rig: Rig) -> None:
    assert rig.rt.sim is not None
    assert rig.rt.wiring is not None
    signer = rig.rt.wiring.key.address

    def nonces() -> int:
        count: int = rig.rt.sim.call(lambda core: len(core.nonces._sets.get(signer, ())))
        return count

    book = rig.book()
    before = nonces()
    ids = [rig.submit(OrderSide.BUY, "0.02",
                      _passive(book, OrderSide.BUY, str(Decimal("0.02") + Decimal(i) / 1000)),
                      kind=OrderType.LIMIT_MAKER) for i in range(6)]
    for cloid in ids:
        rig.wait_state(cloid, OrderState.OPEN)
    actions = nonces() - before
    assert 1 <= actions < len(ids), f"{len(ids)} orders took {actions} signed actions"
    rig.gate.tell(CancelAll(trading_pair=PAIR, strategy_id="probe"))
    for cloid in ids:
        rig.wait_state(cloid, OrderState.CANCELLED)
    assert not set(ids) & set(rig.venue_open())
    open_now = rig.tracker.ask(GetOpenOrders(strategy_id="probe"), timeout=5)
    assert not {o.client_order_id for o in open_now} & set(ids)


@pytest.mark.timeout(30)
def test_denied_order_is_reported_to_the_strategy(rig: Rig) -> None:
    cloid = rig.submit(OrderSide.BUY, "0.0001", Decimal("1"))  # far below the $10 minimum
    order = rig.wait_state(cloid, OrderState.FAILED)
    assert order.exchange_order_id is None
    events = eventually(lambda: len(rig.events(cloid)) >= 2 and rig.events(cloid))
    assert _names(events) == ["OrderTracked", "OrderFailed"]
    assert "minimum" in getattr(events[-1], "reason", "")
