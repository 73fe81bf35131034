"""Every fault the simulator injects, shown to happen over real sockets."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import websocket
from hyperliquid.info import Info
from hyperliquid.utils.error import ClientError, ServerError

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
from venues.simulator.core import SimulatorCore
from venues.simulator.model import OrderRequest

TIMEOUT = 5.0
MAKER = "0x" + "ee" * 20


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(flow=FlowConfig(enabled=False))
    with start_simulator(config, clock=ManualClock(start_ns=time.time_ns())) as s:
        s.fund(MAKER, 10**7)
        yield s


def bid_at(sim: RunningSimulator, px: int) -> None:
    """A maker bid at ``px``: one l2Book change on ETH."""

    def place(core: SimulatorCore) -> None:
        core.engine.place(MAKER, OrderRequest(asset=1, is_buy=True, px=Decimal(px), sz=Decimal(1)))
        core.after_change()

    sim.call(place)


def top_bid(frame: dict[str, object]) -> str:
    data = frame["data"]
    assert isinstance(data, dict)
    return str(data["levels"][0][0]["px"])


@pytest.fixture
def book_client(sim: RunningSimulator) -> Iterator[WsClient]:
    bid_at(sim, 2000)
    client = WsClient(sim.ws_url, timeout=TIMEOUT)
    client.subscribe({"type": "l2Book", "coin": "ETH"})
    assert top_bid(client.recv_channel("l2Book")) == "2000.0"
    yield client
    client.close()


def test_drop_every_ws_connection(sim: RunningSimulator) -> None:
    clients = [WsClient(sim.ws_url, timeout=TIMEOUT) for _ in range(3)]
    eventually(lambda: sim.ws_connection_count() == 3, timeout=TIMEOUT)
    assert sim.drop_ws_connections() == 3
    for client in clients:
        with pytest.raises((ConnectionError, OSError)):
            client.recv()
        client.close()
    eventually(lambda: sim.ws_connection_count() == 0, timeout=TIMEOUT)
    again = WsClient(sim.ws_url, timeout=TIMEOUT)  # reconnecting works
    http = HttpClient(sim.base_url, timeout=TIMEOUT)
    try:
        assert http.post("/_control/drop_ws", {}) == (200, {"ok": True, "dropped": 1})
        with pytest.raises((ConnectionError, OSError)):
            again.recv()
    finally:
        again.close()
        http.close()


def test_delay_responses(sim: RunningSimulator) -> None:
    http = HttpClient(sim.base_url, timeout=TIMEOUT)
    try:
        sim.set_faults(delay_s=0.3)
        started = time.monotonic()
        assert http.post("/info", {"type": "allMids"})[0] == 200
        assert time.monotonic() - started >= 0.3
        sim.clear_faults()
        assert http.post("/info", {"type": "allMids"})[0] == 200
    finally:
        http.close()


def test_drop_duplicate_and_reorder_ws_messages(
    sim: RunningSimulator, book_client: WsClient
) -> None:
    sim.set_faults(ws_drop_next=1)
    bid_at(sim, 2001)
    bid_at(sim, 2002)
    assert top_bid(book_client.recv_channel("l2Book")) == "2002.0"  # 2001 was dropped

    sim.set_faults(ws_duplicate_next=1)
    bid_at(sim, 2003)
    bid_at(sim, 2004)
    got = [top_bid(book_client.recv_channel("l2Book")) for _ in range(3)]
    assert got == ["2003.0", "2003.0", "2004.0"]

    sim.set_faults(ws_reorder_next=1)
    bid_at(sim, 2005)
    bid_at(sim, 2006)
    got = [top_bid(book_client.recv_channel("l2Book")) for _ in range(2)]
    assert got == ["2006.0", "2005.0"]
    counts = sim.call(lambda core: dict(core.faults.counts))
    assert {k: v for k, v in counts.items() if v} == {
        "ws_dropped": 1, "ws_duplicated": 1, "ws_reordered": 1}


def test_http_429_then_5xx_for_the_next_requests(sim: RunningSimulator) -> None:
    info = Info(sim.base_url, skip_ws=True, timeout=TIMEOUT)
    sim.set_faults(http_error_status=429, http_error_count=2)
    for _ in range(2):
        with pytest.raises(ClientError) as client_error:
            info.all_mids()
        assert client_error.value.status_code == 429
    assert info.all_mids()["ETH"] == "3500.0"
    http = HttpClient(sim.base_url, timeout=TIMEOUT)
    try:
        assert http.post("/_control/faults", {"http_error_status": 503,
                                              "http_error_count": 1})[0] == 200
    finally:
        http.close()
    with pytest.raises(ServerError) as server_error:
        info.user_state(DEMO_ADDRESS)
    assert server_error.value.status_code == 503
    assert info.user_state(DEMO_ADDRESS)["withdrawable"] == "1000000.0"


def test_5xx_only_for_one_path_and_ws_post_errors(sim: RunningSimulator) -> None:
    """Faults a test can aim: 5xx for /exchange only, and WS posts answered with an error
    response (the venue's mirror of an HTTP status) without being processed."""
    info = Info(sim.base_url, skip_ws=True, timeout=TIMEOUT)
    sim.set_faults(http_error_status=502, http_error_count=1, http_error_path="/exchange")
    assert info.all_mids()["ETH"] == "3500.0"  # /info untouched, the count kept
    assert sim.call(lambda core: core.faults.plan.http_error_count) == 1
    client = WsClient(sim.ws_url, timeout=TIMEOUT)
    try:
        sim.set_faults(ws_post_error_next=1, ws_post_error_kind="action")
        client.send({"method": "post", "id": 7, "request": {
            "type": "info", "payload": {"type": "allMids"}}})
        answer = client.recv_channel("post")
        assert answer["data"]["response"]["type"] == "info"  # an info post goes through
        client.send({"method": "post", "id": 8, "request": {"type": "action", "payload": {
            "action": {"type": "noop"}, "nonce": 1, "signature": {"r": "0x1", "s": "0x1",
                                                                    "v": 27}}}})
        answer = client.recv_channel("post")
        assert answer["data"] == {"id": 8, "response": {
            "type": "error", "payload": "502 Server Error (simulated)"}}
        assert sim.call(lambda core: core.faults.counts["ws_post_errors"]) == 1
    finally:
        client.close()


def test_stall_holds_http_and_ws_until_released(
    sim: RunningSimulator, book_client: WsClient
) -> None:
    http = HttpClient(sim.base_url, timeout=TIMEOUT)
    try:
        sim.stall()
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(http.post, "/info", {"type": "allMids"})
            with pytest.raises(concurrent.futures.TimeoutError):
                pending.result(timeout=0.3)
            bid_at(sim, 2010)  # queued for the WebSocket, not sent while stalled
            sim.unstall()
            assert pending.result(timeout=TIMEOUT)[0] == 200
        assert top_bid(book_client.recv_channel("l2Book")) == "2010.0"
        sim.stall(seconds=0.2)  # a stall with a duration ends by itself
        assert http.post("/info", {"type": "allMids"})[0] == 200
    finally:
        http.close()


def test_restart_keeps_state(sim: RunningSimulator, book_client: WsClient) -> None:
    signer = L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False)
    nonce = sim.call(lambda core: core.engine.now_ms())
    action = {"type": "order", "orders": [{"a": 1, "b": True, "p": "1900", "s": "0.1",
                                           "r": False, "t": {"limit": {"tif": "Gtc"}}}],
              "grouping": "na"}
    http = HttpClient(sim.base_url, timeout=TIMEOUT)
    try:
        _, placed = http.post("/exchange", signed_body(signer, action, nonce))
        oid = placed["response"]["data"]["statuses"][0]["resting"]["oid"]
    finally:
        http.close()
    book_client.recv_channel("l2Book")  # the book update of that order
    port = sim.port
    sim.restart(downtime_s=0.1)
    with pytest.raises((ConnectionError, OSError)):
        book_client.recv()
    assert sim.port == port
    http = HttpClient(sim.base_url, timeout=TIMEOUT)
    try:
        _, orders = http.post("/info", {"type": "openOrders", "user": DEMO_ADDRESS})
        assert [o["oid"] for o in orders] == [oid]
        _, again = http.post("/exchange", signed_body(signer, action, nonce))
        assert again == {"status": "err", "response": f"Invalid nonce: duplicate nonce {nonce}"}
        watcher = WsClient(sim.ws_url, timeout=TIMEOUT)
        # A restart requested over the control endpoint answers first, then restarts.
        assert http.post("/_control/restart", {"downtime_s": 0.0}) == (200, {"ok": True})
        with pytest.raises((ConnectionError, OSError)):
            watcher.recv()
        watcher.close()
    finally:
        http.close()

    def answers() -> bool:
        client = HttpClient(sim.base_url, timeout=TIMEOUT)
        try:
            return client.post("/info", {"type": "allMids"})[0] == 200
        except OSError:
            return False
        finally:
            client.close()

    eventually(answers, timeout=TIMEOUT)
    fresh = WsClient(sim.ws_url, timeout=TIMEOUT)
    try:
        fresh.subscribe({"type": "l2Book", "coin": "ETH"})
        assert top_bid(fresh.recv_channel("l2Book")) == "2000.0"
    finally:
        fresh.close()


