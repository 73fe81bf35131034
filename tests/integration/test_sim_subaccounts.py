"""Trading for a sub-account end to end, as the venue does it: the master (or its agent) signs
with ``vaultAddress``; the orders, fills, positions, budget and WebSocket events are the
sub-account's and are queried by its address. The official SDK is the client; limits are on."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.types import Cloid

from clock import ManualClock
from venues.simulator import (
    DEMO_ADDRESS,
    DEMO_PRIVATE_KEY,
    FlowConfig,
    RunningSimulator,
    SimulatorConfig,
    start_simulator,
)
from venues.simulator.client import WsClient
from venues.simulator.core import SimulatorCore
from venues.simulator.model import OrderRequest

TIMEOUT = 10.0
SUB = "0x" + "5d" * 20
MAKER = "0x" + "ee" * 20
GTC = {"limit": {"tif": "Gtc"}}


@pytest.fixture(autouse=True)
def unique_sdk_nonces(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = itertools.count(int(time.time() * 1000))
    monkeypatch.setattr("hyperliquid.exchange.get_timestamp_ms", lambda: next(counter))


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(flow=FlowConfig(enabled=False))
    with start_simulator(config, clock=ManualClock(start_ns=time.time_ns())) as s:
        s.fund(MAKER, 10**7)
        s.fund_sub(DEMO_ADDRESS, SUB, 20_000)
        yield s


@pytest.fixture
def info(sim: RunningSimulator) -> Info:
    return Info(sim.base_url, skip_ws=True, timeout=TIMEOUT)


@pytest.fixture
def for_sub(sim: RunningSimulator) -> Exchange:
    """The master's key, trading for the sub-account."""
    return Exchange(Account.from_key(DEMO_PRIVATE_KEY), sim.base_url, vault_address=SUB,
                    timeout=TIMEOUT)


def maker_ask(sim: RunningSimulator, px: int, sz: str = "1") -> None:
    def place(core: SimulatorCore) -> None:
        core.engine.place(MAKER, OrderRequest(asset=1, is_buy=False, px=Decimal(px),
                                              sz=Decimal(sz)))
        core.after_change()

    sim.call(place)


def statuses(answer: Any) -> list[Any]:
    assert answer["status"] == "ok", answer
    result: list[Any] = answer["response"]["data"]["statuses"]
    return result


def test_orders_fills_state_and_budget_are_the_sub_accounts(
    sim: RunningSimulator, info: Info, for_sub: Exchange
) -> None:
    cloid = Cloid.from_int(7)
    (resting,) = statuses(for_sub.order("ETH", True, 0.01, 2000, GTC, cloid=cloid))
    oid = resting["resting"]["oid"]
    assert [o["oid"] for o in info.open_orders(SUB)] == [oid]
    assert info.open_orders(DEMO_ADDRESS) == []
    assert info.query_order_by_oid(SUB, oid)["order"]["status"] == "open"
    assert info.query_order_by_cloid(SUB, cloid)["order"]["order"]["oid"] == oid
    assert info.query_order_by_oid(DEMO_ADDRESS, oid) == {"status": "unknownOid"}

    maker_ask(sim, 3000)
    (filled,) = statuses(for_sub.order("ETH", True, 0.1, 3000, {"limit": {"tif": "Ioc"}}))
    assert filled["filled"]["totalSz"] == "0.1"
    fills = info.user_fills(SUB)
    assert [(f["coin"], f["sz"], f["dir"]) for f in fills] == [("ETH", "0.1", "Open Long")]
    assert info.user_fills(DEMO_ADDRESS) == []
    position = info.user_state(SUB)["assetPositions"][0]["position"]
    assert (position["coin"], position["szi"]) == ("ETH", "0.1")
    assert info.user_state(DEMO_ADDRESS)["assetPositions"] == []

    sub_limit = info.post("/info", {"type": "userRateLimit", "user": SUB})
    master_limit = info.post("/info", {"type": "userRateLimit", "user": DEMO_ADDRESS})
    assert (sub_limit["nRequestsUsed"], sub_limit["cumVlm"]) == (2, "300.0")
    assert master_limit["nRequestsUsed"] == 0


def test_ws_user_channels_of_the_sub_account_carry_its_events(
    sim: RunningSimulator, for_sub: Exchange
) -> None:
    client = WsClient(sim.ws_url, timeout=TIMEOUT)
    master = WsClient(sim.ws_url, timeout=TIMEOUT)
    try:
        for kind in ("orderUpdates", "userEvents", "userFills"):  # the snapshot comes last
            client.subscribe({"type": kind, "user": SUB})
        master.subscribe({"type": "orderUpdates", "user": DEMO_ADDRESS})
        snapshot = client.recv_channel("userFills")
        assert snapshot["data"] == {"isSnapshot": True, "user": SUB, "fills": []}
        maker_ask(sim, 3000)
        (filled,) = statuses(for_sub.order("ETH", True, 0.1, 3000, GTC))
        oid = filled["filled"]["oid"]
        update = client.recv_channel("orderUpdates")
        assert [(u["order"]["oid"], u["status"]) for u in update["data"]] == [(oid, "filled")]
        fills = client.recv_channel("userFills")
        assert fills["data"]["user"] == SUB
        assert [f["oid"] for f in fills["data"]["fills"]] == [oid]
        event = client.recv_channel("user")
        assert [f["oid"] for f in event["data"]["fills"]] == [oid]
        master.send({"method": "ping"})
        assert master.recv() == {"channel": "pong"}  # nothing reached the master's channel
    finally:
        client.close()
        master.close()


def test_an_agent_of_the_master_trades_and_schedules_cancels_for_the_sub(
    sim: RunningSimulator, info: Info
) -> None:
    master = Exchange(Account.from_key(DEMO_PRIVATE_KEY), sim.base_url, timeout=TIMEOUT)
    answer, agent_key = master.approve_agent("bot")
    assert answer["status"] == "ok"
    agent = Exchange(Account.from_key(agent_key), sim.base_url, vault_address=SUB,
                     account_address=DEMO_ADDRESS, timeout=TIMEOUT)
    (for_sub,) = statuses(agent.order("ETH", True, 0.01, 2000, GTC))
    (own,) = statuses(master.order("ETH", True, 0.01, 2000, GTC))
    assert [o["oid"] for o in info.open_orders(SUB)] == [for_sub["resting"]["oid"]]

    now_ms = sim.call(lambda core: core.engine.now_ms())
    assert agent.schedule_cancel(now_ms + 6000)["status"] == "ok"
    sim.advance(7)
    assert info.open_orders(SUB) == []
    assert info.query_order_by_oid(SUB, for_sub["resting"]["oid"])["order"]["status"] == (
        "scheduledCancel")
    assert [o["oid"] for o in info.open_orders(DEMO_ADDRESS)] == [own["resting"]["oid"]]


def test_only_the_master_may_trade_for_a_sub_account(sim: RunningSimulator) -> None:
    stranger_key = "0x" + "77" * 32
    stranger = Account.from_key(stranger_key).address.lower()
    sim.fund(stranger, 1000)
    exchange = Exchange(Account.from_key(stranger_key), sim.base_url, vault_address=SUB,
                        timeout=TIMEOUT)
    assert exchange.order("ETH", True, 0.01, 2000, GTC) == {
        "status": "err", "response": f"Vault not registered: {SUB}"}
