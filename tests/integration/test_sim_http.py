"""The simulator over real sockets: HTTP status codes, raw WebSocket behaviour, control
endpoints, and the scripts/sim launcher."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO

import pytest

from clock import ManualClock
from tests.helpers import REPO, eventually
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
from venues.simulator.model import OrderRequest

TIMEOUT = 5.0


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(flow=FlowConfig(enabled=False), idle_timeout_s=0.5)
    with start_simulator(config, clock=ManualClock(start_ns=time.time_ns())) as s:
        yield s


@pytest.fixture
def http(sim: RunningSimulator) -> Iterator[HttpClient]:
    client = HttpClient(sim.base_url, timeout=TIMEOUT)
    yield client
    client.close()


def now_ms(sim: RunningSimulator) -> int:
    return sim.call(lambda core: core.engine.now_ms())


def test_http_status_codes_like_the_venue(http: HttpClient) -> None:
    assert http.post("/info", {"type": "nope"}) == (
        422, "Failed to deserialize the JSON body into the target type: type: unknown variant "
        "`nope`")
    status, text = http.post("/exchange", {"action": {"type": "nope"}, "nonce": 1})
    assert status == 422
    assert text.startswith("Failed to deserialize the JSON body into the target type")
    assert http.post("/info", b"{not json")[0] == 400
    assert http.post("/info", {"type": "meta"}, content_type="text/plain")[0] == 415
    status, meta = http.post("/info", {"type": "meta"})
    assert status == 200
    assert meta["universe"][0]["name"] == "BTC"


def test_tampered_body_over_http_recovers_a_random_wallet(
    sim: RunningSimulator, http: HttpClient
) -> None:
    signer = L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False)
    action = {"type": "order", "orders": [{"a": 1, "b": True, "p": "3000", "s": "0.01",
                                           "r": False, "t": {"limit": {"tif": "Gtc"}}}],
              "grouping": "na"}
    body = signed_body(signer, action, now_ms(sim))
    body["action"]["orders"][0]["p"] = "2999"
    status, answer = http.post("/exchange", body)
    assert status == 200
    assert answer["status"] == "err"
    assert answer["response"].startswith("User or API Wallet 0x")
    assert DEMO_ADDRESS not in answer["response"]
    body["action"]["orders"][0]["p"] = "3000"
    status, answer = http.post("/exchange", body)
    assert "resting" in answer["response"]["data"]["statuses"][0]


def test_websocket_greeting_ping_post_and_idle_disconnect(sim: RunningSimulator) -> None:
    client = WsClient(sim.ws_url, timeout=TIMEOUT)
    try:
        assert client.greeting == "Websocket connection established."
        client.send({"method": "ping"})
        assert client.recv() == {"channel": "pong"}
        client.send({"method": "post", "id": 5,
                     "request": {"type": "info", "payload": {"type": "allMids"}}})
        reply = client.recv_channel("post")
        assert reply["data"]["id"] == 5
        assert reply["data"]["response"]["payload"]["data"]["ETH"] == "3500.0"
        # Silence for longer than the idle timeout (0.5 s here): the server hangs up.
        with pytest.raises(ConnectionError):
            client.recv()
    finally:
        client.close()
    eventually(lambda: sim.ws_connection_count() == 0, timeout=TIMEOUT)


def test_control_endpoints(sim: RunningSimulator, http: HttpClient) -> None:
    whale = "0x" + "9a" * 20
    assert http.post("/_control/fund", {"address": whale, "usdc": "1234.5"}) == (200, {"ok": True})
    status, state = http.post("/info", {"type": "clearinghouseState", "user": whale})
    assert state["marginSummary"]["accountValue"] == "1234.5"
    assert http.post("/_control/ping", {}) == (200, {"ok": True})
    assert http.post("/_control/nope", {})[0] == 404
    assert http.post("/_control/fund", {"address": "0x12", "usdc": 1})[0] == 400
    before = now_ms(sim)
    assert http.post("/_control/advance", {"seconds": 2})[0] == 200
    assert now_ms(sim) == before + 2000
    status, state = http.post("/_control/state", {})
    assert (status, state["ws_connections"], state["stalled"]) == (200, 0, False)


def test_advance_needs_deterministic_mode() -> None:
    config = SimulatorConfig(flow=FlowConfig(enabled=False))
    with start_simulator(config) as sim:
        with pytest.raises(RuntimeError, match="ManualClock"):
            sim.advance(1)
        client = HttpClient(sim.base_url, timeout=TIMEOUT)
        try:
            assert client.post("/_control/advance", {"seconds": 1})[0] == 400
        finally:
            client.close()


def test_real_time_mode_moves_the_market_by_itself() -> None:
    config = SimulatorConfig(flow=FlowConfig(steps_per_second=50.0))
    with start_simulator(config) as sim:
        def trades() -> int:
            return sim.call(lambda core: sum(len(t) for t in core.engine.trades.values()))
        eventually(lambda: trades() > 0, timeout=TIMEOUT, message="synthetic trades")
        assert sim.call(lambda core: core.flow.steps if core.flow else 0) > 0


def _read_url(stream: IO[str], deadline: float) -> str:
    while time.monotonic() < deadline:
        line = stream.readline()
        if "listening on " in line:
            return line.split("listening on ")[1].split()[0]
    raise AssertionError("scripts/sim printed no URL")


@pytest.mark.parametrize("mainnet", [False, True])
def test_scripts_sim_launches_funds_and_stops(mainnet: bool) -> None:
    whale = "0x" + "7c" * 20
    args = [str(REPO / "scripts" / "sim"), "--port", "0", "--seed", "3", "--fund",
            f"{whale}=2500", "--idle-timeout", "5", "--log-level", "WARNING"]
    if mainnet:
        args.append("--mainnet-signatures")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    try:
        assert proc.stdout is not None
        url = _read_url(proc.stdout, time.monotonic() + 20)
        assert url.startswith("http://127.0.0.1:")
        client = HttpClient(url, timeout=TIMEOUT)
        try:
            _, state = client.post("/info", {"type": "clearinghouseState", "user": whale})
            assert state["marginSummary"]["accountValue"] == "2500.0"
            signer = L1Signer(DEMO_PRIVATE_KEY, is_mainnet=mainnet)
            body = signed_body(signer, {"type": "noop"}, int(time.time() * 1000))
            assert client.post("/exchange", body)[1] == {"status": "ok",
                                                         "response": {"type": "default"}}
        finally:
            client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    assert code == 0


def test_cli_config_file(tmp_path: Path) -> None:
    from venues.simulator.cli import build_config, parse_args

    path = tmp_path / "sim.toml"
    path.write_text('seed = 9\n[flow]\nsteps_per_second = 4.0\n')
    config = build_config(parse_args(["--config", str(path), "--fund", f"{DEMO_ADDRESS}=5",
                                      "--no-flow", "--port", "0"]))
    assert (config.seed, config.port, config.flow.enabled) == (9, 0, False)
    assert config.flow.steps_per_second == 4.0
    assert config.accounts[0].usdc == Decimal(1_000_005)
    assert not config.is_mainnet
    with pytest.raises(SystemExit):
        parse_args(["--fund", "nonsense"])


def test_order_placed_in_process_is_visible_over_http(
    sim: RunningSimulator, http: HttpClient
) -> None:
    sim.call(lambda core: core.engine.place(DEMO_ADDRESS, OrderRequest(
        asset=2, is_buy=True, px=Decimal(140), sz=Decimal(1))))
    status, orders = http.post("/info", {"type": "openOrders", "user": DEMO_ADDRESS})
    assert status == 200
    assert [(o["coin"], o["limitPx"], o["sz"]) for o in orders] == [("SOL", "140.0", "1.0")]
