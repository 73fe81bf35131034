"""Strategies, restart types, intensity escalation and back-off, on a ManualClock (no sleeps).

Every wait is on a future or an event: ``Harness.ping`` asks a child through its stable handle,
so it returns only once everything sent before it was handled by whichever incarnation serves.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from clock import ManualClock
from messages.supervision import (
    ChildFailed,
    ChildRestarted,
    ChildRestartScheduled,
    ChildStarted,
    ChildStopped,
    SupervisorEscalated,
)
from supervision import (
    Backoff,
    ChildSpec,
    ChildStoppedError,
    Restart,
    Strategy,
    SupervisionTree,
    SupervisorSpec,
)
from tests.support.supervision import Exit, Harness, Ledger, Poison, Work, scripted


def worker(ledger: Ledger, child_id: str, **kwargs: object) -> ChildSpec:
    return ChildSpec(id=child_id, factory=scripted(ledger), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


def run(spec: SupervisorSpec, seed: int = 0) -> Iterator[Harness]:
    harness = Harness(spec, seed=seed)
    try:
        yield harness
    finally:
        harness.close()


def three(ledger: Ledger, strategy: Strategy, **kwargs: object) -> SupervisorSpec:
    return SupervisorSpec(
        id="root",
        strategy=strategy,
        intensity=10,
        period=60,
        children=[worker(ledger, c) for c in "abc"],
        **kwargs,  # type: ignore[arg-type]
    )


def test_children_start_in_order_and_stop_in_reverse(ledger: Ledger) -> None:
    harness = Harness(three(ledger, Strategy.ONE_FOR_ONE))
    assert ledger.order == [("started", c, 1) for c in "abc"]
    # The root announces itself once its on_started (which starts the children) returned.
    assert [e.child_id for e in harness.events.of(ChildStarted)] == ["a", "b", "c", "root"]
    harness.close()
    assert ledger.order[3:] == [("stopping", c, 1) for c in "cba"]
    assert [e.child_id for e in harness.events.of(ChildStopped)] == ["c", "b", "a", "root"]
    assert harness.tree.terminated
    assert not harness.tree.escalated


def test_one_for_one_restarts_only_the_failed_child(ledger: Ledger) -> None:
    for harness in run(three(ledger, Strategy.ONE_FOR_ONE)):
        harness.handle("b").tell(Poison())
        assert harness.incarnations("b", "a", "c") == {"a": 1, "b": 2, "c": 1}
        assert [e.child_id for e in harness.events.of(ChildRestarted)] == ["b"]
        assert ledger.stops == {"b": [1]}  # the crashed incarnation's best-effort cleanup


def test_rest_for_one_restarts_the_failed_child_and_those_started_after_it(
    ledger: Ledger,
) -> None:
    for harness in run(three(ledger, Strategy.REST_FOR_ONE)):
        harness.handle("b").tell(Poison())
        assert harness.incarnations("b", "a", "c") == {"a": 1, "b": 2, "c": 2}
        assert ledger.order[3:] == [
            ("stopping", "b", 1),
            ("stopping", "c", 1),
            ("started", "b", 2),
            ("started", "c", 2),
        ]


def test_one_for_all_restarts_everyone_stopping_in_reverse_starting_in_order(
    ledger: Ledger,
) -> None:
    for harness in run(three(ledger, Strategy.ONE_FOR_ALL)):
        harness.handle("b").tell(Poison())
        assert harness.incarnations("b", "a", "c") == {"a": 2, "b": 2, "c": 2}
        assert ledger.order[3:] == [
            ("stopping", "b", 1),
            ("stopping", "c", 1),
            ("stopping", "a", 1),
            ("started", "a", 2),
            ("started", "b", 2),
            ("started", "c", 2),
        ]


def test_siblings_stopped_by_a_strategy_keep_their_queued_messages(ledger: Ledger) -> None:
    for harness in run(three(ledger, Strategy.ONE_FOR_ALL)):
        c = harness.handle("c")
        harness.handle("a").tell(Poison())
        for n in range(200):
            c.tell(Work(sender="t", n=n))
        harness.ping("c")
        assert [w.n for w in ledger.processed_of("c")] == list(range(200))


def test_permanent_child_is_restarted_after_a_normal_exit(ledger: Ledger) -> None:
    spec = SupervisorSpec(id="root", children=[worker(ledger, "p")])
    for harness in run(spec):
        harness.handle("p").tell(Exit())
        assert harness.ping("p") == 2
        stopped = harness.events.of(ChildStopped)
        assert [(e.child_id, e.reason) for e in stopped] == [("p", "normal")]
        assert not harness.events.of(ChildFailed)


def test_transient_child_is_restarted_after_a_crash_but_not_after_a_normal_exit(
    ledger: Ledger,
) -> None:
    spec = SupervisorSpec(id="root", children=[worker(ledger, "t", restart=Restart.TRANSIENT)])
    for harness in run(spec):
        handle = harness.handle("t")
        handle.tell(Poison())
        assert harness.ping("t") == 2
        handle.tell(Exit())
        with pytest.raises(ChildStoppedError):
            handle.ask(Work(sender="x", n=1), timeout=10)
        assert not handle.is_alive()
        assert harness.tree.incarnation("t") == 2


def test_temporary_child_is_never_restarted(ledger: Ledger) -> None:
    spec = SupervisorSpec(
        id="root",
        children=[worker(ledger, "tmp", restart=Restart.TEMPORARY), worker(ledger, "p")],
    )
    for harness in run(spec):
        harness.handle("tmp").tell(Poison())
        with pytest.raises(ChildStoppedError):
            harness.ping("tmp")
        assert harness.ping("p") == 1
        assert not harness.events.of(ChildRestarted)


def test_temporary_sibling_terminated_by_one_for_all_is_removed(ledger: Ledger) -> None:
    spec = SupervisorSpec(
        id="root",
        strategy=Strategy.ONE_FOR_ALL,
        children=[worker(ledger, "a"), worker(ledger, "tmp", restart=Restart.TEMPORARY)],
    )
    for harness in run(spec):
        harness.handle("a").tell(Poison())
        assert harness.ping("a") == 2  # tmp was stopped before a restarted
        with pytest.raises(ChildStoppedError):
            harness.ping("tmp")


def test_intensity_exceeded_escalates_to_the_root_callback(ledger: Ledger) -> None:
    spec = SupervisorSpec(
        id="root", intensity=2, period=10, children=[worker(ledger, "a"), worker(ledger, "b")]
    )
    harness = Harness(spec)
    a = harness.handle("a")
    for expected in (2, 3):
        a.tell(Poison())
        assert harness.ping("a") == expected
        harness.clock.advance(1)
    a.tell(Poison())  # the third restart within 10 s
    assert harness.tree.join(10)
    assert harness.tree.escalated
    assert len(harness.escalations) == 1
    assert "intensity" in harness.escalations[0]
    assert [e.supervisor for e in harness.events.of(SupervisorEscalated)] == ["root"]
    assert ledger.stops["a"] == [1, 2, 3]  # best-effort cleanup after each crash
    assert ledger.stops["b"] == [1]  # stopped by the escalating supervisor
    for path in ("a", "b"):
        with pytest.raises(ChildStoppedError):
            harness.ping(path)


def test_restarts_older_than_the_period_are_forgotten(ledger: Ledger) -> None:
    spec = SupervisorSpec(id="root", intensity=1, period=1, children=[worker(ledger, "a")])
    for harness in run(spec):
        for expected in range(2, 6):
            harness.handle("a").tell(Poison())
            assert harness.ping("a") == expected
            harness.clock.advance(2.1)
        assert not harness.tree.escalated


def test_nested_supervisor_escalation_is_handled_by_the_parent(ledger: Ledger) -> None:
    group = SupervisorSpec(
        id="grp", intensity=1, period=10, children=[worker(ledger, "x"), worker(ledger, "y")]
    )
    spec = SupervisorSpec(
        id="root", intensity=5, period=10, children=[worker(ledger, "top"), group]
    )
    for harness in run(spec):
        x = harness.handle("grp/x")
        x.tell(Poison())
        assert harness.ping("grp/x") == 2
        x.tell(Poison())  # second restart in grp's window: grp escalates to root
        y = harness.handle("grp/y")
        for n in range(50):
            y.tell(Work(sender="s", n=n))  # sent while grp and y may be restarting
        assert harness.incarnations("grp/x", "grp/y", "top") == {"grp/x": 3, "grp/y": 2, "top": 1}
        assert [w.n for w in ledger.processed_of("grp/y")] == list(range(50))
        assert [e.supervisor for e in harness.events.of(SupervisorEscalated)] == ["grp"]
        failed = harness.events.of(ChildFailed, lambda e: e.child_id == "grp")
        assert [e.phase for e in failed] == ["escalated"]
        assert harness.tree.incarnation("grp") == 2
        assert not harness.tree.escalated


def test_backoff_schedule_without_jitter_and_reset_after_a_stable_run(ledger: Ledger) -> None:
    backoff = Backoff(min_s=1, max_s=4, random_factor=0, reset_after_s=10)
    spec = SupervisorSpec(
        id="root", intensity=100, period=1, children=[worker(ledger, "ws", backoff=backoff)]
    )
    for harness in run(spec):
        handle = harness.handle("ws")
        delays = []
        for attempt in range(1, 6):
            handle.tell(Poison())
            scheduled = harness.events.wait_for(ChildRestartScheduled, count=attempt)[-1]
            delays.append(scheduled.delay_ns / 1e9)
            assert harness.clock.next_due_s() == pytest.approx(delays[-1])
            assert not handle.is_serving()
            handle.tell(Work(sender="during back-off", n=attempt))
            harness.clock.advance(delays[-1] - 0.001)
            assert not handle.is_serving()
            harness.clock.advance(0.001)
            assert harness.ping("ws") == attempt + 1
        assert delays == [1, 2, 4, 4, 4]
        assert [w.n for w in ledger.processed_of("ws")] == [1, 2, 3, 4, 5]
        harness.clock.advance(10)  # a stable run: the next failure starts over at min_s
        handle.tell(Poison())
        scheduled = harness.events.wait_for(ChildRestartScheduled, count=6)[-1]
        assert scheduled.delay_ns == 1_000_000_000
        restarted = harness.events.of(ChildRestarted)
        assert [e.delay_ns for e in restarted] == [int(d * 1e9) for d in delays]
        assert all(e.handed_over >= 1 for e in restarted)  # the Work sent during back-off


def test_backoff_jitter_follows_the_injected_random_source(ledger: Ledger) -> None:
    backoff = Backoff(min_s=0.5, max_s=30, random_factor=0.2)
    spec = SupervisorSpec(
        id="root", intensity=100, period=1, children=[worker(ledger, "ws", backoff=backoff)]
    )
    expected_rng = random.Random(1234)
    expected = [backoff.delay_s(n, expected_rng) for n in range(1, 5)]
    for harness in run(spec, seed=1234):
        for attempt in range(1, 5):
            harness.handle("ws").tell(Poison())
            scheduled = harness.events.wait_for(ChildRestartScheduled, count=attempt)[-1]
            assert scheduled.delay_ns == int(expected[attempt - 1] * 1e9)
            harness.clock.advance(expected[attempt - 1])
            assert harness.ping("ws") == attempt + 1


def test_backoff_max_restarts_escalates(ledger: Ledger) -> None:
    backoff = Backoff(min_s=1, max_s=1, random_factor=0, max_restarts=1)
    spec = SupervisorSpec(
        id="root", intensity=100, period=1, children=[worker(ledger, "ws", backoff=backoff)]
    )
    harness = Harness(spec)
    harness.handle("ws").tell(Poison())
    harness.events.wait_for(ChildRestartScheduled)
    harness.clock.advance(1)
    assert harness.ping("ws") == 2
    harness.handle("ws").tell(Poison())
    assert harness.tree.join(10)
    assert "back-off gave up" in harness.escalations[0]


def test_one_for_all_group_waits_for_the_failed_childs_backoff(ledger: Ledger) -> None:
    spec = SupervisorSpec(
        id="root",
        strategy=Strategy.ONE_FOR_ALL,
        children=[
            worker(ledger, "a"),
            worker(ledger, "ws", backoff=Backoff(min_s=2, max_s=2, random_factor=0)),
        ],
    )
    for harness in run(spec):
        harness.handle("ws").tell(Poison())
        harness.events.wait_for(ChildRestartScheduled, count=2)
        assert not harness.handle("a").is_serving()
        harness.clock.advance(2)
        assert harness.incarnations("a", "ws") == {"a": 2, "ws": 2}


def test_on_escalate_may_stop_the_tree_without_deadlock(ledger: Ledger) -> None:
    spec = SupervisorSpec(id="root", intensity=0, children=[worker(ledger, "a")])
    clock = ManualClock()
    reasons: list[str] = []
    trees: list[SupervisionTree] = []

    def on_escalate(reason: str) -> None:
        trees[0].stop()  # what a runtime does: it must return at once, the tree is already down
        reasons.append(reason)

    tree = SupervisionTree(spec, clock=clock, timers=clock, on_escalate=on_escalate)
    trees.append(tree)
    tree.start()
    tree.handle("a").tell(Poison())
    assert tree.join(10)
    assert len(reasons) == 1
    assert tree.escalated
