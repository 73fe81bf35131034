"""Trading for a sub-account end to end (issue 10, item 7): the runtime against a standalone
local exchange, with the master's key or an agent of the master, and ``vault`` = the
sub-account. The official SDK's ``Info`` is the judge of what happened at the venue.

The account whose orders these are is the sub-account: orders rest and fill there, the user
stream delivers its events to the tracker (fills booked once), the tracker's reconciliation
queries it (an order placed for it outside the runtime is adopted at start), and cancel-on-exit
or the escalation's emergency cancel clear its orders while the master's own stay. Before any
of that, the venue's ``userRole`` must confirm that key, account and vault fit together.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.types import Cloid

from actors.publishing.core import PublisherConfig
from messages import ClientOrderId, OrderState, TimeInForce
from messages.orders import OrderFilled
from messages.streams import GetStreamStats
from messages.tracking import GetOpenOrders, GetOrder, TrackedOrder
from runtime.config import (
    AccountConfig,
    RuntimeConfig,
    StrategyConfig,
    VenueConfig,
)
from runtime.launch import Runtime
from tests.helpers import eventually
from tests.runtime_support.remote import on_strategy, remote_strategy
from tests.runtime_support.runtime import free_port
from tests.support.supervision import EventRecorder
from venues.hyperliquid.bootstrap import AccountRoleError, InfoClient, resolve_accounts
from venues.simulator import (
    DEMO_ADDRESS,
    DEMO_PRIVATE_KEY,
    FlowConfig,
    RunningSimulator,
    SimulatorConfig,
    start_simulator,
)
from venues.simulator.core import SimulatorCore
from venues.simulator.model import OrderRequest

SUB = "0x" + "5d" * 20
OTHER_SUB = "0x" + "6e" * 20
MAKER = "0x" + "ee" * 20
PAIR, COIN, ASSET = "ETH-USD", "ETH", 1
ASK = 3000
SID = "vault"
TIMEOUT = 10.0
GTC: Any = {"limit": {"tif": "Gtc"}}


@pytest.fixture(autouse=True)
def unique_sdk_nonces(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = itertools.count(int(time.time() * 1000))
    monkeypatch.setattr("hyperliquid.exchange.get_timestamp_ms", lambda: next(counter))


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(SimulatorConfig(flow=FlowConfig(enabled=False))) as s:
        s.fund(MAKER, 10**7)
        s.fund_sub(DEMO_ADDRESS, SUB, 20_000)
        s.fund_sub(MAKER, OTHER_SUB, 1_000)

        def ask(core: SimulatorCore) -> None:  # liquidity our IOC takes
            core.engine.place(MAKER, OrderRequest(asset=ASSET, is_buy=False, px=Decimal(ASK),
                                                  sz=Decimal(1)))
            core.after_change()

        s.call(ask)
        yield s


@pytest.fixture
def info(sim: RunningSimulator) -> Info:
    return Info(sim.base_url, skip_ws=True, timeout=TIMEOUT)


def _key_file(tmp_path: Path, key: str) -> Path:
    path = tmp_path / "signer.key"
    path.write_text(key + "\n")
    path.chmod(0o600)
    return path


def _agent_key(sim: RunningSimulator) -> str:
    master = Exchange(Account.from_key(DEMO_PRIVATE_KEY), sim.base_url, timeout=TIMEOUT)
    answer, agent_key = master.approve_agent("bot")
    assert answer["status"] == "ok", answer
    return str(agent_key)


def _cloids(orders: list[dict[str, Any]]) -> set[str]:
    return {o["cloid"] for o in orders if o.get("cloid")}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signer", ["master", "agent"])
def test_a_sub_account_trades_end_to_end(
    sim: RunningSimulator, info: Info, tmp_path: Path, signer: str,
) -> None:
    # Placed for the sub-account outside the runtime: the tracker must find it by asking the
    # venue about the sub-account. And one the master places for itself: never touched.
    for_sub = Exchange(Account.from_key(DEMO_PRIVATE_KEY), sim.base_url, vault_address=SUB,
                       timeout=TIMEOUT)
    master = Exchange(Account.from_key(DEMO_PRIVATE_KEY), sim.base_url, timeout=TIMEOUT)
    outside = Cloid.from_int(0xA5)
    outside_id = ClientOrderId(outside.to_raw())
    assert for_sub.order(COIN, True, 0.01, 2100, GTC, cloid=outside)["status"] == "ok"
    assert master.order(COIN, True, 0.01, 1800, GTC)["status"] == "ok"
    own = info.open_orders(DEMO_ADDRESS)
    assert len(own) == 1

    if signer == "master":
        account = AccountConfig(key_file=_key_file(tmp_path, DEMO_PRIVATE_KEY), vault=SUB)
    else:
        account = AccountConfig(key_file=_key_file(tmp_path, _agent_key(sim)),
                                account=DEMO_ADDRESS.upper().replace("0X", "0x"), vault=SUB)
    heard = EventRecorder()
    config = RuntimeConfig(
        venue=VenueConfig(network="testnet", url=sim.base_url), account=account,
        strategy=StrategyConfig(kind="none"), data_dir=tmp_path / "var",
        publisher=PublisherConfig(address=f"tcp://127.0.0.1:{free_port()}"))
    rt = Runtime(config, strategies=(remote_strategy(SID, (PAIR,), heard),))
    wiring = rt.start()
    try:
        assert rt.tree is not None
        tree = rt.tree
        assert wiring.account == SUB
        assert wiring.vault == SUB
        assert wiring.data_dir.name == SUB

        def order(cloid: Any) -> TrackedOrder | None:
            found: TrackedOrder | None = tree.handle("order_tracker").ask(
                GetOrder(client_order_id=cloid), timeout=5)
            return found

        # Reconciliation asked the venue about the sub-account: the outside order is adopted.
        adopted = eventually(lambda: order(outside_id), timeout=20)
        assert adopted.external
        assert adopted.state is OrderState.OPEN

        strategy = tree.handle(f"strategies/{SID}")
        resting = on_strategy(strategy, lambda s: s.buy(PAIR, Decimal("0.01"), Decimal(2000)))
        eventually(lambda: (o := order(resting)) is not None and o.state is OrderState.OPEN,
                   timeout=20)
        assert resting in _cloids(info.open_orders(SUB))
        assert resting not in _cloids(info.open_orders(DEMO_ADDRESS))

        taker = on_strategy(strategy, lambda s: s.buy(PAIR, Decimal("0.02"), Decimal(ASK),
                                                      time_in_force=TimeInForce.IOC))
        filled = eventually(lambda: (o := order(taker)) is not None
                            and o.state is OrderState.FILLED and o, timeout=20)
        assert filled.filled_amount == Decimal("0.02")
        assert len(filled.fills) == 1  # booked once (answer, orderUpdates and userFills)
        heard.wait_for(OrderFilled, lambda e: e.client_order_id == taker)
        venue_fills = [f for f in info.user_fills(SUB) if f["cloid"] == taker]
        assert [Decimal(f["sz"]) for f in venue_fills] == [Decimal("0.02")]
        assert info.user_fills(DEMO_ADDRESS) == []
        # The maker sells into the outside order: nothing answers a request of ours, so the
        # fill reaches the tracker only through the sub-account's user stream.
        def hit(core: SimulatorCore) -> None:
            core.engine.place(MAKER, OrderRequest(asset=ASSET, is_buy=False, px=Decimal(2100),
                                                  sz=Decimal("0.01"), tif="Ioc"))
            core.after_change()

        sim.call(hit)
        swept = eventually(lambda: (o := order(outside_id)) is not None
                           and o.state is OrderState.FILLED and o, timeout=20)
        assert len(swept.fills) == 1
        assert swept.filled_amount == Decimal("0.01")
        stats = tree.handle("user_stream").ask(GetStreamStats(), timeout=5)
        assert stats.order_updates >= 1
        assert stats.fills >= 2
        assert len(heard.of(OrderFilled, lambda e: e.client_order_id == taker)) == 1

        open_now = tree.handle("order_tracker").ask(GetOpenOrders(), timeout=5)
        assert {o.client_order_id for o in open_now} == {resting}
        if signer == "master":
            left = rt.stop(cancel=True)  # cancel-on-exit: through the actors
            assert left == 0
        else:
            tree.stop()  # as after an escalation: the actors are gone
            rt.emergency_cancel()
        assert info.open_orders(SUB) == []
        assert info.open_orders(DEMO_ADDRESS) == own  # the master's own order is not ours
    finally:
        rt.stop(cancel=False)


def _resolve(sim: RunningSimulator, key: str, *, account: str | None = None,
             vault: str | None = None) -> Any:
    return resolve_accounts(InfoClient(sim.base_url), Account.from_key(key).address,
                            account=account, vault=vault)


def test_roles_that_fit_are_resolved(sim: RunningSimulator) -> None:
    agent = _agent_key(sim)
    plain = _resolve(sim, DEMO_PRIVATE_KEY)
    assert (plain.master, plain.trading, plain.vault) == (DEMO_ADDRESS, DEMO_ADDRESS, None)
    sub = _resolve(sim, DEMO_PRIVATE_KEY, vault=SUB)
    assert (sub.master, sub.trading, sub.vault) == (DEMO_ADDRESS, SUB, SUB)
    by_agent = _resolve(sim, agent, account=DEMO_ADDRESS, vault=SUB)
    assert by_agent.signer == Account.from_key(agent).address.lower()
    assert (by_agent.master, by_agent.trading) == (DEMO_ADDRESS, SUB)


def test_roles_that_do_not_fit_are_refused_clearly(sim: RunningSimulator) -> None:
    agent = _agent_key(sim)
    agent_address = Account.from_key(agent).address.lower()
    stranger = "0x" + "42" * 32
    cases: list[tuple[dict[str, Any], str]] = [
        ({"key": DEMO_PRIVATE_KEY, "account": agent_address},
         f"account {agent_address} is an agent (API) wallet of {DEMO_ADDRESS}, not an account"),
        ({"key": agent}, f"is an agent (API) wallet of {DEMO_ADDRESS}: pass --account "
                         f"{DEMO_ADDRESS}"),
        ({"key": agent, "account": MAKER},
         f"is an agent of {DEMO_ADDRESS}, not of the configured account {MAKER}"),
        ({"key": DEMO_PRIVATE_KEY, "account": MAKER},
         f"--account {MAKER} was given, but the key {DEMO_ADDRESS} is an account of its own"),
        ({"key": DEMO_PRIVATE_KEY, "account": SUB},
         f"trade it with --account {DEMO_ADDRESS} --vault {SUB}"),
        ({"key": DEMO_PRIVATE_KEY, "vault": MAKER},
         f"vault {MAKER} is not a sub-account or vault: it is an account of its own"),
        ({"key": DEMO_PRIVATE_KEY, "vault": OTHER_SUB},
         f"vault {OTHER_SUB} is a sub-account of {MAKER}, not of the signer's master "
         f"{DEMO_ADDRESS}"),
        ({"key": DEMO_PRIVATE_KEY, "vault": agent_address},
         f"vault {agent_address} is not a sub-account or vault: it is an agent"),
        ({"key": DEMO_PRIVATE_KEY, "vault": "0x" + "99" * 20}, "it is unknown to the venue"),
        ({"key": DEMO_PRIVATE_KEY, "vault": DEMO_ADDRESS}, "is the account itself"),
        ({"key": stranger}, "the venue does not know the key's address"),
        ({"key": stranger, "account": DEMO_ADDRESS}, "approve it as an agent of"),
    ]
    for case, message in cases:
        key = case.pop("key")
        with pytest.raises(AccountRoleError) as refused:
            _resolve(sim, key, **case)
        assert message in str(refused.value), (case, str(refused.value))
