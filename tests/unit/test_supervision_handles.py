"""Stable handles, contexts and the SupervisedActor contract."""

from __future__ import annotations

import threading
from typing import Any

import attrs
import pykka
import pytest

from messages.supervision import ChildFailed, ChildRestarted, ChildRestartScheduled, DeadLetter
from supervision import (
    Backoff,
    ChildContext,
    ChildSpec,
    ChildStoppedError,
    Handle,
    Overflow,
    SupervisedActor,
    SupervisionTree,
    SupervisorSpec,
)
from tests.support.supervision import Harness, Ledger, Poison, Work, scripted


@attrs.frozen
class Tick:
    n: int


@attrs.frozen
class Schedule:
    delay_s: float
    n: int


class Ticker(SupervisedActor):
    """Schedules messages to itself through its stable handle."""

    def __init__(self, ctx: ChildContext, seen: list[tuple[int, int]]) -> None:
        super().__init__(ctx)
        self.seen = seen

    def handle(self, message: Any) -> Any:
        if isinstance(message, Schedule):
            handle = self.self_handle
            n = message.n
            self.timers.call_later(message.delay_s, lambda: handle.tell(Tick(n)))
            return None
        if isinstance(message, Tick):
            self.seen.append((message.n, self.incarnation))
            return None
        if isinstance(message, Poison):
            raise RuntimeError("poison")
        return self.incarnation


def test_timer_tells_through_self_handle_reach_the_next_incarnation() -> None:
    seen: list[tuple[int, int]] = []
    spec = SupervisorSpec(
        id="root", children=[ChildSpec(id="t", factory=lambda ctx: Ticker(ctx, seen))]
    )
    harness = Harness(spec)
    try:
        handle = harness.handle("t")
        handle.tell(Schedule(delay_s=5, n=1))
        assert handle.ask("which", timeout=10) == 1
        handle.tell(Poison())
        assert handle.ask("which", timeout=10) == 2
        harness.clock.advance(5)  # the timer was armed by incarnation 1
        assert handle.ask("which", timeout=10) == 2
        assert seen == [(1, 2)]
    finally:
        harness.close()


class Peer(SupervisedActor):
    """Answers with what its peer (looked up by path) answers."""

    def handle(self, message: Any) -> Any:
        return ("via", self.ctx.lookup("w").ask(message, timeout=10))


def test_context_lookup_and_nested_paths() -> None:
    ledger = Ledger()
    group = SupervisorSpec(id="grp", children=[ChildSpec(id="peer", factory=Peer)])
    spec = SupervisorSpec(id="root", children=[ChildSpec(id="w", factory=scripted(ledger)), group])
    harness = Harness(spec)
    try:
        assert harness.tree.paths() == ("w", "grp", "grp/peer")
        answer = harness.handle("grp/peer").ask(Work(sender="x", n=7), timeout=10)
        assert answer == ("via", Work(sender="x", n=7))
        handle = harness.handle("grp/peer")
        assert isinstance(handle, Handle)
        assert handle.child_id == "grp/peer"
        with pytest.raises(KeyError, match="nope"):
            harness.handle("nope")
    finally:
        harness.close()


def test_asks_sent_during_backoff_are_answered_by_the_next_incarnation() -> None:
    ledger = Ledger()
    spec = SupervisorSpec(
        id="root",
        children=[
            ChildSpec(
                id="w", factory=scripted(ledger), backoff=Backoff(min_s=1, max_s=1, random_factor=0)
            )
        ],
    )
    harness = Harness(spec)
    try:
        handle = harness.handle("w")
        handle.tell(Poison())
        harness.events.wait_for(ChildRestartScheduled)
        futures = [handle.ask_future(Work(sender="a", n=n)) for n in range(10)]
        assert handle.is_alive()
        assert not handle.is_serving()
        assert handle.pending() == 10
        harness.clock.advance(1)
        assert [f.get(timeout=10) for f in futures] == [Work(sender="a", n=n) for n in range(10)]
        [restarted] = harness.events.wait_for(ChildRestarted)
        assert restarted.handed_over == 10
        assert handle.incarnation == 2
    finally:
        harness.close()


def test_asks_to_a_permanently_stopped_child_fail_clearly() -> None:
    ledger = Ledger()
    harness = Harness(
        SupervisorSpec(id="root", children=[ChildSpec(id="w", factory=scripted(ledger))])
    )
    handle = harness.handle("w")
    harness.close()
    with pytest.raises(ChildStoppedError, match="w is permanently stopped"):
        handle.ask(Work(sender="x", n=1), timeout=10)
    with pytest.raises(pykka.ActorDeadError):  # the pykka-compatible base class
        handle.ask(Work(sender="x", n=2), timeout=10)
    handle.tell(Work(sender="x", n=3))  # tells become visible dead letters
    assert [e.message_type for e in harness.events.of(DeadLetter)] == ["Work"] * 3
    assert not handle.is_alive()


