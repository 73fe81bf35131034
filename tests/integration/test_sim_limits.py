"""The venue's limits over real sockets: HTTP 429 ``null`` past the IP weight and recovery,
WebSocket refusals (messages, posts in flight, connections), ``/_control/state``, the switch,
and the launcher's flags. Small configured limits keep every test to a handful of requests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import websocket
from hyperliquid.info import Info
from hyperliquid.utils.error import ClientError

from clock import ManualClock
from tests.helpers import eventually
from venues.hyperliquid.signing import L1Signer
from venues.simulator import (
    DEMO_ADDRESS,
    DEMO_PRIVATE_KEY,
    FlowConfig,
    RunningSimulator,
    SimulatorConfig,
    start_simulator,
)
from venues.simulator.client import HttpClient, WsClient, signed_body
from venues.simulator.limits import LimitsConfig

TIMEOUT = 5.0
WHALE = "0x" + "9a" * 20


def start(limits: LimitsConfig, **changes: Any) -> RunningSimulator:
    config = SimulatorConfig(flow=FlowConfig(enabled=False), limits=limits, **changes)
    return start_simulator(config, clock=ManualClock(start_ns=time.time_ns()))


@pytest.fixture
def http_sim() -> Iterator[RunningSimulator]:
    with start(LimitsConfig(ip_weight=10, window_s=0.5)) as sim:
        yield sim


def test_ip_weight_answers_429_null_and_recovers(http_sim: RunningSimulator) -> None:
    client = HttpClient(http_sim.base_url, timeout=TIMEOUT)
    try:
        # allMids weighs 2: five fit in 10, the sixth does not.
        assert [client.post("/info", {"type": "allMids"})[0] for _ in range(6)] == (
            [200] * 5 + [429])
        assert client.post("/info", {"type": "allMids"}) == (429, None)  # the body is `null`
        # The budget refills continuously (here 10 per 0.5 s): the IP gets through again.
        eventually(lambda: client.post("/info", {"type": "allMids"})[0] == 200, timeout=TIMEOUT)
    finally:
        client.close()
    state = http_sim.limits_state()
    assert state["refusals"]["ip_weight"] >= 2
    assert state["ips"]["127.0.0.1"]["requests"] >= 6


def test_the_sdk_sees_a_client_error_429(http_sim: RunningSimulator) -> None:
    with pytest.raises(ClientError) as caught:
        Info(http_sim.base_url, skip_ws=True, timeout=TIMEOUT)  # meta + spotMeta: 40 > 10
    assert caught.value.status_code == 429
    assert caught.value.error_message == "null"


def test_exchange_weight_is_one_plus_a_fortieth_of_the_batch(http_sim: RunningSimulator) -> None:
    signer = L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False)
    now = int(time.time() * 1000)
    wire = {"a": 1, "b": True, "p": "100", "s": "0.2", "r": False, "t": {"limit": {"tif": "Gtc"}}}
    batch = {"type": "order", "orders": [wire] * 80, "grouping": "na"}
    client = HttpClient(http_sim.base_url, timeout=TIMEOUT)
    try:
        http_sim.reset_limits()
        status, answer = client.post("/exchange", signed_body(signer, batch, now))
        assert status == 200
        assert len(answer["response"]["data"]["statuses"]) == 80
        state = http_sim.limits_state()["ips"]["127.0.0.1"]
        assert state["weight_charged"] == 3
    finally:
        client.close()


def test_the_switch_turns_the_ip_limits_off_but_still_counts() -> None:
    with start(LimitsConfig(ip_weight=2, ws_connections=1), enforce_limits=False) as sim:
        client = HttpClient(sim.base_url, timeout=TIMEOUT)
        ws1, ws2 = WsClient(sim.ws_url, timeout=TIMEOUT), WsClient(sim.ws_url, timeout=TIMEOUT)
        try:
            assert {client.post("/info", {"type": "meta"})[0] for _ in range(5)} == {200}
            ws2.send({"method": "ping"})
            assert ws2.recv() == {"channel": "pong"}
        finally:
            client.close()
            ws1.close()
            ws2.close()
        state = sim.limits_state()
        assert state["enforced"] is False
        assert state["refusals"]["ip_weight"] == 5
        assert state["refusals"]["ws_connections"] == 1
        assert state["ips"]["127.0.0.1"]["weight_charged"] == 100


def test_websocket_posts_in_flight_and_messages() -> None:
    limits = LimitsConfig(ws_inflight_posts=3, ws_messages=6, window_s=60)
    with start(limits) as sim:
        sim.set_faults(delay_s=0.3)  # latency: posts pile up in flight
        client = WsClient(sim.ws_url, timeout=TIMEOUT)
        try:
            for post_id in range(1, 5):
                client.send({"method": "post", "id": post_id,
                             "request": {"type": "info", "payload": {"type": "allMids"}}})
            # The 4th is refused at once; the three in flight are answered after the delay.
            assert client.recv() == {"channel": "error",
                                     "data": "too many pending post requests id=4"}
            assert [client.recv_channel("post")["data"]["id"] for _ in range(3)] == [1, 2, 3]
            sim.clear_faults()
            client.send({"method": "ping"})
            assert client.recv() == {"channel": "pong"}
            client.send({"method": "ping"})  # the 6th message in the window
            assert client.recv() == {"channel": "pong"}
            client.send({"method": "ping"})
            assert client.recv() == {"channel": "error", "data": "too many messages sent"}
        finally:
            client.close()
        refusals = sim.limits_state()["refusals"]
        assert (refusals["ws_inflight_posts"], refusals["ws_messages"]) == (1, 1)


def test_websocket_connections_past_the_limit_are_refused_with_429() -> None:
    with start(LimitsConfig(ws_connections=2)) as sim:
        first, second = WsClient(sim.ws_url, timeout=TIMEOUT), WsClient(sim.ws_url,
                                                                         timeout=TIMEOUT)
        try:
            with pytest.raises(websocket.WebSocketBadStatusException) as caught:
                WsClient(sim.ws_url, timeout=TIMEOUT)
            assert caught.value.status_code == 429
            first.close()
            eventually(lambda: sim.ws_connection_count() == 1, timeout=TIMEOUT)
            third = WsClient(sim.ws_url, timeout=TIMEOUT)
            third.close()
        finally:
            second.close()


def test_control_state_fund_with_volume_and_fund_sub() -> None:
    with start(LimitsConfig()) as sim:
        client = HttpClient(sim.base_url, timeout=TIMEOUT)
        sub = "0x" + "5c" * 20
        try:
            assert client.post("/_control/fund", {"address": WHALE, "usdc": 100,
                                                  "cum_volume": "2500000.5"})[1] == {"ok": True}
            _, limit = client.post("/info", {"type": "userRateLimit", "user": WHALE})
            assert (limit["cumVlm"], limit["nRequestsCap"]) == ("2500000.5", 2_510_000)
            assert client.post("/_control/fund_sub", {"master": DEMO_ADDRESS, "sub": sub,
                                                      "usdc": 50})[1] == {"ok": True}
            _, role = client.post("/info", {"type": "userRole", "user": sub})
            assert role == {"role": "subAccount", "data": {"master": DEMO_ADDRESS}}
            assert client.post("/_control/fund_sub", {"master": sub, "sub": WHALE})[0] == 400
            _, state = client.post("/_control/state", {})
            assert state["limits"]["enforced"] is True
            assert set(state["limits"]["refusals"]) == {
                "ip_weight", "ws_messages", "ws_inflight_posts", "ws_subscriptions", "ws_users",
                "ws_connections", "address_budget", "open_orders"}
            assert state["limits"]["ips"]["127.0.0.1"]["weight_charged"] == 80
            assert client.post("/_control/reset_limits", {})[1] == {"ok": True}
            _, state = client.post("/_control/state", {})
            assert state["limits"]["ips"]["127.0.0.1"]["weight_charged"] == 0
        finally:
            client.close()


def test_cli_flags_for_limits_volume_and_sub_accounts() -> None:
    from venues.simulator.cli import build_config, parse_args

    sub = "0x" + "5c" * 20
    config = build_config(parse_args([
        "--no-limits", "--fund-sub", f"{DEMO_ADDRESS}:{sub}=75", "--volume", f"{sub}=1e6"]))
    assert config.enforce_limits is False
    assert config.address_budget_enforced is False
    spec = config.accounts[-1]
    assert (spec.address, spec.master, spec.usdc, spec.cum_volume) == (
        sub, DEMO_ADDRESS, Decimal(75), Decimal(1_000_000))
    assert build_config(parse_args([])).enforce_limits is True
    for bad in (["--fund-sub", f"{DEMO_ADDRESS}={sub}"], ["--volume", "nope"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_open_order_cap_over_http() -> None:
    with start(LimitsConfig(open_orders=2)) as sim:
        signer = L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False)
        now = int(time.time() * 1000)
        wire = {"a": 1, "b": True, "p": "100", "s": "0.2", "r": False,
                "t": {"limit": {"tif": "Gtc"}}}
        client = HttpClient(sim.base_url, timeout=TIMEOUT)
        try:
            batch = {"type": "order", "orders": [wire] * 3, "grouping": "na"}
            _, answer = client.post("/exchange", signed_body(signer, batch, now))
            assert answer["response"]["data"]["statuses"][2] == {"error": "Too many open orders."}
            _, orders = client.post("/info", {"type": "historicalOrders", "user": DEMO_ADDRESS})
            assert orders[0]["status"] == "tooManyOpenOrdersRejected"
        finally:
            client.close()
        assert json.dumps(sim.limits_state()["refusals"]["open_orders"]) == "1"
