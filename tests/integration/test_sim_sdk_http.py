"""The official hyperliquid-python-sdk (Info, Exchange) against the simulator on 127.0.0.1.

Deterministic mode: a ManualClock started at the wall-clock time (the SDK's nonces are wall
time), so the synthetic market moves only when a test calls ``sim.advance``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
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
    RunningSimulator,
    SimulatorConfig,
    start_simulator,
)

TIMEOUT = 10.0


@pytest.fixture(autouse=True)
def unique_sdk_nonces(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK uses the wall-clock millisecond as nonce; two calls in one millisecond would
    collide (a real client bug the venue also punishes), so tests hand out unique ones."""
    counter = itertools.count(int(time.time() * 1000))
    monkeypatch.setattr("hyperliquid.exchange.get_timestamp_ms", lambda: next(counter))


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(SimulatorConfig(), clock=ManualClock(start_ns=time.time_ns())) as s:
        yield s


@pytest.fixture
def info(sim: RunningSimulator) -> Info:
    return Info(sim.base_url, skip_ws=True, timeout=TIMEOUT)


@pytest.fixture
def exchange(sim: RunningSimulator) -> Exchange:
    return Exchange(Account.from_key(DEMO_PRIVATE_KEY), sim.base_url, timeout=TIMEOUT)


def statuses(answer: dict[str, Any]) -> list[Any]:
    assert answer["status"] == "ok", answer
    result: list[Any] = answer["response"]["data"]["statuses"]
    return result


def best(info: Info, coin: str) -> tuple[float, float]:
    levels = info.l2_snapshot(coin)["levels"]
    return float(levels[0][0]["px"]), float(levels[1][0]["px"])


def test_info_meta_book_state_and_empty_lists(info: Info) -> None:
    universe = info.meta()["universe"]
    assert [(u["name"], u["szDecimals"]) for u in universe] == [
        ("BTC", 5), ("ETH", 4), ("SOL", 2), ("HYPE", 2)]
    book = info.l2_snapshot("ETH")
    bids, asks = book["levels"]
    assert book["coin"] == "ETH"
    assert 1 <= len(bids) <= 20
    assert 1 <= len(asks) <= 20
    assert float(bids[0]["px"]) < float(asks[0]["px"])
    assert [float(b["px"]) for b in bids] == sorted((float(b["px"]) for b in bids), reverse=True)
    state = info.user_state(DEMO_ADDRESS)
    assert state["marginSummary"]["accountValue"] == "1000000.0"
    assert state["assetPositions"] == []
    assert info.open_orders(DEMO_ADDRESS) == []
    assert info.user_fills(DEMO_ADDRESS) == []
    assert float(info.all_mids()["ETH"]) == pytest.approx(sum(best(info, "ETH")) / 2)


def test_limit_orders_cloid_query_cancel_and_modify(info: Info, exchange: Exchange) -> None:
    bid, _ask = best(info, "ETH")
    low = round(bid * 0.9, 1)
    cloid = Cloid.from_int(42)
    (resting,) = statuses(exchange.order("ETH", True, 0.01, low, {"limit": {"tif": "Gtc"}},
                                         cloid=cloid))
    oid = resting["resting"]["oid"]
    status = info.query_order_by_cloid(DEMO_ADDRESS, cloid)
    assert status["status"] == "order"
    assert status["order"]["status"] == "open"
    assert status["order"]["order"]["oid"] == oid
    assert float(status["order"]["order"]["limitPx"]) == low
    assert info.query_order_by_oid(DEMO_ADDRESS, oid)["order"]["order"]["cloid"] == cloid.to_raw()

    (alo,) = statuses(exchange.order("ETH", False, 0.01, round(bid * 1.2, 1),
                                     {"limit": {"tif": "Alo"}}))
    alo_oid = alo["resting"]["oid"]
    assert {o["oid"] for o in info.open_orders(DEMO_ADDRESS)} == {oid, alo_oid}

    modified = exchange.modify_order(oid, "ETH", True, 0.02, round(bid * 0.8, 1),
                                     {"limit": {"tif": "Gtc"}}, cloid=cloid)
    (new,) = statuses(modified)
    new_oid = new["resting"]["oid"]
    assert new_oid != oid
    assert info.query_order_by_oid(DEMO_ADDRESS, oid)["order"]["status"] == "canceled"
    bulk = exchange.bulk_modify_orders_new([
        {"oid": alo_oid, "order": {"coin": "ETH", "is_buy": False, "sz": 0.03,
                                   "limit_px": round(bid * 1.3, 1),
                                   "order_type": {"limit": {"tif": "Alo"}},
                                   "reduce_only": False, "cloid": None}},
        {"oid": cloid, "order": {"coin": "ETH", "is_buy": True, "sz": 0.04,
                                 "limit_px": round(bid * 0.7, 1),
                                 "order_type": {"limit": {"tif": "Gtc"}},
                                 "reduce_only": False, "cloid": cloid}},
    ])
    assert all("resting" in s for s in statuses(bulk))
    sizes = sorted(o["sz"] for o in info.open_orders(DEMO_ADDRESS))
    assert sizes == ["0.03", "0.04"]

    assert statuses(exchange.cancel_by_cloid("ETH", cloid)) == ["success"]
    remaining = info.open_orders(DEMO_ADDRESS)
    assert len(remaining) == 1
    assert statuses(exchange.cancel("ETH", remaining[0]["oid"])) == ["success"]
    assert statuses(exchange.cancel("ETH", remaining[0]["oid"])) == [
        {"error": "Order was never placed, already canceled, or filled."}]
    assert info.open_orders(DEMO_ADDRESS) == []


