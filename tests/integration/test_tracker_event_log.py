"""The order tracker writes every event to the durable event log before anyone hears of it,
and after a crash (or a kill -9) logs and delivers exactly the events it had computed but never
logged: the log holds every event once, with no hole, whatever happened."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.order_tracker import OrderTracker, OrderTrackerSettings, TrackerPeers
from messages import (
    ClientOrderId,
    ExchangeOrderId,
    OrderEvent,
    OrderSide,
    OrderType,
    RequestKind,
    SubmitAnswered,
    SubmitOrder,
    SubmitOutcome,
)
from messages.codec import decode
from messages.tracking import GetOpenOrders, RequestSent
from supervision.actor import SupervisedActor
from supervision.eventlog import EventLog, EventLogReader
from supervision.spec import ChildContext, ChildSpec, SupervisorSpec
from supervision.tree import SupervisionTree
from tests.helpers import eventually
from tests.support.supervision import EventRecorder


class Recorder(SupervisedActor):
    def __init__(self, ctx: ChildContext, *, sink: EventRecorder) -> None:
        super().__init__(ctx)
        self.sink = sink

    def handle(self, message: Any) -> None:
        self.sink(message)


def _tree(root: Path, sink: EventRecorder, *, snapshot_every: int = 10_000) -> SupervisionTree:
    settings = OrderTrackerSettings(journal_dir=root / "journal", tick_s=0.05,
                                    snapshot_every=snapshot_every, event_log_dir=root / "events")
    peers = TrackerPeers(signer="signer", execution="execution", event_sinks=("sink",))
    quiet = EventRecorder()
    spec = SupervisorSpec(id="runtime", intensity=10, period=60, children=(
        ChildSpec(id="signer", factory=lambda ctx: Recorder(ctx, sink=quiet)),
        ChildSpec(id="execution", factory=lambda ctx: Recorder(ctx, sink=quiet)),
        ChildSpec(id="sink", factory=lambda ctx: Recorder(ctx, sink=sink)),
        ChildSpec(id="order_tracker",
                  factory=lambda ctx: OrderTracker(ctx, settings=settings, peers=peers)),
    ))
    return SupervisionTree(spec).start()


def _trade(tree: SupervisionTree, first: int, count: int) -> None:
    tracker = tree.handle("order_tracker")
    for n in range(first, first + count):
        cloid = ClientOrderId.derive("log", n)
        tracker.tell(SubmitOrder(client_order_id=cloid, trading_pair="BTC-USD",
                                 side=OrderSide.BUY, order_type=OrderType.LIMIT,
                                 amount=Decimal(1), price=Decimal(100)))
        tracker.tell(RequestSent(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), nonce=n,
                                 expires_after_ms=None, ts_init=0))
        tracker.tell(SubmitAnswered(client_order_id=cloid, outcome=SubmitOutcome.RESTING,
                                    exchange_order_id=ExchangeOrderId(5000 + n),
                                    filled_amount=None, average_price=None, error="", ts_init=0))


def _logged(directory: Path) -> list[tuple[int, OrderEvent]]:
    records = EventLogReader(directory).read(0, 1_000_000)
    return [(seq, decode(payload)) for seq, payload in records]


def _quiet(tree: SupervisionTree) -> None:
    """Every input so far handled (an ask waits behind them)."""
    tree.handle("order_tracker").ask(GetOpenOrders(), timeout=10)


@pytest.mark.timeout(60)
def test_every_event_is_logged_once_in_order_through_crashes(tmp_path: Path) -> None:
    sink = EventRecorder()
    tree = _tree(tmp_path, sink, snapshot_every=13)
    try:
        _trade(tree, 0, 10)
        _quiet(tree)
        assert tree.crash("order_tracker")
        _trade(tree, 10, 10)
        _quiet(tree)
        assert tree.crash("order_tracker")
        _trade(tree, 20, 10)
        _quiet(tree)
        # Everything logged reaches the sink too (its actor runs on its own thread).
        eventually(lambda: len(sink.of(OrderEvent))
                   == EventLogReader(tmp_path / "events").last_sequence() > 0)
        delivered = sink.of(OrderEvent)
    finally:
        tree.stop()
    logged = _logged(tmp_path / "events")
    sequences = [seq for seq, _ in logged]
    assert sequences == list(range(1, len(logged) + 1))
    assert all(event.sequence == seq for seq, event in logged)
    # Exactly what the subscribers were told, field for field.
    assert [e.sequence for e in delivered] == sequences
    assert [event for _, event in logged] == delivered


@pytest.mark.timeout(60)
def test_events_computed_but_never_logged_are_logged_and_delivered_after_a_kill(
    tmp_path: Path,
) -> None:
    """kill -9 between the journal append and the event log append: the journal proves the
    events were computed; the next start rebuilds, logs and delivers exactly those."""
    live, first_sink = tmp_path / "live", EventRecorder()
    tree = _tree(live, first_sink)
    try:
        _trade(tree, 0, 12)
        _quiet(tree)
        eventually(lambda: EventLogReader(live / "events").last_sequence() >= 36)
        killed = tmp_path / "killed"
        # The files as a kill -9 leaves them: copied while the process runs (no clean stop, no
        # snapshot), with the event log cut back as if the last appends never happened.
        shutil.copytree(live / "journal", killed / "journal")
        records = EventLogReader(live / "events").read(0, 1_000_000)
    finally:
        tree.stop()
    kept = len(records) - 7
    with EventLog.open(killed / "events") as cut:
        cut.append_many(records[:kept])
    sink = EventRecorder()
    restarted = _tree(killed, sink)
    try:
        _quiet(restarted)
        sink.wait_for(OrderEvent, lambda e: e.sequence == len(records), timeout=10)
    finally:
        restarted.stop()
    redelivered = [e for e in sink.of(OrderEvent) if e.sequence <= len(records)]
    assert [e.sequence for e in redelivered] == list(range(kept + 1, len(records) + 1))
    assert redelivered == [decode(p) for _, p in records[kept:]]  # the very same events
    logged = _logged(killed / "events")
    assert [seq for seq, _ in logged] == list(range(1, len(logged) + 1))
