"""/exchange semantics through the simulator core (no sockets): authentication, nonces,
agents, vaults and the venue's answers."""

from __future__ import annotations

from typing import Any

import pytest

from clock import ManualClock
from tests.helpers import load_vectors
from venues.hyperliquid.signing import L1Signer
from venues.hyperliquid.wire import approve_agent_action
from venues.simulator.client import signed_body, user_signed_body
from venues.simulator.config import (
    DEMO_ADDRESS,
    DEMO_PRIVATE_KEY,
    AccountSpec,
    FlowConfig,
    SimulatorConfig,
)
from venues.simulator.core import SimulatorCore

NOW_MS = 1_750_000_000_000
SUB = "0x" + "5b" * 20
STRANGER_KEY = "0x" + "77" * 32


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start_ns=NOW_MS * 1_000_000)


def make_core(clock: ManualClock, **changes: Any) -> SimulatorCore:
    config = SimulatorConfig(flow=FlowConfig(enabled=False), **changes)
    core = SimulatorCore(config, clock, clock)
    core.start()
    return core


@pytest.fixture
def core(clock: ManualClock) -> SimulatorCore:
    return make_core(clock, accounts=(
        AccountSpec(address=DEMO_ADDRESS, usdc=100_000),
        AccountSpec(address=SUB, usdc=1_000, master=DEMO_ADDRESS),
    ))


DEMO = L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False)


def order(px: str = "3000", sz: str = "0.01", tif: str = "Gtc", **extra: Any) -> dict[str, Any]:
    wire = {"a": 1, "b": True, "p": px, "s": sz, "r": False, "t": {"limit": {"tif": tif}}, **extra}
    return {"type": "order", "orders": [wire], "grouping": "na"}


def test_a_valid_order_rests(core: SimulatorCore) -> None:
    answer = core.handle_exchange(signed_body(DEMO, order(), NOW_MS))
    assert answer == {"status": "ok", "response": {"type": "order", "data": {"statuses": [
        {"resting": {"oid": answer["response"]["data"]["statuses"][0]["resting"]["oid"]}}]}}}
    assert len(core.engine.live_orders(DEMO_ADDRESS)) == 1


def _unknown_wallet(answer: dict[str, Any], not_this: str) -> str:
    assert answer["status"] == "err"
    text: str = answer["response"]
    prefix, suffix = "User or API Wallet ", " does not exist."
    assert text.startswith(prefix)
    assert text.endswith(suffix)
    address = text[len(prefix):-len(suffix)]
    assert len(address) == 42
    assert address != not_this
    return address


def test_wrong_key_is_an_unknown_wallet_with_its_own_address(core: SimulatorCore) -> None:
    stranger = L1Signer(STRANGER_KEY, is_mainnet=False)
    answer = core.handle_exchange(signed_body(stranger, order(), NOW_MS))
    assert _unknown_wallet(answer, DEMO_ADDRESS) == stranger.address


def test_tampered_action_recovers_a_random_address(core: SimulatorCore) -> None:
    body = signed_body(DEMO, order(), NOW_MS)
    body["action"]["orders"][0]["s"] = "0.02"
    first = _unknown_wallet(core.handle_exchange(body), DEMO_ADDRESS)
    body["action"]["orders"][0]["s"] = "0.03"
    assert _unknown_wallet(core.handle_exchange(body), DEMO_ADDRESS) != first
    assert core.engine.live_orders(DEMO_ADDRESS) == []


def test_wrong_network_flag_is_rejected(core: SimulatorCore) -> None:
    mainnet = L1Signer(DEMO_PRIVATE_KEY, is_mainnet=True)
    _unknown_wallet(core.handle_exchange(signed_body(mainnet, order(), NOW_MS)), DEMO_ADDRESS)


def test_mainnet_mode_accepts_mainnet_signatures(clock: ManualClock) -> None:
    core = make_core(clock, is_mainnet=True)
    mainnet = L1Signer(DEMO_PRIVATE_KEY, is_mainnet=True)
    answer = core.handle_exchange(signed_body(mainnet, order(), NOW_MS))
    assert "resting" in answer["response"]["data"]["statuses"][0]
    _unknown_wallet(core.handle_exchange(signed_body(DEMO, order(), NOW_MS + 1)), DEMO_ADDRESS)


