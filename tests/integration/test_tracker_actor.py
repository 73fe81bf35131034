"""The order tracker as a supervised actor: journal recovery after a crash, nothing lost,
nothing published twice, reconciliation requested after every start."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from actors.order_tracker import OrderTracker, OrderTrackerSettings, TrackerPeers
from messages import (
    ClientOrderId,
    ExchangeOrderId,
    OrderEvent,
    OrderSide,
    OrderState,
    OrderType,
    RequestKind,
    SubmitAnswered,
    SubmitOrder,
    SubmitOutcome,
)
from messages.signing import SignOrders
from messages.tracking import GetOpenOrders, GetOrder, ReconcileRequested, RequestSent, TrackedOrder
from supervision.actor import SupervisedActor
from supervision.spec import ChildContext, ChildSpec, SupervisorSpec
from supervision.tree import SupervisionTree
from tests.helpers import eventually
from tests.support.supervision import EventRecorder
from tests.tracker_support import fill_report


class Recorder(SupervisedActor):
    """Stands in for a peer: forwards everything it receives to a test recorder."""

    def __init__(self, ctx: ChildContext, *, sink: EventRecorder) -> None:
        super().__init__(ctx)
        self.sink = sink

    def handle(self, message: Any) -> None:
        self.sink(message)


def _tree(tmp_path: Path, sink: EventRecorder, signer: EventRecorder,
          execution: EventRecorder, tick_s: float = 0.05) -> SupervisionTree:
    settings = OrderTrackerSettings(journal_dir=tmp_path / "journal", tick_s=tick_s,
                                    snapshot_every=7)
    peers = TrackerPeers(signer="signer", execution="execution", event_sinks=("sink",),
                         strategy_path=lambda sid: f"strategies/{sid}" if sid else None)
    spec = SupervisorSpec(id="runtime", intensity=10, period=60, children=(
        ChildSpec(id="signer", factory=lambda ctx: Recorder(ctx, sink=signer)),
        ChildSpec(id="execution", factory=lambda ctx: Recorder(ctx, sink=execution)),
        ChildSpec(id="sink", factory=lambda ctx: Recorder(ctx, sink=sink)),
        ChildSpec(id="order_tracker",
                  factory=lambda ctx: OrderTracker(ctx, settings=settings, peers=peers)),
    ))
    return SupervisionTree(spec).start()


def _submit(n: int) -> SubmitOrder:
    return SubmitOrder(client_order_id=ClientOrderId.derive("actor", n), trading_pair="BTC-USD",
                       side=OrderSide.BUY, order_type=OrderType.LIMIT, amount=Decimal(1),
                       price=Decimal("100"))


@pytest.mark.timeout(60)
def test_crash_loses_nothing_and_publishes_nothing_twice(tmp_path: Path) -> None:
    sink, signer, execution = EventRecorder(), EventRecorder(), EventRecorder()
    tree = _tree(tmp_path, sink, signer, execution)
    try:
        tracker = tree.handle("order_tracker")
        execution.wait_for(ReconcileRequested)  # the first start reconciles too
        ids = [ClientOrderId.derive("actor", n) for n in range(30)]
        for n, cloid in enumerate(ids):
            tracker.tell(_submit(n))
            tracker.tell(RequestSent(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), nonce=n,
                                     expires_after_ms=None, ts_init=0))
            if n % 3 == 0:
                tracker.tell(SubmitAnswered(client_order_id=cloid, outcome=SubmitOutcome.RESTING,
                                            exchange_order_id=ExchangeOrderId(1000 + n),
                                            filled_amount=None, average_price=None, error="",
                                            ts_init=0))
            if n == 10:
                assert tree.crash("order_tracker")
        signer.wait_for(SignOrders, count=30)
        tracker.tell(fill_report(ids[0], 1000, 1, "1", OrderSide.BUY, 0))
        eventually(lambda: tree.incarnation("order_tracker") == 2, timeout=10)
        view = eventually(lambda: _filled(tracker.ask(GetOrder(client_order_id=ids[0]),
                                                      timeout=5)), timeout=10)
        assert view.state is OrderState.FILLED
        open_orders = tracker.ask(GetOpenOrders(), timeout=5)
        assert {o.client_order_id for o in open_orders} == set(ids[1:])
        events = sink.wait_for(OrderEvent, count=30 * 2 + 10 + 1)
        sequences = [e.sequence for e in events]
        assert len(sequences) == len(set(sequences)), "an event was published twice"
        assert sorted(sequences) == list(range(1, len(sequences) + 1)), "an event was lost"
        # the restarted tracker asked for reconciliation again
        execution.wait_for(ReconcileRequested, count=2)
    finally:
        tree.stop()


def _filled(order: TrackedOrder | None) -> TrackedOrder | None:
    return order if order is not None and order.state is OrderState.FILLED else None


@pytest.mark.timeout(60)
def test_restart_of_the_whole_process_recovers_from_the_journal(tmp_path: Path) -> None:
    sink, signer, execution = EventRecorder(), EventRecorder(), EventRecorder()
    tree = _tree(tmp_path, sink, signer, execution)
    cloid = ClientOrderId.derive("actor", 1)
    try:
        tree.handle("order_tracker").tell(_submit(1))
        signer.wait_for(SignOrders)
    finally:
        tree.stop()
    before = [e.sequence for e in sink.of(OrderEvent)]
    sink2, signer2, execution2 = EventRecorder(), EventRecorder(), EventRecorder()
    tree = _tree(tmp_path, sink2, signer2, execution2)
    try:
        order = tree.handle("order_tracker").ask(GetOrder(client_order_id=cloid), timeout=5)
        assert order is not None
        # It may have been sent before the stop: never re-sent, reconciled instead — the open
        # orders and fills at once, its own status when an answer can decide (expiry + grace).
        assert order.state is OrderState.UNKNOWN
        assert not signer2.of(SignOrders)
        request = execution2.wait_for(ReconcileRequested)[0]
        assert request.open_orders
        assert cloid not in request.client_order_ids
        unknown = sink2.wait_for(OrderEvent)[0]
        assert unknown.sequence == max(before) + 1
    finally:
        tree.stop()


@pytest.mark.timeout(30)
def test_orders_of_a_strategy_the_tree_does_not_run_are_tracked_not_fatal(
    tmp_path: Path,
) -> None:
    sink, signer, execution = EventRecorder(), EventRecorder(), EventRecorder()
    tree = _tree(tmp_path, sink, signer, execution)
    try:
        order = attrs.evolve(_submit(7), strategy_id="nobody")
        tree.handle("order_tracker").tell(order)
        signer.wait_for(SignOrders)
        assert sink.wait_for(OrderEvent)[0].strategy_id == "nobody"
        assert tree.incarnation("order_tracker") == 1
        assert not tree.dead_letter_log()
    finally:
        tree.stop()


@pytest.mark.timeout(30)
def test_events_of_an_order_being_signed_wait_for_the_next_input(tmp_path: Path) -> None:
    """The signer and execution get the core before the event subscribers wake: the events of
    an input that went to the signer are delivered when the tracker's next input arrives
    (execution's RequestSent, normally), in order, none lost."""
    sink, signer, execution = EventRecorder(), EventRecorder(), EventRecorder()
    tree = _tree(tmp_path, sink, signer, execution, tick_s=600)  # no tick releases them
    try:
        tracker = tree.handle("order_tracker")
        execution.wait_for(ReconcileRequested)
        cloid = ClientOrderId.derive("actor", 3)
        tracker.tell(_submit(3))
        signer.wait_for(SignOrders)
        # The tracker told the signer and has nothing more to do: the event is still held.
        assert tracker.ask(GetOrder(client_order_id=cloid), timeout=5) is not None
        tracked = sink.wait_for(OrderEvent)  # the ask was an input: it released the event
        assert [e.order_state for e in tracked] == [OrderState.PENDING_CREATE]
        tracker.tell(_submit(4))
        signer.wait_for(SignOrders, count=2)
        assert len(sink.of(OrderEvent)) == 1, "order 4's event was not held"
        tracker.tell(RequestSent(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), nonce=1,
                                 expires_after_ms=None, ts_init=0))
        events = sink.wait_for(OrderEvent, count=3)
        assert [(e.client_order_id, e.order_state) for e in events] == [
            (cloid, OrderState.PENDING_CREATE),
            (ClientOrderId.derive("actor", 4), OrderState.PENDING_CREATE),
            (cloid, OrderState.SUBMITTED),
        ]
        assert [e.sequence for e in events] == sorted(e.sequence for e in events)
    finally:
        tree.stop()
