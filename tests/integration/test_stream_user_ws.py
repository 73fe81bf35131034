"""The user stream over a real socket on 127.0.0.1: acks → ReconcileAll, the fills snapshot,
evidence to the tracker, reconnects and unacknowledged subscriptions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import pytest

from actors.streaming import LinkConfig, UserStreamConfig
from actors.user_stream import UserStream, UserStreamPeers
from messages.feed import FeedConnected, FeedLost
from messages.tracking import ReconcileAll
from messages.venue import FillsReported, OrderStatusReported
from supervision import ChildContext, ChildSpec, SupervisedActor, SupervisionTree, SupervisorSpec
from supervision.policy import Backoff
from tests.helpers import load_recorded
from tests.support.streams import LocalWsServer
from tests.support.supervision import Collector, EventRecorder

ACCOUNT = "0x" + "12" * 20
FILL = load_recorded("docs_info_userFills.json")[0]


def snapshot(subscription: dict[str, Any]) -> Sequence[bytes]:
    if subscription.get("type") != "userFills":
        return ()
    return (orjson.dumps({"channel": "userFills", "data": {
        "isSnapshot": True, "user": subscription["user"], "fills": [FILL]}}),)


def order_update(oid: int) -> bytes:
    return orjson.dumps({"channel": "orderUpdates", "data": [{
        "order": {"coin": "BTC", "side": "A", "limitPx": "97000.0", "sz": "0.01", "oid": oid,
                  "timestamp": 10, "origSz": "0.01"},
        "status": "open", "statusTimestamp": 20}]})


class Tracker(SupervisedActor):
    def __init__(self, ctx: ChildContext, sink: EventRecorder) -> None:
        super().__init__(ctx)
        self.sink = sink

    def handle(self, message: Any) -> Any:
        self.sink(message)


class Rig:
    def __init__(self, server: LocalWsServer, *, ack_timeout_s: float = 5.0) -> None:
        self.events = EventRecorder()
        self.tracked = EventRecorder()
        config = UserStreamConfig(
            link=LinkConfig(url=server.url, backoff=Backoff(min_s=0.05, max_s=0.2)),
            account_address=ACCOUNT, ack_timeout_s=ack_timeout_s,
        )
        self.tree = SupervisionTree(SupervisorSpec(id="root", children=[
            ChildSpec(id="tracker", factory=lambda ctx: Tracker(ctx, self.tracked)),
            ChildSpec(id="events", factory=lambda ctx: Collector(ctx, self.events)),
            ChildSpec(id="user", factory=lambda ctx: UserStream(
                ctx, config=config,
                peers=UserStreamPeers(tracker="tracker", event_sinks=("events",)))),
        ])).start()


@pytest.fixture
def server() -> Iterator[LocalWsServer]:
    with LocalWsServer(on_subscribe=snapshot) as srv:
        yield srv


@pytest.fixture
def rig(server: LocalWsServer) -> Iterator[Rig]:
    rig = Rig(server)
    yield rig
    rig.tree.stop()


def test_acks_reconcile_and_the_snapshot_reaches_the_tracker(rig: Rig,
                                                              server: LocalWsServer) -> None:
    conn = server.wait_for_connections(1)
    subs = server.wait_received(conn, "subscribe", 3)
    assert [s["subscription"] for s in subs] == [
        {"type": t, "user": ACCOUNT} for t in ("orderUpdates", "userFills", "userEvents")]
    [reconcile] = rig.tracked.wait_for(ReconcileAll)
    assert reconcile.reason == "user stream connected"
    [batch] = rig.tracked.wait_for(FillsReported)
    assert batch.is_snapshot
    assert batch.fills[0].trade_id == FILL["tid"]
    server.push(conn, order_update(41), order_update(42))
    reports = rig.tracked.wait_for(OrderStatusReported, count=2)
    assert [r.exchange_order_id for r in reports] == [41, 42]


def test_each_reconnect_reconciles_and_replays_the_snapshot(rig: Rig,
                                                            server: LocalWsServer) -> None:
    first = server.wait_for_connections(1)
    rig.tracked.wait_for(ReconcileAll)
    server.close(first)
    rig.events.wait_for(FeedLost)
    second = server.wait_for_connections(2)
    server.wait_received(second, "subscribe", 3)
    reconciles = rig.tracked.wait_for(ReconcileAll, count=2)
    assert [r.reason for r in reconciles] == ["user stream connected", "user stream reconnected"]
    snapshots = rig.tracked.wait_for(FillsReported, lambda b: b.is_snapshot, count=2)
    # The same fill again: the tracker deduplicates by trade id.
    assert snapshots[1].fills[0].trade_id == snapshots[0].fills[0].trade_id
    assert [e.connection for e in rig.events.of(FeedConnected)] == [1, 2]


def test_unacknowledged_subscriptions_reconnect_without_reconciling() -> None:
    with LocalWsServer(ack_subscriptions=False) as server:
        rig = Rig(server, ack_timeout_s=0.1)
        try:
            [lost] = rig.events.wait_for(FeedLost)
            assert "not acknowledged" in lost.reason
            server.wait_for_connections(2)
            assert rig.tracked.of(ReconcileAll) == []
        finally:
            rig.tree.stop()