def raw_book_client(sim: RunningSimulator) -> websocket.WebSocket:
    """A raw client that reads frames as bytes (a mangled frame may not be UTF-8)."""
    ws = websocket.create_connection(sim.ws_url, timeout=TIMEOUT, skip_utf8_validation=True)
    assert ws.recv() == "Websocket connection established."
    ws.send(json.dumps({"method": "subscribe", "subscription": {"type": "l2Book",
                                                                "coin": "ETH"}}))
    for _ in range(2):  # the ack and the snapshot
        opcode, _data = ws.recv_data()
        assert opcode == websocket.ABNF.OPCODE_TEXT
    return ws


def test_mangled_frames_in_turn_truncated_invalid_utf8_wrong_shape(
    sim: RunningSimulator,
) -> None:
    bid_at(sim, 2000)
    ws = raw_book_client(sim)
    try:
        sim.set_faults(ws_mangle_next=3)
        for px in (2001, 2002, 2003, 2004):
            bid_at(sim, px)
        frames = [ws.recv_data()[1] for _ in range(4)]
    finally:
        ws.close()
    truncated, not_utf8, wrong_shape, intact = frames
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.decode())
    assert truncated.startswith(b'{"channel":"l2Book"')
    with pytest.raises(UnicodeDecodeError):
        not_utf8.decode("utf-8")
    shaped = json.loads(wrong_shape)
    assert shaped["channel"] == "l2Book"
    assert not isinstance(shaped["data"], dict)
    assert top_bid(json.loads(intact)) == "2004.0"  # the faults are spent
    counts = sim.call(lambda core: dict(core.faults.counts))
    assert {k: v for k, v in counts.items() if v} == {
        "ws_mangled": 3, "ws_mangled_truncated": 1, "ws_mangled_invalid_utf8": 1,
        "ws_mangled_wrong_shape": 1}


