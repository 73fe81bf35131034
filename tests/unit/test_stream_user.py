"""UserStreamCore without threads: subscriptions, evidence to the tracker, ReconcileAll."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from actors.streaming.link import LinkConfig, LinkState, StreamPorts
from actors.streaming.user import UserStreamConfig, UserStreamCore
from clock import ManualClock
from messages.account import FundingPaid, LiquidationReported, NonUserCancelReported
from messages.feed import FeedConnected, FeedError, FeedLost
from messages.streams import GetStreamStats, UserStreamStats
from messages.tracking import ReconcileAll
from messages.venue import FillsReported, OrderStatusReported
from supervision.policy import Backoff
from tests.helpers import load_recorded
from tests.support.streams import FakeConnector, Inbox

ACCOUNT = "0x" + "Ab" * 20
AGENT = "0x" + "cd" * 20
FILL = load_recorded("docs_info_userFills.json")[0]
CLOID = "0x" + "ab" * 16


def frame(channel: str, data: Any) -> bytes:
    return orjson.dumps({"channel": channel, "data": data})


def order_update(oid: int, status: str = "open") -> dict[str, Any]:
    return {"order": {"coin": "BTC", "side": "B", "limitPx": "97000.0", "sz": "0.01",
                      "oid": oid, "timestamp": 10, "origSz": "0.01", "cloid": CLOID},
            "status": status, "statusTimestamp": 20}


def ack(subscription: dict[str, Any], method: str = "subscribe") -> bytes:
    return frame("subscriptionResponse", {"method": method, "subscription": subscription})


class Tracker:
    def __init__(self) -> None:
        self.got: list[Any] = []

    def tell(self, message: Any) -> None:
        self.got.append(message)

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.got if isinstance(m, kind)]


class Rig:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.inbox = Inbox()
        self.events: list[object] = []
        self.connector = FakeConnector()
        self.tracker = Tracker()
        ports = StreamPorts(
            clock=self.clock, timers=self.clock, post=self.inbox.post, guard=lambda: None,
            events=self.events.append, connector=self.connector, rng=random.Random(1),
        )
        self.core = UserStreamCore(
            config=UserStreamConfig(
                link=LinkConfig(url="ws://x/ws",
                                backoff=Backoff(min_s=1, max_s=1, random_factor=0)),
                account_address=ACCOUNT, agent_address=AGENT, ack_timeout_s=5,
            ),
            ports=ports,
            tracker=self.tracker,
        )
        self.core.start()

    def pump(self) -> None:
        self.inbox.pump(self.core.handle)

    def connect(self) -> None:
        self.connector.latest.open()
        self.pump()

    def frames(self, *frames: bytes) -> None:
        for f in frames:
            self.connector.latest.frame(f)
        self.pump()

    def ack_all(self) -> None:
        self.frames(*(ack(s) for s in self.connector.latest.subscriptions()))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.pump()

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def stats(self) -> UserStreamStats:
        stats = self.core.handle(GetStreamStats())
        assert isinstance(stats, UserStreamStats)
        return stats


def test_subscribes_the_account_not_the_agent() -> None:
    rig = Rig()
    rig.connect()
    subs = rig.connector.latest.subscriptions()
    assert subs == [{"type": t, "user": ACCOUNT.lower()}
                    for t in ("orderUpdates", "userFills", "userEvents")]
    assert all(AGENT not in str(s) for s in subs)
    assert len(rig.of(FeedConnected)) == 1


def test_config_refuses_the_agent_as_account() -> None:
    with pytest.raises(ValueError, match="not the signer's"):
        UserStreamConfig(link=LinkConfig(url="ws://x"), account_address=AGENT,
                         agent_address=AGENT.upper().replace("0X", "0x"))
    with pytest.raises(ValueError, match="40 hex"):
        UserStreamConfig(link=LinkConfig(url="ws://x"), account_address="0x12")


def test_reconcile_all_once_every_subscription_is_acknowledged() -> None:
    rig = Rig()
    rig.connect()
    subs = rig.connector.latest.subscriptions()
    rig.frames(ack(subs[0]), ack(subs[1]))
    assert rig.tracker.of(ReconcileAll) == []
    rig.frames(ack({"type": "l2Book", "coin": "BTC"}), ack(subs[0], "unsubscribe"))
    assert rig.tracker.of(ReconcileAll) == []
    # The venue echoes the address as it likes; matching is on type and lower-cased user.
    rig.frames(ack(dict(subs[2], user=ACCOUNT)))
    [reconcile] = rig.tracker.of(ReconcileAll)
    assert reconcile.reason == "user stream connected"
    rig.ack_all()  # duplicate acks do not reconcile again
    assert len(rig.tracker.of(ReconcileAll)) == 1
    rig.advance(10)  # the ack deadline was cancelled
    assert rig.core.link.state is LinkState.CONNECTED


def test_every_reconnect_reconciles_again() -> None:
    rig = Rig()
    rig.connect()
    rig.ack_all()
    rig.connector.latest.lost()
    rig.pump()
    assert len(rig.of(FeedLost)) == 1
    rig.advance(1)
    rig.connect()
    assert rig.connector.latest.subscriptions() == rig.connector.transports[0].subscriptions()
    assert len(rig.tracker.of(ReconcileAll)) == 1
    rig.ack_all()
    reasons = [r.reason for r in rig.tracker.of(ReconcileAll)]
    assert reasons == ["user stream connected", "user stream reconnected"]
    assert [e.connection for e in rig.of(FeedConnected)] == [1, 2]


def test_unacknowledged_subscriptions_force_a_reconnect() -> None:
    rig = Rig()
    rig.connect()
    subs = rig.connector.latest.subscriptions()
    rig.frames(ack(subs[0]))
    rig.advance(5.1)
    [lost] = rig.of(FeedLost)
    assert "not acknowledged within 5s: userEvents, userFills" in lost.reason
    assert rig.tracker.of(ReconcileAll) == []
    rig.advance(1)
    assert len(rig.connector.transports) == 2


def test_evidence_goes_to_the_tracker_as_parsed() -> None:
    rig = Rig()
    rig.connect()
    rig.ack_all()
    user = ACCOUNT.lower()
    rig.frames(
        frame("userFills", {"isSnapshot": True, "user": user, "fills": [FILL, FILL]}),
        frame("orderUpdates", [order_update(5), order_update(6, "filled")]),
        frame("userFills", {"user": user, "fills": [FILL]}),
        frame("user", {"fills": [FILL]}),
        frame("user", {"nonUserCancel": [{"coin": "BTC", "oid": 77}, {"coin": "ETH", "oid": 78}]}),
        frame("user", {"funding": {"time": 7, "coin": "ETH", "usdc": "-1.5", "szi": "2.0",
                                   "fundingRate": "0.0001"}}),
        frame("user", {"liquidation": {"lid": 9, "liquidator": "0xl", "liquidated_user": "0xu",
                                       "liquidated_ntl_pos": "100.5",
                                       "liquidated_account_value": "3.2"}}),
        frame("user", {"twapHistory": []}),
    )
    kinds = [type(m).__name__ for m in rig.tracker.got]
    assert kinds == ["ReconcileAll", "FillsReported", "OrderStatusReported",
                     "OrderStatusReported", "FillsReported", "FillsReported",
                     "NonUserCancelReported", "NonUserCancelReported"]
    batches = rig.tracker.of(FillsReported)
    assert [b.is_snapshot for b in batches] == [True, False, False]
    assert [len(b.fills) for b in batches] == [2, 1, 1]
    assert [r.exchange_order_id for r in rig.tracker.of(OrderStatusReported)] == [5, 6]
    assert [c.trading_pair for c in rig.tracker.of(NonUserCancelReported)] == [
        "BTC-USD", "ETH-USD"]
    assert len(rig.of(FundingPaid)) == 1
    assert len(rig.of(LiquidationReported)) == 1
    stats = rig.stats()
    assert (stats.order_updates, stats.fill_batches, stats.fills) == (2, 3, 4)
    assert (stats.non_user_cancels, stats.account_events) == (2, 2)


def test_bad_frames_are_reported_and_the_stream_goes_on() -> None:
    rig = Rig()
    rig.connect()
    rig.frames(frame("orderUpdates", [{"order": {}}]), frame("error", "Invalid subscription"),
               frame("orderUpdates", [order_update(5)]))
    assert [e.reason.split(":")[0] for e in rig.of(FeedError)] == ["unusable frame",
                                                                   "venue error"]
    assert len(rig.tracker.of(OrderStatusReported)) == 1
    assert rig.stats().parse_errors == 1


def test_frames_of_an_old_connection_are_not_evidence() -> None:
    rig = Rig()
    rig.connect()
    old = rig.connector.latest
    old.lost()
    rig.pump()
    old.frame(frame("orderUpdates", [order_update(5)]))
    rig.pump()
    assert rig.tracker.got == []
    assert rig.stats().ignored == 1
