"""The official SDK's WebsocketManager (Info with skip_ws=False) against the simulator."""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info

from clock import ManualClock
from tests.helpers import eventually
from venues.simulator import (
    DEMO_ADDRESS,
    DEMO_PRIVATE_KEY,
    RunningSimulator,
    SimulatorConfig,
    start_simulator,
)

TIMEOUT = 10.0


class Inbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_channel: dict[str, list[Any]] = defaultdict(list)

    def __call__(self, msg: Any) -> None:
        with self._lock:
            self.by_channel[msg["channel"]].append(msg["data"])

    def get(self, channel: str) -> list[Any]:
        with self._lock:
            return list(self.by_channel[channel])


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSimulator]:
    counter = itertools.count(int(time.time() * 1000))
    monkeypatch.setattr("hyperliquid.exchange.get_timestamp_ms", lambda: next(counter))
    with start_simulator(SimulatorConfig(), clock=ManualClock(start_ns=time.time_ns())) as s:
        yield s


@pytest.fixture
def ws_info(sim: RunningSimulator) -> Iterator[Info]:
    info = Info(sim.base_url, skip_ws=False, timeout=TIMEOUT)
    manager = info.ws_manager
    assert manager is not None
    try:
        yield info
    finally:
        # websocket-client's close() can leave the SDK's reader thread blocked in select for
        # its 10 s poll; closing from the server side ends it at once.
        sim.drop_ws_connections()
        manager.join(timeout=TIMEOUT)
        info.disconnect_websocket()
        assert not manager.is_alive()


def test_sdk_subscriptions_receive_books_trades_bbo_orders_and_fills(
    sim: RunningSimulator, ws_info: Info
) -> None:
    inbox = Inbox()
    for subscription in (
        {"type": "l2Book", "coin": "ETH"},
        {"type": "trades", "coin": "ETH"},
        {"type": "bbo", "coin": "ETH"},
        {"type": "orderUpdates", "user": DEMO_ADDRESS},
        {"type": "userFills", "user": DEMO_ADDRESS},
        {"type": "userEvents", "user": DEMO_ADDRESS},
    ):
        ws_info.subscribe(subscription, inbox)
    eventually(lambda: inbox.get("l2Book") and inbox.get("bbo") and inbox.get("userFills"),
               timeout=TIMEOUT, message="initial snapshots")
    book = inbox.get("l2Book")[0]
    assert book["coin"] == "ETH"
    assert 1 <= len(book["levels"][0]) <= 20
    first_bbo = inbox.get("bbo")[0]["bbo"]
    assert first_bbo[0]["px"] == book["levels"][0][0]["px"]
    assert first_bbo[1]["px"] == book["levels"][1][0]["px"]
    snapshot = inbox.get("userFills")[0]
    assert snapshot == {"isSnapshot": True, "user": DEMO_ADDRESS, "fills": []}

    exchange = Exchange(Account.from_key(DEMO_PRIVATE_KEY), sim.base_url, timeout=TIMEOUT)
    answer = exchange.market_open("ETH", True, 0.5)
    filled = answer["response"]["data"]["statuses"][0]["filled"]
    oid = filled["oid"]

    trades = eventually(lambda: inbox.get("trades"), timeout=TIMEOUT, message="trades")
    assert trades[0][0]["coin"] == "ETH"
    assert trades[0][0]["side"] == "B"
    assert DEMO_ADDRESS in trades[0][0]["users"]
    assert sum(float(t["sz"]) for batch in trades for t in batch) == pytest.approx(0.5)
    updates = eventually(lambda: inbox.get("orderUpdates"), timeout=TIMEOUT)
    assert updates[0][0]["order"]["oid"] == oid
    assert updates[0][-1]["status"] == "filled"
    fills = eventually(lambda: inbox.get("userFills")[1:], timeout=TIMEOUT)
    assert fills[0]["user"] == DEMO_ADDRESS
    assert {f["oid"] for f in fills[0]["fills"]} == {oid}
    assert sum(float(f["sz"]) for f in fills[0]["fills"]) == pytest.approx(0.5)
    events = eventually(lambda: inbox.get("user"), timeout=TIMEOUT)
    assert events[0]["fills"][0]["oid"] == oid
    eventually(lambda: len(inbox.get("l2Book")) >= 2, timeout=TIMEOUT)
    after = inbox.get("l2Book")[-1]
    assert after["levels"][1] != book["levels"][1]  # the buy took liquidity off the asks
    eventually(lambda: len(inbox.get("bbo")) >= 2, timeout=TIMEOUT)

    count = len(inbox.get("l2Book"))
    sim.advance(3)  # the synthetic market moves: more book snapshots arrive
    eventually(lambda: len(inbox.get("l2Book")) > count, timeout=TIMEOUT)


def test_sdk_all_mids_and_unsubscribe(sim: RunningSimulator, ws_info: Info) -> None:
    inbox = Inbox()
    sub_id = ws_info.subscribe({"type": "allMids"}, inbox)
    mids = eventually(lambda: inbox.get("allMids"), timeout=TIMEOUT)
    assert set(mids[0]["mids"]) == {"BTC", "ETH", "SOL", "HYPE"}
    sim.advance(2)
    eventually(lambda: len(inbox.get("allMids")) >= 2, timeout=TIMEOUT)
    assert ws_info.unsubscribe({"type": "allMids"}, sub_id)
    eventually(lambda: sim.call(lambda core: core.hub.subscriber_count(("allMids",))) == 0,
               timeout=TIMEOUT)