def test_nonce_rules(core: SimulatorCore) -> None:
    assert core.handle_exchange(signed_body(DEMO, {"type": "noop"}, NOW_MS))["status"] == "ok"
    again = core.handle_exchange(signed_body(DEMO, order(), NOW_MS))
    assert again == {"status": "err", "response": f"Invalid nonce: duplicate nonce {NOW_MS}"}
    old = NOW_MS - 2 * 86_400_000
    assert core.handle_exchange(signed_body(DEMO, {"type": "noop"}, old))["response"].startswith(
        "Invalid nonce: nonce too low"
    )
    future = NOW_MS + 86_400_000
    assert core.handle_exchange(signed_body(DEMO, {"type": "noop"}, future))[
        "response"].startswith("Invalid nonce: nonce too high")
    for i in range(1, 101):
        assert core.handle_exchange(signed_body(DEMO, {"type": "noop"}, NOW_MS + 1000 + i))[
            "status"] == "ok"
    # 100 higher nonces are stored now: anything at or below their minimum is too low.
    low = core.handle_exchange(signed_body(DEMO, {"type": "noop"}, NOW_MS + 500))
    assert low == {"status": "err",
                   "response": f"Invalid nonce: nonce too low {NOW_MS + 500} < {NOW_MS + 1001}"}


def test_off_tick_and_min_notional_answer_per_order(core: SimulatorCore) -> None:
    answer = core.handle_exchange(signed_body(DEMO, order(px="3000.05"), NOW_MS))
    assert answer["response"]["data"]["statuses"] == [
        {"error": "Price must be divisible by tick size."}
    ]
    answer = core.handle_exchange(signed_body(DEMO, order(sz="0.001"), NOW_MS + 1))
    assert answer["response"]["data"]["statuses"] == [
        {"error": "Order must have minimum value of $10."}
    ]


def test_expired_action(core: SimulatorCore) -> None:
    body = signed_body(DEMO, order(), NOW_MS, expires_after=NOW_MS - 1)
    assert core.handle_exchange(body) == {"status": "err", "response": "Action already expired"}
    body = signed_body(DEMO, order(), NOW_MS + 1, expires_after=NOW_MS + 60_000)
    assert core.handle_exchange(body)["status"] == "ok"


def test_vault_address_trades_for_a_sub_account_of_the_signer(core: SimulatorCore) -> None:
    body = signed_body(DEMO, order(), NOW_MS, vault_address=SUB)
    assert core.handle_exchange(body)["status"] == "ok"
    assert len(core.engine.live_orders(SUB)) == 1
    assert core.engine.live_orders(DEMO_ADDRESS) == []
    other = "0x" + "99" * 20
    body = signed_body(DEMO, order(), NOW_MS + 1, vault_address=other)
    assert core.handle_exchange(body) == {"status": "err",
                                          "response": f"Vault not registered: {other}"}


def test_approved_agent_trades_for_its_master_and_user_signed_rules(core: SimulatorCore) -> None:
    agent = L1Signer(STRANGER_KEY, is_mainnet=False)
    _unknown_wallet(core.handle_exchange(signed_body(agent, order(), NOW_MS)), DEMO_ADDRESS)
    message, sent = approve_agent_action(agent.address, None, NOW_MS, is_mainnet=False)
    body = user_signed_body(DEMO_PRIVATE_KEY, message, NOW_MS, is_mainnet=False)
    body["action"] = sent
    assert core.handle_exchange(body) == {"status": "ok", "response": {"type": "default"}}
    answer = core.handle_exchange(signed_body(agent, order(), NOW_MS + 1))
    assert "resting" in answer["response"]["data"]["statuses"][0]
    assert len(core.engine.live_orders(DEMO_ADDRESS)) == 1
    assert core.info.handle({"type": "userRole", "user": agent.address}) == {
        "role": "agent", "data": {"user": DEMO_ADDRESS}
    }
    # The agent's nonces are its own; the master's nonce NOW_MS is already used.
    assert core.handle_exchange(signed_body(agent, {"type": "noop"}, NOW_MS))["status"] == "ok"
    # An agent cannot sign user-signed actions, and the chain must match the network.
    message2, _ = approve_agent_action("0x" + "12" * 20, "x", NOW_MS + 5, is_mainnet=False)
    by_agent = user_signed_body(STRANGER_KEY, message2, NOW_MS + 5, is_mainnet=False)
    _unknown_wallet(core.handle_exchange(by_agent), DEMO_ADDRESS)
    message3, _ = approve_agent_action("0x" + "12" * 20, "x", NOW_MS + 6, is_mainnet=True)
    wrong_chain = user_signed_body(DEMO_PRIVATE_KEY, message3, NOW_MS + 6, is_mainnet=True)
    assert core.handle_exchange(wrong_chain) == {"status": "err",
                                                 "response": "Invalid hyperliquidChain 'Mainnet'"}