def test_back_pressure_holds_senders_while_the_child_is_down() -> None:
    ledger = Ledger()
    spec = SupervisorSpec(
        id="root",
        children=[
            ChildSpec(
                id="orders",
                factory=scripted(ledger),
                mailbox_limit=5,
                overflow=Overflow.BLOCK,
                block_timeout=30,
                backoff=Backoff(min_s=1, max_s=1, random_factor=0),
            )
        ],
    )
    harness = Harness(spec)
    try:
        handle = harness.handle("orders")
        handle.tell(Poison())
        harness.events.wait_for(ChildRestartScheduled)
        for n in range(5):
            handle.tell(Work(sender="s", n=n))
        done = threading.Event()

        def sender() -> None:
            for n in range(5, 10):
                handle.tell(Work(sender="s", n=n))
            done.set()

        thread = threading.Thread(target=sender)
        thread.start()
        assert not done.wait(0.05)  # blocked behind the full mailbox of a child that is down
        harness.clock.advance(1)
        assert done.wait(10)
        thread.join(10)
        harness.ping("orders")
        assert [w.n for w in ledger.processed_of("orders")] == list(range(10))
        assert not harness.tree.dead_letter_log()[1:]  # only the poison
    finally:
        harness.close()


@attrs.frozen
class Book:
    pair: str
    version: int


def test_latest_wins_conflates_market_data_while_the_child_restarts() -> None:
    ledger = Ledger()
    spec = SupervisorSpec(
        id="root",
        children=[
            ChildSpec(
                id="md",
                factory=scripted(ledger),
                mailbox_limit=100,
                overflow=Overflow.LATEST_WINS,
                key=lambda m: m.pair if isinstance(m, Book) else None,
                backoff=Backoff(min_s=1, max_s=1, random_factor=0),
            )
        ],
    )
    harness = Harness(spec)
    try:
        handle = harness.handle("md")
        handle.tell(Poison())
        harness.events.wait_for(ChildRestartScheduled)
        for version in range(50):
            handle.tell(Book("BTC-USD", version))
            handle.tell(Book("ETH-USD", version))
        harness.clock.advance(1)
        harness.ping("md")
        assert ledger.processed_of("md") == [Book("BTC-USD", 49), Book("ETH-USD", 49)]
        assert harness.tree.counters("md").conflated == 98
    finally:
        harness.close()


def test_events_sink_can_be_a_handle() -> None:
    ledger = Ledger()
    sink_tree = Harness(
        SupervisorSpec(id="obs", children=[ChildSpec(id="sink", factory=scripted(ledger))])
    )
    sink = sink_tree.handle("sink")
    tree = SupervisionTree(
        SupervisorSpec(id="root", children=[ChildSpec(id="w", factory=scripted(ledger))]),
        clock=sink_tree.clock,
        timers=sink_tree.clock,
        events=sink,
    ).start()
    try:
        tree.handle("w").tell(Poison())
        assert tree.handle("w").ask(Work(sender="x", n=1), timeout=10) == Work(sender="x", n=1)
        sink.ask(Work(sender="barrier", n=0), timeout=10)
        kinds = [type(m).__name__ for m in ledger.processed_of("sink")]
        assert kinds[:3] == ["ChildStarted", "ChildStarted", "DeadLetter"]
        assert {"ChildFailed", "ChildRestartScheduled", "ChildRestarted"} <= set(kinds)
    finally:
        tree.stop()
        sink_tree.close()


def test_supervised_actor_contract_is_enforced() -> None:
    with pytest.raises(TypeError, match="on_receive"):

        class Bad(SupervisedActor):
            def on_receive(self, message: Any) -> Any:
                return message

    with pytest.raises(TypeError, match="started by its supervisor"):
        SupervisedActor.start()


def test_factory_must_build_with_the_given_context() -> None:
    kept: list[SupervisedActor] = []

    def reuse(ctx: ChildContext) -> SupervisedActor:
        if not kept:
            kept.append(SupervisedActor(ctx))
        return kept[0]

    spec = SupervisorSpec(id="root", intensity=3, children=[ChildSpec(id="x", factory=reuse)])
    harness = Harness(spec)
    harness.tree.crash("x")
    assert harness.tree.join(10)  # every restart with the stale instance fails: escalation
    failed = harness.events.of(ChildFailed, lambda e: e.phase == "on_start")
    assert len(failed) == 3
    assert {e.error_type for e in failed} == {"TypeError"}
    assert "intensity" in harness.escalations[0]


def test_crashing_a_sub_supervisor_restarts_its_subtree_without_losing_messages() -> None:
    ledger = Ledger()
    group = SupervisorSpec(id="grp", children=[ChildSpec(id="x", factory=scripted(ledger))])
    spec = SupervisorSpec(id="root", children=[ChildSpec(id="w", factory=scripted(ledger)), group])
    harness = Harness(spec)
    try:
        x = harness.handle("grp/x")
        for n in range(100):
            x.tell(Work(sender="s", n=n))
        assert harness.tree.crash("grp")
        for n in range(100, 200):
            x.tell(Work(sender="s", n=n))
        harness.events.wait_for(ChildRestarted, lambda e: e.child_id == "grp")
        assert harness.ping("grp/x") == 2
        assert harness.ping("w") == 1
        assert [w.n for w in ledger.processed_of("grp/x")] == list(range(200))
        assert harness.tree.counters("grp").restarts == 1
        assert harness.tree.counters("grp/x").restarts == 1
    finally:
        harness.close()
