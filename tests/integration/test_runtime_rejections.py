"""A strategy's bad or fatal command comes back to it as a rejection, never only as a dead
letter (issue 10, item 4), in the running runtime against the embedded exchange.

* Numbers the venue cannot represent (``1E+30`` as price or amount) are refused at the gate:
  the strategy hears ``OrderFailed`` with a reason naming the field; execution is not
  restarted and nothing is dead-lettered.
* A command an actor raises on (a failing normaliser, a tracker that dies on a submit, on a
  submit and its denial, an execution that dies on a cancel or a modify) reaches the strategy
  as ``OrderFailed`` or ``CommandRejected`` naming the actor and the error; the strategy's
  view keeps no phantom order, and no actor crashes more than once per fault injected.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.gating.core import GateCore
from actors.gating.normalize import Normalizer
from actors.order_tracking.core import OrderTrackerCore
from actors.paths import RISK_GATE as GATE
from actors.publishing.core import PublisherConfig
from actors.strategy import Strategy
from messages import (
    CancelAll,
    CancelOrder,
    ClientOrderId,
    ModifyOrder,
    OrderState,
    SubmitOrder,
)
from messages.market import GetBook
from messages.orders import OrderFailed
from messages.tracking import CommandRejected, GetOrder, OrderDenied
from runtime.config import RuntimeConfig, StrategyConfig
from runtime.launch import Runtime
from tests.helpers import eventually
from tests.runtime_support.remote import on_strategy, remote_strategy
from tests.runtime_support.runtime import free_port
from tests.support.supervision import EventRecorder

PAIR = "ETH-USD"
SID = "remote"


class Rig:
    def __init__(self, rt: Runtime, heard: EventRecorder) -> None:
        assert rt.tree is not None
        self.rt, self.tree, self.heard = rt, rt.tree, heard
        self.strategy = rt.tree.handle(f"strategies/{SID}")

    def run(self, fn: Any) -> Any:
        return on_strategy(self.strategy, fn)

    def buy(self, amount: str, price: str) -> ClientOrderId:
        cloid: ClientOrderId = self.run(lambda s: s.buy(PAIR, Decimal(amount), Decimal(price)))
        return cloid

    def in_view(self, cloid: ClientOrderId) -> bool:
        found: bool = self.run(lambda s: cloid in s.orders)
        return found

    def failed(self, cloid: ClientOrderId) -> OrderFailed:
        [event] = self.heard.wait_for(OrderFailed, lambda e: e.client_order_id == cloid,
                                      timeout=15)
        return event

    def rejected(self, command: str, cloid: ClientOrderId | None = None) -> CommandRejected:
        [event] = self.heard.wait_for(
            CommandRejected, lambda e: e.command == command and e.client_order_id == cloid,
            timeout=15)
        return event

    def state(self, cloid: ClientOrderId) -> OrderState | None:
        order = self.tree.handle("order_tracker").ask(GetOrder(client_order_id=cloid),
                                                      timeout=5)
        return None if order is None else order.state

    def failures(self, path: str) -> int:
        return self.tree.counters(path).failures

    def dead_commands(self) -> list[object]:
        return [r.message for r in self.tree.dead_letter_log()
                if isinstance(r.message, SubmitOrder | OrderDenied | ModifyOrder | CancelAll)]

    def serving(self, path: str) -> None:
        eventually(lambda: self.tree.handle(path).is_serving(), timeout=30)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    heard = EventRecorder()
    config = RuntimeConfig(
        strategy=StrategyConfig(kind="none"), data_dir=Path(tmp_path_factory.mktemp("rt")),
        publisher=PublisherConfig(address=f"tcp://127.0.0.1:{free_port()}"),
        restart_intensity=200)  # the injected crashes are not what this module tests
    rt = Runtime(config, strategies=(remote_strategy(SID, (PAIR,), heard),))
    rt.start()
    try:
        yield Rig(rt, heard)
    finally:
        rt.stop(cancel=True)


@pytest.mark.timeout(60)
def test_unrepresentable_numbers_are_order_failed_without_a_crash(rig: Rig) -> None:
    before, dead = rig.failures(GATE), len(rig.dead_commands())
    incarnation = rig.tree.incarnation(GATE)
    failed = len(rig.heard.of(OrderFailed))
    by_price = rig.buy("0.01", "1E+30")
    by_amount = rig.buy("1E+30", "2000")
    assert "price 1E+30 is too large" in rig.failed(by_price).reason
    assert "amount 1E+30 is too large" in rig.failed(by_amount).reason
    eventually(lambda: not rig.in_view(by_price) and not rig.in_view(by_amount))
    # A modify of an order execution knows goes through the same gate.
    book = eventually(lambda: rig.tree.handle("market_stream").ask(
        GetBook(trading_pair=PAIR), timeout=5), timeout=20)
    bid = book.best_bid
    assert bid is not None
    resting = rig.buy("0.01", str((bid.price * Decimal("0.97")).quantize(Decimal(1))))
    eventually(lambda: rig.state(resting) is OrderState.OPEN, timeout=20)
    rig.run(lambda s: s.modify(resting, price=Decimal("1E+30")))
    rig.run(lambda s: s.modify(resting, amount=Decimal("1E+30")))
    refused = rig.heard.wait_for(CommandRejected, lambda r: r.command == "ModifyOrder"
                                 and r.client_order_id == resting, count=2, timeout=10)
    assert {r.reason.split(" is too large")[0] for r in refused} == {"price 1E+30",
                                                                      "amount 1E+30"}
    rig.run(lambda s: s.cancel(resting))
    eventually(lambda: rig.state(resting) is OrderState.CANCELLED, timeout=20)
    plain = rig.buy("0.0001", "1")  # and the actor is still answering: a plain denial
    assert "below the minimum" in rig.failed(plain).reason
    assert len(rig.heard.of(OrderFailed)) == failed + 3
    assert rig.failures(GATE) == before
    assert rig.tree.incarnation(GATE) == incarnation
    assert len(rig.dead_commands()) == dead


@pytest.mark.timeout(60)
def test_a_normaliser_that_raises_fails_the_order(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    mark = Decimal("0.0123")
    real = Normalizer.submit

    def failing(self: Normalizer, order: SubmitOrder) -> SubmitOrder | str:
        if order.amount == mark:
            raise RuntimeError("injected normaliser bug")
        return real(self, order)

    monkeypatch.setattr(Normalizer, "submit", failing)
    before = rig.failures(GATE)
    cloid = rig.buy(str(mark), "2000")
    failed = rig.failed(cloid)
    assert failed.reason.startswith(f"{GATE} failed on this SubmitOrder: poison: "
                                    "RuntimeError: injected normaliser bug")
    assert not rig.in_view(cloid)
    eventually(lambda: rig.failures(GATE) == before + 1)
    rig.serving(GATE)


@pytest.mark.timeout(60)
def test_a_tracker_that_dies_on_a_submit_records_it_failed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    mark = Decimal("0.0234")
    real = OrderTrackerCore.handle

    def dying(self: OrderTrackerCore, message: object, now: int, **kw: Any) -> Any:
        # Live input only: a bug on what the journal replays would fail every restart.
        if not kw.get("replay") and isinstance(message, SubmitOrder) and message.amount == mark:
            raise RuntimeError("injected tracker bug")
        return real(self, message, now, **kw)

    monkeypatch.setattr(OrderTrackerCore, "handle", dying)
    before = rig.failures("order_tracker")
    cloid = rig.buy(str(mark), "2000")
    failed = rig.failed(cloid)
    assert failed.reason.startswith("order_tracker failed on this SubmitOrder: poison: "
                                    "RuntimeError: injected tracker bug")
    assert not rig.in_view(cloid)
    eventually(lambda: rig.failures("order_tracker") == before + 1)


@pytest.mark.timeout(60)
def test_a_tracker_that_dies_on_the_submit_and_its_denial_does_not_loop(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    mark = Decimal("0.0345")
    real = OrderTrackerCore.handle

    def dying(self: OrderTrackerCore, message: object, now: int, **kw: Any) -> Any:
        order = message.order if isinstance(message, OrderDenied) else message
        if not kw.get("replay") and isinstance(order, SubmitOrder) and order.amount == mark:
            raise RuntimeError(f"injected tracker bug on {type(message).__name__}")
        return real(self, message, now, **kw)

    monkeypatch.setattr(OrderTrackerCore, "handle", dying)
    before = rig.failures("order_tracker")
    cloid = rig.buy(str(mark), "2000")
    rejection = rig.rejected("SubmitOrder", cloid)
    assert rejection.reason.startswith("order_tracker failed on this OrderDenied: poison: "
                                       "RuntimeError: injected tracker bug on OrderDenied")
    assert "denying it: order_tracker failed on this SubmitOrder" in rejection.reason
    assert not rig.in_view(cloid)  # the strategy does not wait on a phantom
    # Exactly two crashes: the next order goes through the restarted tracker normally.
    rig.serving("order_tracker")
    plain = rig.buy("0.0001", "1")
    assert "below the minimum" in rig.failed(plain).reason
    assert rig.failures("order_tracker") == before + 2
    assert rig.heard.of(OrderFailed, lambda e: e.client_order_id == cloid) == []


@pytest.mark.timeout(90)
def test_cancels_and_modifies_an_actor_dies_on_are_rejected_to_the_strategy(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Execution dies on the modify, the tracker on the cancels (it restarts at once;
    execution backs off)."""
    def dying_execution(self: GateCore, command: object) -> None:
        raise RuntimeError(f"injected execution bug on {type(command).__name__}")

    real = OrderTrackerCore.handle

    def dying_tracker(self: OrderTrackerCore, message: object, now: int, **kw: Any) -> Any:
        if not kw.get("replay") and isinstance(message, CancelOrder | CancelAll) and (
            message.strategy_id == SID
        ):
            raise RuntimeError(f"injected tracker bug on {type(message).__name__}")
        return real(self, message, now, **kw)

    executions, trackers = rig.failures(GATE), rig.failures("order_tracker")
    monkeypatch.setattr(GateCore, "modify", dying_execution)
    monkeypatch.setattr(OrderTrackerCore, "handle", dying_tracker)
    target = ClientOrderId.derive("rejections", time.time_ns())
    mark = len(rig.heard.of(CommandRejected))

    def send(s: Strategy) -> None:
        # The cancels pass through the gate before it dies on the modify: none of them
        # waits for the gate's restart back-off.
        s.cancel(target)
        s.cancel_all(PAIR)
        s.modify(target, price=Decimal("2000"))

    rig.run(send)
    rejections = rig.heard.wait_for(CommandRejected, count=mark + 3, timeout=30)[mark:]
    by_command = {r.command: r for r in rejections}
    assert sorted(by_command) == ["CancelAll", "CancelOrder", "ModifyOrder"]
    for command, actor, bug in (("ModifyOrder", GATE, "execution"),
                                ("CancelOrder", "order_tracker", "tracker"),
                                ("CancelAll", "order_tracker", "tracker")):
        rejection = by_command[command]
        assert rejection.reason.startswith(
            f"{actor} failed on this {command}: poison: RuntimeError: injected {bug} bug on "
            f"{command}"), rejection.reason
        assert rejection.strategy_id == SID
        assert rejection.client_order_id == (None if command == "CancelAll" else target)
    eventually(lambda: rig.failures(GATE) == executions + 1, timeout=30)
    eventually(lambda: rig.failures("order_tracker") == trackers + 2, timeout=30)
    monkeypatch.undo()
    rig.serving(GATE)