def test_market_ioc_fills_and_user_fills_and_position(info: Info, exchange: Exchange) -> None:
    _bid, ask = best(info, "ETH")
    (filled,) = statuses(exchange.market_open("ETH", True, 0.05))
    total = filled["filled"]
    assert total["totalSz"] == "0.05"
    assert float(total["avgPx"]) >= ask
    fills = info.user_fills(DEMO_ADDRESS)
    assert sum(float(f["sz"]) for f in fills) == pytest.approx(0.05)
    assert {f["oid"] for f in fills} == {total["oid"]}
    assert all(f["crossed"] and f["side"] == "B" and f["feeToken"] == "USDC" for f in fills)
    assert fills[-1]["dir"] == "Open Long"
    assert float(fills[0]["fee"]) == pytest.approx(float(fills[0]["px"]) * float(
        fills[0]["sz"]) * 0.00045, abs=1e-6)
    position = info.user_state(DEMO_ADDRESS)["assetPositions"][0]["position"]
    assert (position["coin"], position["szi"]) == ("ETH", "0.05")
    (closed,) = statuses(exchange.market_close("ETH"))
    assert closed["filled"]["totalSz"] == "0.05"
    assert info.user_state(DEMO_ADDRESS)["assetPositions"] == []
    assert info.user_fills(DEMO_ADDRESS)[0]["dir"] == "Close Long"
    (ioc,) = statuses(exchange.order("ETH", True, 0.01, round(ask * 0.5, 1),
                                     {"limit": {"tif": "Ioc"}}))
    assert ioc == {"error": "Order could not immediately match against any resting orders."}


def test_trigger_orders_and_tpsl_grouping(
    sim: RunningSimulator, info: Info, exchange: Exchange
) -> None:
    bid, ask = best(info, "ETH")
    statuses(exchange.market_open("ETH", True, 0.1))
    triggers = [
        ({"trigger": {"triggerPx": round(bid * 0.95, 1), "isMarket": True, "tpsl": "sl"}},
         "Stop Market", round(bid * 0.5, 1)),
        ({"trigger": {"triggerPx": round(bid * 0.94, 1), "isMarket": False, "tpsl": "sl"}},
         "Stop Limit", round(bid * 0.94, 1)),
        ({"trigger": {"triggerPx": round(ask * 1.05, 1), "isMarket": True, "tpsl": "tp"}},
         "Take Profit Market", round(ask * 1.5, 1)),
        ({"trigger": {"triggerPx": round(ask * 1.06, 1), "isMarket": False, "tpsl": "tp"}},
         "Take Profit Limit", round(ask * 1.06, 1)),
    ]
    oids = {}
    for order_type, name, px in triggers:
        (status,) = statuses(exchange.order("ETH", False, 0.02, px, order_type, reduce_only=True))
        oids[name] = status["resting"]["oid"]
    front = info.frontend_open_orders(DEMO_ADDRESS)
    assert sorted(o["orderType"] for o in front) == sorted(n for _t, n, _p in triggers)
    assert all(o["isTrigger"] and o["reduceOnly"] and o["tif"] is None for o in front)
    grouped = exchange.bulk_orders([
        {"coin": "ETH", "is_buy": True, "sz": 0.02, "limit_px": round(bid * 0.9, 1),
         "order_type": {"limit": {"tif": "Gtc"}}, "reduce_only": False},
        {"coin": "ETH", "is_buy": False, "sz": 0.02, "limit_px": round(bid * 1.1, 1),
         "order_type": {"trigger": {"triggerPx": round(bid * 1.1, 1), "isMarket": False,
                                    "tpsl": "tp"}}, "reduce_only": True},
        {"coin": "ETH", "is_buy": False, "sz": 0.02, "limit_px": round(bid * 0.8, 1),
         "order_type": {"trigger": {"triggerPx": round(bid * 0.85, 1), "isMarket": True,
                                    "tpsl": "sl"}}, "reduce_only": True},
    ], grouping="normalTpsl")
    parent, tp, sl = statuses(grouped)
    assert "resting" in parent
    assert (tp, sl) == ("waitingForFill", "waitingForFill")
    parent_view = next(o for o in info.frontend_open_orders(DEMO_ADDRESS)
                       if o["oid"] == parent["resting"]["oid"])
    assert [c["orderType"] for c in parent_view["children"]] == ["Take Profit Limit",
                                                                 "Stop Market"]
    # Another account parks a deep bid, then sweeps the book down: the mid falls through both
    # stops. The stop-market sells into the parked bid; the stop-limit rests at its price.
    whale = Account.create()
    sim.fund(whale.address, 10**8)
    whale_ex = Exchange(whale, sim.base_url, timeout=TIMEOUT)
    statuses(whale_ex.order("ETH", True, 5.0, round(bid * 0.8, 1), {"limit": {"tif": "Gtc"}}))
    statuses(whale_ex.order("ETH", False, 40.0, round(bid * 0.9, 1), {"limit": {"tif": "Ioc"}}))
    history = {h["order"]["oid"]: h["status"] for h in info.historical_orders(DEMO_ADDRESS)}
    assert history[oids["Stop Market"]] == "filled"
    assert history[oids["Stop Limit"]] == "triggered"
    assert history[oids["Take Profit Market"]] == "open"
    assert history[parent["resting"]["oid"]] == "filled"  # the sweep filled the TP/SL parent
    children = {c["oid"]: c["orderType"] for c in parent_view["children"]}
    open_now = {o["oid"]: o["orderType"] for o in info.frontend_open_orders(DEMO_ADDRESS)}
    assert children.items() <= open_now.items()  # the children are live orders of their own
    stop_fill = [f for f in info.user_fills(DEMO_ADDRESS) if f["oid"] == oids["Stop Market"]]
    assert [(f["px"], f["sz"], f["dir"]) for f in stop_fill] == [
        (f"{round(bid * 0.8, 1)}", "0.02", "Close Long")]


