"""The risk gate's logic (`GateCore`), driven without threads.

Property: whatever a strategy sends, in any order with backlog reports, halts and the tracker's
list of open orders, every SubmitOrder gets exactly one answer to the tracker (the normalised
order or an OrderDenied for it), every ModifyOrder exactly one outcome (passed on normalised, or
a CommandRejected to its strategy) once the open orders are known, cancels pass through, and
nothing raises."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.gating.core import GateConfig, GateCore, GatePorts
from actors.gating.normalize import Normalizer, Quotes, RiskConfig
from actors.gating.pressure import PressureConfig
from messages import (
    CancelAll,
    CancelOrder,
    ClientOrderId,
    ModifyOrder,
    OrderSide,
    OrderType,
    SubmitOrder,
    TimeInForce,
)
from messages.account import RateLimitReported
from messages.enums import OrderState
from messages.gate import SetTradingState, SignerBacklog
from messages.tracking import CommandRejected, OpenOrdersSnapshot, OrderDenied, TrackedOrder
from tests.support.execution import MARKETS

T0 = 1_800_000_000_000_000_000


class _Gate:
    def __init__(self, **pressure: Any) -> None:
        self.ns = T0
        self.tracker: list[Any] = []
        self.events: list[Any] = []
        self.told: list[tuple[str, Any]] = []
        self.core = GateCore(
            GateConfig(risk=RiskConfig(max_submits_per_s=10_000),
                       pressure=PressureConfig(**pressure)),
            Normalizer(MARKETS, Quotes(), RiskConfig(max_submits_per_s=10_000), self.now),
            GatePorts(tracker=self.tracker.append, events=self.events.append,
                      strategy=lambda sid, m: self.told.append((sid, m))),
            self.now, self.now)

    def now(self) -> int:
        return self.ns


def _order(n: int, **kw: Any) -> SubmitOrder:
    fields: dict[str, Any] = {
        "client_order_id": ClientOrderId.derive("gate", n), "trading_pair": "BTC-USD",
        "side": OrderSide.BUY, "order_type": OrderType.LIMIT, "amount": Decimal("0.001"),
        "price": Decimal("65000"), "strategy_id": "s",
    }
    fields.update(kw)
    return SubmitOrder(**fields)


def _snapshot(gate: _Gate, *cloids: ClientOrderId) -> OpenOrdersSnapshot:
    return OpenOrdersSnapshot(orders=tuple(
        TrackedOrder(client_order_id=c, exchange_order_id=None, trading_pair="BTC-USD",
                     side=OrderSide.SELL, order_type=OrderType.LIMIT,
                     time_in_force=TimeInForce.GTC, price=Decimal("66000"), trigger_price=None,
                     amount=Decimal("0.001"), filled_amount=Decimal(0), reduce_only=False,
                     state=OrderState.OPEN, strategy_id="s", external=False, fills=(),
                     created_ns=0, updated_ns=0) for c in cloids),
        ts_init=gate.ns)


def test_an_order_is_normalised_and_passed_to_the_tracker() -> None:
    gate = _Gate()
    gate.core.submit(_order(1, price=Decimal("65000.123456")))
    (out,) = gate.tracker
    assert isinstance(out, SubmitOrder)
    assert out.price == Decimal("65000")  # a buy rounds down, never more aggressive


def test_a_halt_denies_new_orders_but_cancels_pass() -> None:
    gate = _Gate()
    gate.core.set_trading_state(SetTradingState(halted=True, reason="stop", ts_init=0))
    gate.core.submit(_order(1))
    gate.core.cancel(CancelOrder(client_order_id=ClientOrderId.derive("gate", 9),
                                 strategy_id="s"))
    denied, cancel = gate.tracker
    assert isinstance(denied, OrderDenied)
    assert "halted: stop" in denied.reason
    assert isinstance(cancel, CancelOrder)


def test_a_modify_waits_for_the_open_orders_then_is_normalised_or_refused() -> None:
    gate = _Gate()
    known, stranger = ClientOrderId.derive("old", 1), ClientOrderId.derive("old", 2)
    gate.core.modify(ModifyOrder(client_order_id=known, price=Decimal("66000.77"),
                                 strategy_id="s"))
    gate.core.modify(ModifyOrder(client_order_id=stranger, price=Decimal("1"), strategy_id="s"))
    assert not gate.tracker  # held until the tracker says which orders are open
    gate.core.open_orders_known(_snapshot(gate, known))
    (passed,) = gate.tracker
    assert isinstance(passed, ModifyOrder)
    assert passed.price == Decimal("66001")  # a sell rounds up (away from the touch)
    ((sid, rejected),) = gate.told
    assert sid == "s"
    assert isinstance(rejected, CommandRejected)
    assert "unknown order" in rejected.reason
    assert gate.events == [rejected]


def test_back_pressure_follows_the_signers_reports() -> None:
    gate = _Gate(actions_per_s=10.0, max_queue_delay_s=2.0)
    gate.core.signer_backlog(SignerBacklog(orders=50, cancels=0, modifies=0,
                                           oldest_age_ns=500_000_000, credit=0, ts_init=gate.ns))
    gate.core.submit(_order(1))
    assert isinstance(gate.tracker[-1], SubmitOrder)
    gate.ns += 2 * 10**9
    gate.core.submit(_order(2))
    assert isinstance(gate.tracker[-1], OrderDenied)
    assert "back-pressure" in gate.tracker[-1].reason
    gate.core.signer_backlog(SignerBacklog(orders=0, cancels=0, modifies=0, oldest_age_ns=0,
                                           credit=2, ts_init=gate.ns))
    gate.core.submit(_order(3))
    assert isinstance(gate.tracker[-1], SubmitOrder)


def test_the_address_budget_comes_from_executions_report() -> None:
    gate = _Gate()
    gate.core.rate_limit(RateLimitReported(cumulative_volume=Decimal(0), requests_used=9_999,
                                           requests_cap=10_000, ts_init=0))
    gate.core.submit(_order(1))
    assert isinstance(gate.tracker[-1], OrderDenied)
    assert "address request budget exhausted (9999/10000)" in gate.tracker[-1].reason


numbers = st.one_of(
    st.decimals(min_value=Decimal("1E-12"), max_value=Decimal("1E+40"), allow_nan=False,
                allow_infinity=False, places=None),
    st.sampled_from([Decimal("1E+30"), Decimal("1E-30"), Decimal("65000.000000001")]),
)
commands = st.lists(st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 20), numbers, numbers,
              st.sampled_from([OrderType.LIMIT, OrderType.MARKET, OrderType.LIMIT_MAKER])),
    st.tuples(st.just("modify"), st.integers(0, 25), numbers),
    st.tuples(st.just("cancel"), st.integers(0, 25)),
    st.tuples(st.just("cancel_all")),
    st.tuples(st.just("backlog"), st.integers(0, 3000), st.integers(0, 5)),
    st.tuples(st.just("halt"), st.booleans()),
    st.tuples(st.just("snapshot")),
    st.tuples(st.just("wait"), st.integers(0, 3_000)),
), max_size=60)


@settings(max_examples=150, deadline=None)
@given(commands=commands)
def test_every_command_gets_exactly_one_outcome_and_nothing_raises(
    commands: list[tuple[Any, ...]],
) -> None:
    gate = _Gate(max_backlog_orders=500)
    submitted: Counter[ClientOrderId] = Counter()
    modifies = cancels = 0
    known = False
    for command in commands:
        kind = command[0]
        if kind == "submit":
            _, n, amount, price, order_type = command
            order = _order(n, amount=amount, order_type=order_type,
                           price=None if order_type is OrderType.MARKET else price)
            submitted[order.client_order_id] += 1
            gate.core.submit(order)
        elif kind == "modify":
            modifies += 1
            gate.core.modify(ModifyOrder(client_order_id=ClientOrderId.derive("gate", command[1]),
                                         price=command[2], strategy_id="s"))
        elif kind == "cancel":
            cancels += 1
            gate.core.cancel(CancelOrder(client_order_id=ClientOrderId.derive("gate", command[1]),
                                         strategy_id="s"))
        elif kind == "cancel_all":
            cancels += 1
            gate.core.cancel(CancelAll(strategy_id="s"))
        elif kind == "backlog":
            gate.core.signer_backlog(SignerBacklog(
                orders=command[1], cancels=0, modifies=0, oldest_age_ns=command[1] * 10**6,
                credit=command[2], ts_init=gate.ns))
        elif kind == "halt":
            gate.core.set_trading_state(SetTradingState(halted=command[1], reason="",
                                                        ts_init=gate.ns))
        elif kind == "snapshot":
            known = True
            gate.core.open_orders_known(_snapshot(gate, ClientOrderId.derive("gate", 21)))
        else:
            gate.ns += command[1] * 10**6
    answers: Counter[ClientOrderId] = Counter()
    passed_modifies = passed_cancels = 0
    for out in gate.tracker:
        if isinstance(out, SubmitOrder):
            answers[out.client_order_id] += 1
        elif isinstance(out, OrderDenied):
            answers[out.order.client_order_id] += 1
        elif isinstance(out, ModifyOrder):
            passed_modifies += 1
        else:
            assert isinstance(out, CancelOrder | CancelAll)
            passed_cancels += 1
    assert answers == submitted
    assert passed_cancels == cancels
    rejected = [m for _, m in gate.told]
    assert all(isinstance(m, CommandRejected) and m.command == "ModifyOrder" for m in rejected)
    if known:
        assert passed_modifies + len(rejected) == modifies
    else:
        assert passed_modifies + len(rejected) <= modifies


def test_a_burst_the_budget_pays_for_at_once_is_admitted_whole() -> None:
    """1,000 orders after a quiet spell are 26 actions: the budget's burst (60) pays for them at
    once, as execution's report says, so none waits and none is refused. A flood past the
    burst is refused as before, and the burst refills at the sustained rate."""
    gate = _Gate(actions_per_s=10.0, action_burst=60, max_queue_delay_s=2.0)

    def burst(first: int, n: int) -> int:
        refused = 0
        for i in range(first, first + n):
            gate.core.submit(_order(i))
            refused += isinstance(gate.tracker[-1], OrderDenied)
        return refused

    assert burst(0, 1000) == 0
    # The signer reports the burst spent (execution's headroom 0) and the flood goes on.
    gate.core.signer_backlog(SignerBacklog(orders=400, cancels=0, modifies=0, oldest_age_ns=0,
                                           credit=0, headroom=0, ts_init=gate.ns))
    assert burst(1000, 1000) > 0
    # The signer drains (the burst still spent), then 6 s of quiet refill 60 actions' worth:
    # a burst goes whole again; right after the drain it would not have.
    gate.core.signer_backlog(SignerBacklog(orders=0, cancels=0, modifies=0, oldest_age_ns=0,
                                           credit=4, headroom=0, ts_init=gate.ns))
    assert gate.core.pressure.refusal(gate.ns, gate.ns) is None
    gate.ns += 6 * 10**9
    assert burst(2000, 1000) == 0