def test_replacing_the_unnamed_agent_disables_the_old_one(core: SimulatorCore) -> None:
    first = L1Signer(STRANGER_KEY, is_mainnet=False)
    second = L1Signer("0x" + "78" * 32, is_mainnet=False)
    for i, agent in enumerate((first, second)):
        message, sent = approve_agent_action(agent.address, None, NOW_MS + i, is_mainnet=False)
        body = user_signed_body(DEMO_PRIVATE_KEY, message, NOW_MS + i, is_mainnet=False)
        body["action"] = sent
        assert core.handle_exchange(body)["status"] == "ok"
    _unknown_wallet(core.handle_exchange(signed_body(first, order(), NOW_MS + 9)), DEMO_ADDRESS)
    assert core.handle_exchange(signed_body(second, order(), NOW_MS + 9))["status"] == "ok"


def test_cancel_modify_leverage_schedule_answers(core: SimulatorCore) -> None:
    cloid = "0x" + "01" * 16
    placed = core.handle_exchange(signed_body(DEMO, order(c=cloid), NOW_MS))
    oid = placed["response"]["data"]["statuses"][0]["resting"]["oid"]
    modify = {"type": "modify", "oid": oid, "order": order(px="2990", c=cloid)["orders"][0]}
    assert core.handle_exchange(signed_body(DEMO, modify, NOW_MS + 1)) == {
        "status": "ok", "response": {"type": "default"}}
    missing = core.handle_exchange(signed_body(DEMO, modify, NOW_MS + 2))
    assert missing == {"status": "err", "response": "Cannot modify canceled or filled order"}
    cancel = {"type": "cancel", "cancels": [{"a": 1, "o": oid}]}
    assert core.handle_exchange(signed_body(DEMO, cancel, NOW_MS + 3))["response"] == {
        "type": "cancel",
        "data": {"statuses": [{"error": "Order was never placed, already canceled, or filled."}]},
    }
    by_cloid = {"type": "cancelByCloid", "cancels": [{"asset": 1, "cloid": cloid}]}
    assert core.handle_exchange(signed_body(DEMO, by_cloid, NOW_MS + 4))["response"] == {
        "type": "cancel", "data": {"statuses": ["success"]}}
    lev = {"type": "updateLeverage", "asset": 1, "isCross": True, "leverage": 100}
    assert core.handle_exchange(signed_body(DEMO, lev, NOW_MS + 5)) == {
        "status": "err", "response": "Invalid leverage value"}
    early = {"type": "scheduleCancel", "time": NOW_MS + 1000}
    assert core.handle_exchange(signed_body(DEMO, early, NOW_MS + 6))["status"] == "err"
    unsupported = {"type": "usdSend", "destination": SUB, "amount": "1", "time": NOW_MS + 7}
    answer = core.handle_exchange(signed_body(DEMO, unsupported, NOW_MS + 7))
    assert answer == {"status": "err",
                      "response": "Action usdSend is not supported by the simulator."}


def test_address_rate_limit_is_on_by_default(clock: ManualClock) -> None:
    core = make_core(clock)
    core.engine.accounts[DEMO_ADDRESS].n_requests = 9_999
    answer = core.handle_exchange(signed_body(DEMO, {"type": "noop"}, NOW_MS))
    # The count includes the refused request; the venue prints nRequestsCap - 1.
    assert answer == {"status": "err", "response": (
        "Too many cumulative requests sent (10000 > 9999) for cumulative volume traded $0. "
        "Place taker orders to free up 1 request per USDC traded.")}


def test_real_but_unsimulated_actions_say_so(core: SimulatorCore) -> None:
    for case in load_vectors("signing_user.json")["cases"]:
        if case["action"]["type"] in ("usdSend", "withdraw3", "spotSend"):
            kind = case["action"]["type"]
            assert core.handle_exchange(case["request_body"]) == {
                "status": "err", "response": f"Action {kind} is not supported by the simulator."}