def test_leverage_schedule_cancel_and_agent(
    sim: RunningSimulator, info: Info, exchange: Exchange
) -> None:
    assert exchange.update_leverage(5, "ETH") == {"status": "ok", "response": {"type": "default"}}
    assert exchange.update_leverage(5, "ETH", is_cross=False)["status"] == "ok"
    statuses(exchange.market_open("ETH", True, 0.05))
    position = info.user_state(DEMO_ADDRESS)["assetPositions"][0]["position"]
    assert position["leverage"]["type"] == "isolated"
    assert position["leverage"]["value"] == 5
    assert exchange.update_isolated_margin(10, "ETH")["status"] == "ok"
    assert info.user_state(DEMO_ADDRESS)["assetPositions"][0]["position"]["marginUsed"] != (
        position["marginUsed"])

    answer, agent_key = exchange.approve_agent("bot")
    assert answer == {"status": "ok", "response": {"type": "default"}}
    agent = Exchange(Account.from_key(agent_key), sim.base_url, account_address=DEMO_ADDRESS,
                     timeout=TIMEOUT)
    bid, _ask = best(info, "ETH")
    (by_agent,) = statuses(agent.order("ETH", True, 0.01, round(bid * 0.9, 1),
                                       {"limit": {"tif": "Gtc"}}))
    assert by_agent["resting"]["oid"] in {o["oid"] for o in info.open_orders(DEMO_ADDRESS)}
    assert info.user_role(Account.from_key(agent_key).address)["role"] == "agent"

    now_ms = sim.call(lambda core: core.engine.now_ms())
    assert exchange.schedule_cancel(now_ms + 6000)["status"] == "ok"
    sim.advance(5)
    assert len(info.open_orders(DEMO_ADDRESS)) == 1
    sim.advance(2)
    assert info.open_orders(DEMO_ADDRESS) == []
    assert info.query_order_by_oid(DEMO_ADDRESS, by_agent["resting"]["oid"])["order"][
        "status"] == "scheduledCancel"


def test_rejections_as_the_venue_answers(sim: RunningSimulator, exchange: Exchange) -> None:
    stranger = Exchange(Account.create(), sim.base_url, timeout=TIMEOUT)
    answer = stranger.order("ETH", True, 0.01, 3000, {"limit": {"tif": "Gtc"}})
    assert answer["status"] == "err"
    assert answer["response"] == (
        f"User or API Wallet {stranger.wallet.address.lower()} does not exist.")
    nonce = int(time.time() * 1000) - 10_000
    assert exchange.noop(nonce) == {"status": "ok", "response": {"type": "default"}}
    assert exchange.noop(nonce) == {"status": "err",
                                    "response": f"Invalid nonce: duplicate nonce {nonce}"}
    assert statuses(exchange.order("ETH", True, 0.01, 3000.05, {"limit": {"tif": "Gtc"}})) == [
        {"error": "Price must be divisible by tick size."}]
    assert statuses(exchange.order("ETH", True, 0.001, 3000, {"limit": {"tif": "Gtc"}})) == [
        {"error": "Order must have minimum value of $10."}]


def test_wrong_network_flag_is_an_unknown_wallet() -> None:
    config = SimulatorConfig(is_mainnet=True)
    with start_simulator(config, clock=ManualClock(start_ns=time.time_ns())) as sim:
        # The SDK signs for testnet whenever its URL is not mainnet's.
        ex = Exchange(Account.from_key(DEMO_PRIVATE_KEY), sim.base_url, timeout=TIMEOUT)
        answer = ex.order("ETH", True, 0.01, 3000, {"limit": {"tif": "Gtc"}})
        assert answer["status"] == "err"
        assert answer["response"].startswith("User or API Wallet 0x")
        assert DEMO_ADDRESS not in answer["response"]
