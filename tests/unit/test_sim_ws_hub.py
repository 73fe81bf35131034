"""WebSocket protocol logic without sockets: subscriptions, snapshots, fan-out, post, ping."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from clock import ManualClock
from tests.helpers import load_recorded
from venues.hyperliquid.signing import L1Signer
from venues.simulator.client import signed_body
from venues.simulator.config import DEMO_ADDRESS, DEMO_PRIVATE_KEY, FlowConfig, SimulatorConfig
from venues.simulator.core import SimulatorCore
from venues.simulator.model import OrderRequest

D = Decimal
NOW_MS = 1_750_000_000_000
MAKER = "0x" + "ee" * 20


class Box:
    def __init__(self) -> None:
        self.frames: list[Any] = []

    def send(self, text: str) -> None:
        self.frames.append(json.loads(text))

    def take(self) -> list[Any]:
        out, self.frames = self.frames, []
        return out


@pytest.fixture
def core() -> SimulatorCore:
    clock = ManualClock(start_ns=NOW_MS * 1_000_000)
    c = SimulatorCore(SimulatorConfig(flow=FlowConfig(enabled=False)), clock, clock)
    c.start()
    c.engine.fund(MAKER, D(1_000_000))
    return c


@pytest.fixture
def box(core: SimulatorCore) -> Box:
    b = Box()
    core.hub.connect(1, b)
    return b


def send(core: SimulatorCore, msg: Any) -> None:
    core.hub.on_text(1, json.dumps(msg))


def sub(core: SimulatorCore, subscription: dict[str, Any], method: str = "subscribe") -> None:
    send(core, {"method": method, "subscription": subscription})


def maker_order(core: SimulatorCore, is_buy: bool, px: str, sz: str = "1") -> None:
    core.engine.place(MAKER, OrderRequest(asset=1, is_buy=is_buy, px=D(px), sz=D(sz)))
    core.after_change()


def test_subscription_ack_echoes_like_the_venue_and_errors(core: SimulatorCore, box: Box) -> None:
    sub(core, {"type": "trades", "coin": "ETH"})
    ack = box.take()
    assert ack == [load_recorded("docs_ws_subscriptionResponse_trades.json") | {
        "data": {"method": "subscribe", "subscription": {"type": "trades", "coin": "ETH"}}}]
    sub(core, {"type": "trades", "coin": "ETH"})
    assert box.take() == [{"channel": "error",
                           "data": 'Already subscribed: {"type":"trades","coin":"ETH"}'}]
    sub(core, {"type": "trades", "coin": "DOGE"})
    assert box.take()[0]["data"].startswith("Invalid subscription")
    sub(core, {"type": "trades", "coin": "ETH"}, "unsubscribe")
    assert box.take()[0]["data"]["method"] == "unsubscribe"
    sub(core, {"type": "trades", "coin": "ETH"}, "unsubscribe")
    assert box.take()[0]["data"].startswith("Already unsubscribed")
    send(core, {"method": "ping"})
    assert box.take() == [load_recorded("docs_ws_pong.json")]


def test_l2book_snapshot_on_subscribe_and_on_every_change(core: SimulatorCore, box: Box) -> None:
    maker_order(core, True, "2990")
    sub(core, {"type": "l2Book", "coin": "ETH"})
    ack, snap = box.take()
    assert ack["channel"] == "subscriptionResponse"
    assert snap == {"channel": "l2Book", "data": {
        "coin": "ETH", "time": NOW_MS,
        "levels": [[{"px": "2990.0", "sz": "1.0", "n": 1}], []]}}
    maker_order(core, False, "3010", "2")
    (update,) = box.take()
    assert update["data"]["levels"][1] == [{"px": "3010.0", "sz": "2.0", "n": 1}]
    core.engine.place(MAKER, OrderRequest(asset=0, is_buy=True, px=D(90000), sz=D("0.001")))
    core.after_change()
    assert box.take() == []  # BTC changed; nobody asked for BTC


def test_bbo_only_when_the_top_changes_and_trades_and_mids(core: SimulatorCore, box: Box) -> None:
    maker_order(core, True, "2990")
    maker_order(core, False, "3010")
    for s in ({"type": "bbo", "coin": "ETH"}, {"type": "trades", "coin": "ETH"},
              {"type": "allMids"}):
        sub(core, s)
    frames = box.take()
    assert frames[1]["data"]["bbo"] == [{"px": "2990.0", "sz": "1.0", "n": 1},
                                        {"px": "3010.0", "sz": "1.0", "n": 1}]
    assert frames[-1] == {"channel": "allMids", "data": {"mids": {
        "BTC": "100000.0", "ETH": "3000.0", "SOL": "150.0", "HYPE": "30.0"}}}
    maker_order(core, True, "2980")  # deeper level: bbo and mid unchanged
    assert box.take() == []
    core.engine.place(DEMO_ADDRESS, OrderRequest(asset=1, is_buy=True, px=D(3010), sz=D("0.5"),
                                                  tif="Ioc"))
    core.after_change()
    by_channel = {f["channel"]: f["data"] for f in box.take()}
    assert by_channel["bbo"]["bbo"][1] == {"px": "3010.0", "sz": "0.5", "n": 1}
    (trade,) = by_channel["trades"]
    assert {k: trade[k] for k in ("coin", "side", "px", "sz")} == {
        "coin": "ETH", "side": "B", "px": "3010.0", "sz": "0.5"}
    assert trade["users"] == [DEMO_ADDRESS, MAKER]
    assert "allMids" not in by_channel  # the mid is still 3000: mids are sent only on change


def test_user_channels(core: SimulatorCore, box: Box) -> None:
    maker_order(core, False, "3000", "1")
    core.engine.place(DEMO_ADDRESS, OrderRequest(asset=1, is_buy=True, px=D(3000), sz=D("0.1")))
    core.after_change()
    for s in ({"type": "orderUpdates", "user": DEMO_ADDRESS},
              {"type": "userFills", "user": DEMO_ADDRESS},
              {"type": "userEvents", "user": DEMO_ADDRESS}):
        sub(core, s)
    (snapshot,) = [f for f in box.take() if f["channel"] == "userFills"]
    assert snapshot["data"]["isSnapshot"] is True
    assert snapshot["data"]["user"] == DEMO_ADDRESS
    assert [f["sz"] for f in snapshot["data"]["fills"]] == ["0.1"]
    core.engine.place(DEMO_ADDRESS, OrderRequest(asset=1, is_buy=True, px=D(3000), sz=D("0.2")))
    core.after_change()
    by_channel = {f["channel"]: f["data"] for f in box.take()}
    (update,) = by_channel["orderUpdates"]
    assert update["status"] == "filled"
    assert set(update) == {"order", "status", "statusTimestamp"}
    assert update["order"]["origSz"] == "0.2"
    assert "isSnapshot" not in by_channel["userFills"]
    assert by_channel["userFills"]["fills"][0]["startPosition"] == "0.1"
    assert by_channel["user"]["fills"][0]["dir"] == "Open Long"


def test_post_info_action_and_errors(core: SimulatorCore, box: Box) -> None:
    request = load_recorded("docs_ws_post_info_l2Book_request.json")
    request["request"]["payload"]["nSigFigs"] = None
    send(core, request)
    (reply,) = box.take()
    expected = load_recorded("docs_ws_post_info_l2Book_response.json")
    assert reply["channel"] == expected["channel"]
    assert reply["data"]["id"] == expected["data"]["id"]
    assert reply["data"]["response"]["type"] == "info"
    assert reply["data"]["response"]["payload"]["type"] == "l2Book"
    assert reply["data"]["response"]["payload"]["data"]["coin"] == "ETH"
    body = signed_body(L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False), {
        "type": "order",
        "orders": [{"a": 1, "b": True, "p": "1100", "s": "0.2", "r": False,
                    "t": {"limit": {"tif": "Gtc"}}}],
        "grouping": "na"}, NOW_MS)
    send(core, {"method": "post", "id": 256, "request": {"type": "action", "payload": body}})
    (reply,) = box.take()
    assert reply["data"]["id"] == 256
    assert reply["data"]["response"]["type"] == "action"
    assert "resting" in reply["data"]["response"]["payload"]["response"]["data"]["statuses"][0]
    send(core, {"method": "post", "id": 7, "request": {"type": "info", "payload": {"type": "x"}}})
    (reply,) = box.take()
    assert reply["data"]["response"]["type"] == "error"
    assert "Failed to deserialize" in reply["data"]["response"]["payload"]
    send(core, {"method": "post", "request": {"type": "info", "payload": {"type": "meta"}}})
    assert box.take()[0]["channel"] == "error"


def test_disconnect_forgets_subscriptions(core: SimulatorCore, box: Box) -> None:
    sub(core, {"type": "l2Book", "coin": "ETH"})
    core.hub.disconnect(1)
    assert core.hub.subscriber_count(("l2Book", "ETH", None, None)) == 0
    maker_order(core, True, "2990")
    assert len(box.take()) == 2  # only the ack and the snapshot from before
