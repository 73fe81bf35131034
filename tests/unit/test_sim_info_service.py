"""/info answers: shapes copied from the venue's recorded payloads, contents from the engine."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from clock import ManualClock
from tests.helpers import load_recorded
from venues.simulator.actions import DeserializeError
from venues.simulator.config import DEMO_ADDRESS, FlowConfig, SimulatorConfig
from venues.simulator.core import SimulatorCore
from venues.simulator.model import OrderRequest, Trigger

D = Decimal
NOW_MS = 1_750_000_000_000
MAKER = "0x" + "ee" * 20


@pytest.fixture
def core() -> SimulatorCore:
    clock = ManualClock(start_ns=NOW_MS * 1_000_000)
    c = SimulatorCore(SimulatorConfig(flow=FlowConfig(enabled=False)), clock, clock)
    c.start()
    e = c.engine
    e.fund(MAKER, D(1_000_000))
    e.place(MAKER, OrderRequest(asset=1, is_buy=False, px=D(3000), sz=D(2)))
    e.place(MAKER, OrderRequest(asset=1, is_buy=False, px=D(3000), sz=D(1)))
    e.place(MAKER, OrderRequest(asset=1, is_buy=True, px=D(2990), sz=D(1)))
    e.place(DEMO_ADDRESS, OrderRequest(asset=1, is_buy=True, px=D(3000), sz=D("0.5"),
                                        cloid="0x" + "00" * 15 + "2a"))
    e.place(DEMO_ADDRESS, OrderRequest(asset=1, is_buy=True, px=D(2900), sz=D("0.1")))
    e.place(DEMO_ADDRESS, OrderRequest(
        asset=1, is_buy=False, px=D(2800), sz=D("0.5"), reduce_only=True, tif=None,
        trigger=Trigger(is_market=True, trigger_px=D(2850), tpsl="sl"),
    ))
    return c


def ask(core: SimulatorCore, **body: Any) -> Any:
    return core.info.handle(body)


def keys_of(obj: Any) -> set[str]:
    assert isinstance(obj, dict)
    return set(obj)


def test_meta_shape_and_contents(core: SimulatorCore) -> None:
    meta = ask(core, type="meta", dex="")
    recorded = load_recorded("docs_info_meta.json")
    assert keys_of(meta["universe"][0]) >= keys_of(recorded["universe"][0])
    assert [(u["name"], u["szDecimals"]) for u in meta["universe"]] == [
        ("BTC", 5), ("ETH", 4), ("SOL", 2), ("HYPE", 2)]
    assert meta["marginTables"][0][1]["marginTiers"][0]["lowerBound"] == "0.0"
    assert ask(core, type="meta", dex="other") is None
    both = ask(core, type="metaAndAssetCtxs")
    assert both[0] == meta
    rec_ctx = load_recorded("docs_info_metaAndAssetCtxs.json")[1][0]
    assert keys_of(both[1][1]) >= keys_of(rec_ctx)
    assert both[1][1]["midPx"] == "2995.0"
    assert ask(core, type="spotMeta") == {"universe": [], "tokens": [
        load_recorded("docs_info_spotMeta.json")["tokens"][0]]}


def test_all_mids_and_l2_book(core: SimulatorCore) -> None:
    mids = ask(core, type="allMids")
    assert mids["ETH"] == "2995.0"
    assert mids["BTC"] == "100000.0"  # empty book: the reference price
    book = ask(core, type="l2Book", coin="ETH")
    rec = load_recorded("docs_info_l2Book.json")
    assert keys_of(book) == keys_of(rec)
    assert keys_of(book["levels"][0][0]) == keys_of(rec["levels"][0][0])
    assert book["levels"] == [  # the demo's 0.5 bid at 3000 crossed the asks at once
        [{"px": "2990.0", "sz": "1.0", "n": 1}, {"px": "2900.0", "sz": "0.1", "n": 1}],
        [{"px": "3000.0", "sz": "2.5", "n": 2}],
    ]
    assert book["time"] == NOW_MS
    coarse = ask(core, type="l2Book", coin="ETH", nSigFigs=2)
    assert coarse["levels"] == [[{"px": "2900.0", "sz": "1.1", "n": 2}],
                                [{"px": "3000.0", "sz": "2.5", "n": 2}]]
    assert ask(core, type="l2Book", coin="NOPE") is None


def test_open_orders_and_frontend_open_orders(core: SimulatorCore) -> None:
    orders = ask(core, type="openOrders", user=DEMO_ADDRESS, dex="")
    assert [o["limitPx"] for o in orders] == ["2800.0", "2900.0"]  # newest first
    rec = load_recorded("docs_info_openOrders.json")[0]
    assert keys_of(orders[1]) >= keys_of(rec)
    assert orders[0]["reduceOnly"] is True
    assert "cloid" not in orders[1]
    front = ask(core, type="frontendOpenOrders", user=DEMO_ADDRESS.upper().replace("0X", "0x"))
    rec_front = load_recorded("http_info_frontendOpenOrders__test_get_frontend_open_orders_0.json")
    assert keys_of(front[0]) >= keys_of(rec_front[0])
    trigger = front[0]
    assert (trigger["isTrigger"], trigger["orderType"], trigger["tif"]) == (True, "Stop Market",
                                                                           None)
    assert trigger["triggerCondition"] == "Price below 2850.0"
    assert front[1]["orderType"] == "Limit"
    assert front[1]["tif"] == "Gtc"


def test_order_status_by_oid_and_cloid(core: SimulatorCore) -> None:
    cloid = "0x" + "00" * 15 + "2a"
    by_cloid = ask(core, type="orderStatus", user=DEMO_ADDRESS, oid=cloid)
    rec = load_recorded("docs_info_orderStatus_found.json")
    assert keys_of(by_cloid) == keys_of(rec)
    assert keys_of(by_cloid["order"]) == keys_of(rec["order"])
    assert keys_of(by_cloid["order"]["order"]) == keys_of(rec["order"]["order"])
    oid = by_cloid["order"]["order"]["oid"]
    assert by_cloid["order"]["status"] == "filled"  # it crossed the 3000 ask at once
    by_oid = ask(core, type="orderStatus", user=DEMO_ADDRESS, oid=oid)
    assert by_oid == by_cloid
    assert ask(core, type="orderStatus", user=DEMO_ADDRESS, oid=10**9) == {"status": "unknownOid"}
    assert ask(core, type="orderStatus", user=MAKER, oid=cloid) == {"status": "unknownOid"}


def test_user_fills_clearinghouse_rate_limit_and_history(core: SimulatorCore) -> None:
    fills = ask(core, type="userFills", user=DEMO_ADDRESS)
    rec = load_recorded("docs_info_userFills.json")[0]
    assert keys_of(fills[0]) >= keys_of(rec) - {"builderFee"}
    assert fills[0]["cloid"] == "0x" + "00" * 15 + "2a"
    assert (fills[0]["px"], fills[0]["sz"], fills[0]["dir"], fills[0]["crossed"]) == (
        "3000.0", "0.5", "Open Long", True)
    assert fills[0]["fee"] == "0.675"
    by_time = ask(core, type="userFillsByTime", user=DEMO_ADDRESS, startTime=NOW_MS,
                  endTime=None, aggregateByTime=False)
    assert by_time == fills
    assert ask(core, type="userFillsByTime", user=DEMO_ADDRESS, startTime=NOW_MS + 1) == []
    state = ask(core, type="clearinghouseState", user=DEMO_ADDRESS, dex="")
    rec_state = load_recorded("docs_info_clearinghouseState.json")
    assert keys_of(state) == keys_of(rec_state)
    assert keys_of(state["marginSummary"]) == keys_of(rec_state["marginSummary"])
    pos = state["assetPositions"][0]
    assert keys_of(pos["position"]) == keys_of(rec_state["assetPositions"][0]["position"])
    assert (pos["position"]["szi"], pos["position"]["entryPx"]) == ("0.5", "3000.0")
    assert pos["position"]["leverage"] == {"type": "cross", "value": 20}
    assert state["marginSummary"]["totalNtlPos"] == "1497.5"  # 0.5 at mark 2995
    limits = ask(core, type="userRateLimit", user=DEMO_ADDRESS)
    assert keys_of(limits) == keys_of(load_recorded("docs_info_userRateLimit.json"))
    assert limits["cumVlm"] == "1500.0"
    history = ask(core, type="historicalOrders", user=DEMO_ADDRESS)
    assert keys_of(history[0]) == keys_of(load_recorded("docs_info_historicalOrders.json")[0])
    assert [h["status"] for h in history] == ["open", "open", "filled"]


@pytest.mark.parametrize(
    "body",
    [{"type": "nope"}, {"type": "openOrders"}, {"type": "openOrders", "user": "0x12"},
     {"type": "l2Book"}, {"type": "orderStatus", "user": DEMO_ADDRESS, "oid": "0x12"}, []],
)
def test_bad_queries_are_deserialize_errors(core: SimulatorCore, body: Any) -> None:
    with pytest.raises(DeserializeError):
        core.info.handle(body)
