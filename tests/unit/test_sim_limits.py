"""The venue's limits in the simulator core, without sockets: address budget, open-order cap,
IP weight arithmetic, WebSocket allowances, and the switch that turns them off."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from clock import ManualClock
from venues.hyperliquid.signing import L1Signer
from venues.simulator.client import signed_body
from venues.simulator.config import (
    DEMO_ADDRESS,
    DEMO_PRIVATE_KEY,
    AccountSpec,
    FlowConfig,
    SimulatorConfig,
    config_from_dict,
)
from venues.simulator.core import SimulatorCore
from venues.simulator.limits import (
    LimitsConfig,
    TokenBucket,
    batch_length,
    exchange_weight,
    info_extra_weight,
    info_weight,
)
from venues.simulator.model import Errors, OrderRequest, Rejected, Resting, Status, Trigger

D = Decimal
NOW_MS = 1_750_000_000_000
SUB = "0x" + "5b" * 20
DEMO = L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False)
REFUSAL = ("Too many cumulative requests sent ({used} > {cap}) for cumulative volume traded "
           "${volume}. Place taker orders to free up 1 request per USDC traded.")


def make_core(clock: ManualClock, **changes: Any) -> SimulatorCore:
    config = SimulatorConfig(flow=FlowConfig(enabled=False), **changes)
    core = SimulatorCore(config, clock, clock, transport_clock=clock)
    core.start()
    return core


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start_ns=NOW_MS * 1_000_000)


class Nonces:
    def __init__(self) -> None:
        self.n = NOW_MS

    def __call__(self) -> int:
        self.n += 1
        return self.n


def noop(core: SimulatorCore, nonces: Nonces) -> Any:
    return core.handle_exchange(signed_body(DEMO, {"type": "noop"}, nonces()))


def order_action(n: int = 1, px: str = "2000") -> dict[str, Any]:
    wire = {"a": 1, "b": True, "p": px, "s": "0.01", "r": False, "t": {"limit": {"tif": "Gtc"}}}
    return {"type": "order", "orders": [wire] * n, "grouping": "na"}


# --- address budget ------------------------------------------------------------------------------


def test_address_budget_refuses_with_the_venues_text_then_allows_one_per_10s(
    clock: ManualClock,
) -> None:
    core = make_core(clock, limits=LimitsConfig(address_initial=5))
    nonces = Nonces()
    # nRequestsCap is 5: the venue lets the count reach 4, and prints cap - 1 when it refuses.
    assert [noop(core, nonces)["status"] for _ in range(4)] == ["ok"] * 4
    assert noop(core, nonces) == {"status": "err",
                                  "response": REFUSAL.format(used=5, cap=4, volume="0")}
    # A refused request counts too.
    assert noop(core, nonces)["response"] == REFUSAL.format(used=6, cap=4, volume="0")
    clock.advance(9.9)
    assert noop(core, nonces)["status"] == "err"
    clock.advance(0.1)  # 10 s after the last request let through
    assert noop(core, nonces)["status"] == "ok"
    assert noop(core, nonces)["status"] == "err"
    limit = core.handle_info({"type": "userRateLimit", "user": DEMO_ADDRESS})
    assert limit == {"cumVlm": "0.0", "nRequestsUsed": 9, "nRequestsCap": 5,
                     "nRequestsSurplus": 0}
    assert core.limits.refusals["address_budget"] == 4


def test_a_batch_counts_its_length_and_volume_raises_the_cap(clock: ManualClock) -> None:
    core = make_core(clock, limits=LimitsConfig(address_initial=10), accounts=(
        AccountSpec(address=DEMO_ADDRESS, usdc=100_000, cum_volume="1234.567"),))
    nonces = Nonces()
    assert core.handle_info({"type": "userRateLimit", "user": DEMO_ADDRESS})[
        "nRequestsCap"] == 1244
    answer = core.handle_exchange(signed_body(DEMO, order_action(1243), nonces()))
    assert answer["status"] == "ok"
    refused = core.handle_exchange(signed_body(DEMO, order_action(1), nonces()))
    assert refused == {"status": "err",
                       "response": REFUSAL.format(used=1244, cap=1243, volume="1234.56")}


def test_cancels_have_the_higher_cap(clock: ManualClock) -> None:
    core = make_core(clock, limits=LimitsConfig(address_initial=3))
    nonces = Nonces()
    placed = core.handle_exchange(signed_body(DEMO, order_action(2), nonces()))
    oids = [s["resting"]["oid"] for s in placed["response"]["data"]["statuses"]]
    assert noop(core, nonces)["status"] == "err"  # 3 >= cap 3
    # Cancels may go to min(3 + 100000, 2 * 3) = 6: the count is 4, then 5.
    for oid in oids:
        cancel = {"type": "cancel", "cancels": [{"a": 1, "o": oid}]}
        answer = core.handle_exchange(signed_body(DEMO, cancel, nonces()))
        assert answer["response"]["data"]["statuses"] == ["success"]
    cancel = {"type": "cancel", "cancels": [{"a": 1, "o": oids[0]}]}
    assert core.handle_exchange(signed_body(DEMO, cancel, nonces())) == {
        "status": "err", "response": REFUSAL.format(used=6, cap=5, volume="0")}


def test_sub_accounts_have_their_own_budget(clock: ManualClock) -> None:
    core = make_core(clock, limits=LimitsConfig(address_initial=2), accounts=(
        AccountSpec(address=DEMO_ADDRESS, usdc=100_000),
        AccountSpec(address=SUB, usdc=10_000, master=DEMO_ADDRESS)))
    nonces = Nonces()
    assert noop(core, nonces)["status"] == "ok"
    assert noop(core, nonces)["status"] == "err"
    for_sub = signed_body(DEMO, {"type": "noop"}, nonces(), vault_address=SUB)
    assert core.handle_exchange(for_sub)["status"] == "ok"


@pytest.mark.parametrize("changes", [
    {"enforce_limits": False},
    {"enforce_address_rate_limit": False},
])
def test_the_switch_turns_the_address_budget_off_but_still_counts(
    clock: ManualClock, changes: dict[str, Any]
) -> None:
    core = make_core(clock, limits=LimitsConfig(address_initial=2), **changes)
    nonces = Nonces()
    assert [noop(core, nonces)["status"] for _ in range(4)] == ["ok"] * 4
    assert core.engine.accounts[DEMO_ADDRESS].n_requests == 4
    assert core.limits.refusals["address_budget"] == 3  # what would have been refused


def test_address_budget_alone_can_be_on_with_the_rest_off(clock: ManualClock) -> None:
    core = make_core(clock, enforce_limits=False, enforce_address_rate_limit=True,
                     limits=LimitsConfig(address_initial=1))
    assert noop(core, Nonces())["status"] == "err"
    assert core.limits.enforce is False


# --- open orders ---------------------------------------------------------------------------------


def place(core: SimulatorCore, px: int, **kw: Any) -> Any:
    return core.engine.place(DEMO_ADDRESS, OrderRequest(asset=1, is_buy=True, px=D(px),
                                                        sz=D("0.01"), **kw))


def test_open_order_cap_rejects_per_order_and_frees_up_on_cancel(clock: ManualClock) -> None:
    core = make_core(clock, limits=LimitsConfig(open_orders=3))
    nonces = Nonces()
    answer = core.handle_exchange(signed_body(DEMO, order_action(5), nonces()))
    statuses = answer["response"]["data"]["statuses"]
    assert [next(iter(s)) for s in statuses] == ["resting"] * 3 + ["error"] * 2
    assert statuses[3] == {"error": Errors.TOO_MANY_OPEN_ORDERS}
    rejected = core.handle_info({"type": "historicalOrders", "user": DEMO_ADDRESS})
    assert [o["status"] for o in rejected][:2] == [Status.TOO_MANY_OPEN_ORDERS_REJECTED] * 2
    oid = statuses[0]["resting"]["oid"]
    assert core.engine.cancel(DEMO_ADDRESS, 1, oid)
    assert isinstance(place(core, 2000), Resting)
    assert place(core, 2000) == Rejected(Errors.TOO_MANY_OPEN_ORDERS)
    assert core.limits.refusals["open_orders"] == 3


def test_triggers_count_and_reduce_only_and_triggers_stop_at_the_base_cap(
    clock: ManualClock,
) -> None:
    core = make_core(clock, limits=LimitsConfig(open_orders=2, open_orders_volume_step=1000),
                     accounts=(AccountSpec(address=DEMO_ADDRESS, usdc=100_000, cum_volume=2500),))
    # 2 + 2500 // 1000 = 4 open orders for plain orders; reduce-only and triggers stop at 2.
    stop = Trigger(is_market=True, trigger_px=D(4000), tpsl="sl")
    assert isinstance(place(core, 2000, tif=None, trigger=stop, reduce_only=True), Resting)
    assert isinstance(place(core, 2001), Resting)
    assert place(core, 1999, tif=None, trigger=stop) == Rejected(Errors.TOO_MANY_OPEN_ORDERS)
    assert place(core, 2002, reduce_only=True) == Rejected(Errors.TOO_MANY_OPEN_ORDERS)
    assert isinstance(place(core, 2003), Resting)
    assert isinstance(place(core, 2004), Resting)
    assert place(core, 2005) == Rejected(Errors.TOO_MANY_OPEN_ORDERS)


def test_the_cap_grows_with_volume_up_to_its_maximum(clock: ManualClock) -> None:
    core = make_core(clock, limits=LimitsConfig(open_orders=1, open_orders_max=3,
                                                open_orders_volume_step=10))
    core.fund(DEMO_ADDRESS, D(0), cum_volume=D(1_000_000))
    assert [type(place(core, 2000 + i)).__name__ for i in range(4)] == [
        "Resting", "Resting", "Resting", "Rejected"]


def test_modify_at_the_cap_keeps_working(clock: ManualClock) -> None:
    core = make_core(clock, limits=LimitsConfig(open_orders=1))
    resting = place(core, 2000)
    assert isinstance(resting, Resting)
    out = core.engine.modify(DEMO_ADDRESS, resting.oid,
                             OrderRequest(asset=1, is_buy=True, px=D(2001), sz=D("0.01")))
    assert isinstance(out, Resting)


def test_open_order_cap_is_off_with_the_switch(clock: ManualClock) -> None:
    core = make_core(clock, enforce_limits=False, limits=LimitsConfig(open_orders=1))
    assert [type(place(core, 2000 + i)).__name__ for i in range(3)] == ["Resting"] * 3
    assert core.limits.refusals["open_orders"] == 2


def test_the_synthetic_market_is_exempt(clock: ManualClock) -> None:
    config = SimulatorConfig(flow=FlowConfig(levels=5), limits=LimitsConfig(open_orders=1))
    core = SimulatorCore(config, clock, clock, transport_clock=clock)
    core.start()
    assert core.flow is not None
    maker_orders = sum(len(core.engine.live_orders(m)) for m in core.flow.makers)
    assert maker_orders == 5 * 2 * len(config.coins)


# --- IP weight arithmetic ------------------------------------------------------------------------


def test_request_weights_follow_the_docs() -> None:
    assert [info_weight({"type": t}) for t in (
        "l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState",
        "exchangeStatus", "userRole", "meta", "openOrders", "nope")] == [2] * 6 + [60, 20, 20, 20]
    assert info_weight("not an object") == 20
    assert info_extra_weight({"type": "userFills"}, list(range(39))) == 1
    assert info_extra_weight({"type": "userFills"}, list(range(40))) == 2
    assert info_extra_weight({"type": "candleSnapshot"}, list(range(119))) == 1
    assert info_extra_weight({"type": "openOrders"}, list(range(100))) == 0
    assert [exchange_weight({"action": order_action(n)}) for n in (1, 39, 40, 79, 80)] == [
        1, 1, 2, 2, 3]
    assert exchange_weight({"action": {"type": "noop"}}) == 1
    assert batch_length({"type": "cancel", "cancels": []}) == 1


def test_token_bucket_refills_continuously() -> None:
    bucket = TokenBucket(1200, 60.0, now_ns=0)
    assert bucket.take(1200, 0)
    assert not bucket.take(1, 0)
    assert not bucket.take(20, 999_999_999)
    assert bucket.take(20, 1_000_000_000)  # 20 per second
    assert bucket.take(100, 1_000_000_000, force=True)
    assert bucket.available(1_000_000_000) == -100
    assert bucket.available(10**12) == 1200  # never above one window's allowance


def test_ip_weight_counts_and_refuses(clock: ManualClock) -> None:
    core = make_core(clock, limits=LimitsConfig(ip_weight=30, window_s=1.0))
    limits = core.limits
    assert limits.take_weight("1.2.3.4", 20)
    assert not limits.take_weight("1.2.3.4", 20)
    assert limits.take_weight("5.6.7.8", 20)  # per IP
    limits.charge_weight("1.2.3.4", 15)  # items returned: 10 - 15, into debt
    assert not limits.take_weight("1.2.3.4", 2)
    clock.advance(0.2)  # 30 per second: -5 + 6
    assert not limits.take_weight("1.2.3.4", 2)
    clock.advance(0.1)
    assert limits.take_weight("1.2.3.4", 2)
    state = limits.state()["ips"]["1.2.3.4"]
    assert (state["weight_charged"], state["requests"], state["weight_available"]) == (37, 2, 2)
    assert limits.refusals["ip_weight"] == 3


# --- WebSocket allowances ------------------------------------------------------------------------


class Box:
    def __init__(self) -> None:
        self.frames: list[Any] = []

    def send(self, text: str) -> None:
        self.frames.append(json.loads(text))

    def take(self) -> list[Any]:
        out, self.frames = self.frames, []
        return out


def text(msg: Any) -> str:
    return json.dumps(msg)


def test_messages_per_window_and_posts_in_flight(clock: ManualClock) -> None:
    core = make_core(clock, limits=LimitsConfig(ws_messages=4, ws_inflight_posts=2, window_s=1))
    hub, box = core.hub, Box()
    assert hub.connect(1, box, "9.9.9.9")
    post = {"method": "post", "request": {"type": "info", "payload": {"type": "allMids"}}}
    first = hub.admit(1, text({**post, "id": 1}))
    second = hub.admit(1, text({**post, "id": 2}))
    assert first is not None
    assert second is not None
    assert hub.admit(1, text({**post, "id": 3})) is None  # two already in flight
    assert box.take() == [{"channel": "error", "data": "too many pending post requests id=3"}]
    hub.handle(1, first)
    assert [f["data"]["id"] for f in box.take()] == [1]
    assert hub.admit(1, text({**post, "id": 4})) is not None  # the 4th message
    assert hub.admit(1, text({"method": "ping"})) is None
    assert hub.admit(1, text({**post, "id": 5})) is None
    assert box.take() == [{"channel": "error", "data": "too many messages sent"},
                          {"channel": "error", "data": "too many messages sent id=5"}]
    clock.advance(0.25)  # one message back
    hub.on_text(1, text({"method": "ping"}))
    assert box.take() == [{"channel": "pong"}]
    assert core.limits.refusals["ws_inflight_posts"] == 1
    assert core.limits.refusals["ws_messages"] == 2
    hub.disconnect(1)  # posts still in flight are forgotten with their connection
    assert core.limits.state()["ips"]["9.9.9.9"]["ws_inflight_posts"] == 0


def test_subscriptions_users_and_connections(clock: ManualClock) -> None:
    core = make_core(clock, limits=LimitsConfig(ws_subscriptions=3, ws_users=1,
                                                ws_connections=2))
    hub, box, other = core.hub, Box(), Box()
    assert hub.connect(1, box, "9.9.9.9")
    assert hub.connect(2, other, "9.9.9.9")
    assert not hub.connect(3, Box(), "9.9.9.9")
    assert hub.connect(4, Box(), "8.8.8.8")

    def sub(conn: int, subscription: dict[str, Any]) -> None:
        hub.on_text(conn, text({"method": "subscribe", "subscription": subscription}))

    sub(1, {"type": "orderUpdates", "user": DEMO_ADDRESS})
    sub(2, {"type": "userFills", "user": DEMO_ADDRESS})  # the same user: fine
    sub(2, {"type": "orderUpdates", "user": SUB})
    assert other.take()[-1] == {"channel": "error", "data": (
        'Too many users across user subscriptions: {"type":"orderUpdates","user":"'
        + SUB + '"}')}
    sub(1, {"type": "trades", "coin": "ETH"})
    sub(1, {"type": "trades", "coin": "BTC"})
    assert box.take()[-1] == {"channel": "error", "data":
                              'Too many subscriptions: {"type":"trades","coin":"BTC"}'}
    hub.on_text(1, text({"method": "unsubscribe", "subscription": {"type": "trades",
                                                                   "coin": "ETH"}}))
    sub(1, {"type": "trades", "coin": "BTC"})
    assert box.take()[-1]["channel"] == "subscriptionResponse"
    hub.disconnect(1)
    assert hub.connect(3, Box(), "9.9.9.9")
    state = core.limits.state()
    assert state["ips"]["9.9.9.9"]["ws_subscriptions"] == 1
    assert state["refusals"]["ws_connections"] == 1


def test_ws_limits_off_with_the_switch(clock: ManualClock) -> None:
    core = make_core(clock, enforce_limits=False,
                     limits=LimitsConfig(ws_messages=1, ws_connections=1, ws_subscriptions=1))
    hub, box = core.hub, Box()
    assert hub.connect(1, box)
    assert hub.connect(2, Box())
    for _ in range(3):
        hub.on_text(1, text({"method": "ping"}))
    hub.on_text(1, text({"method": "subscribe", "subscription": {"type": "allMids"}}))
    hub.on_text(1, text({"method": "subscribe", "subscription": {"type": "trades",
                                                                 "coin": "ETH"}}))
    assert [f["channel"] for f in box.take()].count("error") == 0
    assert core.limits.refusals["ws_messages"] == 4


# --- configuration -------------------------------------------------------------------------------


def test_limits_from_toml_data_and_defaults() -> None:
    assert SimulatorConfig().enforce_limits is True
    assert SimulatorConfig().address_budget_enforced is True
    assert SimulatorConfig().limits == LimitsConfig()
    config = config_from_dict({
        "enforce_limits": False, "limits": {"ip_weight": 50, "open_orders": 7},
        "accounts": [{"address": DEMO_ADDRESS, "usdc": 5, "cum_volume": "1e6"},
                     {"address": SUB, "usdc": 1, "master": DEMO_ADDRESS}],
    })
    assert config.limits == LimitsConfig(ip_weight=50, open_orders=7)
    assert config.address_budget_enforced is False
    assert config.accounts[0].cum_volume == 1_000_000
    with pytest.raises(ValueError, match="limits"):
        config_from_dict({"limits": {"ip_wieght": 1}})
    with pytest.raises(ValueError, match="positive"):
        LimitsConfig(ws_messages=0)
    with pytest.raises(ValueError, match="cum_volume"):
        AccountSpec(address=DEMO_ADDRESS, usdc=1, cum_volume=-1)


def test_config_helpers_for_sub_accounts_and_volume() -> None:
    config = SimulatorConfig().with_sub_account(DEMO_ADDRESS, SUB, D(500)).with_volume(
        SUB, D(42))
    sub = config.accounts[-1]
    assert (sub.address, sub.usdc, sub.master, sub.cum_volume) == (SUB, D(500), DEMO_ADDRESS,
                                                                   D(42))
    with pytest.raises(ValueError, match="not an account"):
        SimulatorConfig().with_sub_account(SUB, DEMO_ADDRESS, D(1))


def test_core_refuses_bad_sub_accounts(clock: ManualClock) -> None:
    core = make_core(clock)
    core.fund(SUB, D(10))
    with pytest.raises(ValueError, match="both be accounts"):
        core.make_sub_account("0x" + "99" * 20, SUB)
    core.make_sub_account(DEMO_ADDRESS, SUB)
    with pytest.raises(ValueError, match="cannot be the master"):
        core.make_sub_account(SUB, DEMO_ADDRESS)
    assert core.handle_info({"type": "userRole", "user": SUB}) == {
        "role": "subAccount", "data": {"master": DEMO_ADDRESS}}