def test_mangle_rate_is_seeded() -> None:
    from venues.simulator.faults import FaultInjector

    def run() -> list[object]:
        inj = FaultInjector(seed=5)
        inj.set(ws_mangle_rate=0.5)
        filt = inj.ws_filter()
        return [filt.apply('{"channel":"trades","data":[]}') for _ in range(40)]

    first = run()
    assert first == run()
    intact = sum(out == ['{"channel":"trades","data":[]}'] for out in first)
    assert 5 < intact < 35


def test_an_oversized_frame_comes_before_the_next_one(sim: RunningSimulator) -> None:
    bid_at(sim, 2000)
    ws = raw_book_client(sim)
    try:
        sim.set_faults(ws_oversize_next=1)  # 16 MiB by default
        bid_at(sim, 2001)
        big = ws.recv_data()[1]
        after = ws.recv_data()[1]
    finally:
        ws.close()
    assert len(big) >= 16 << 20
    frame = json.loads(big)  # syntactically valid: a client must refuse it by its size
    assert frame["channel"] == "l2Book"
    assert top_bid(json.loads(after)) == "2001.0"
    assert sim.call(lambda core: core.faults.counts["ws_oversized"]) == 1
    http = HttpClient(sim.base_url, timeout=TIMEOUT)
    try:
        _, state = http.post("/_control/state", {})
        assert state["fault_counts"]["ws_oversized"] == 1
    finally:
        http.close()
