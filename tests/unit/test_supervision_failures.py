"""Death detection on every path: handler (tell and ask), on_start, on_stop, hang, shutdown
timeout, BaseException; plus injected crashes. ManualClock only; waits are on futures/events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from messages.supervision import ChildFailed, ChildRestarted, ChildStopped, DeadLetter
from supervision import (
    ChildContext,
    ChildHungError,
    ChildSpec,
    ChildStoppedError,
    FencedError,
    InjectedCrash,
    Restart,
    SupervisedActor,
    SupervisorSpec,
    TreeStartError,
)
from tests.helpers import eventually
from tests.support.supervision import (
    Exit,
    Fatal,
    Hang,
    Harness,
    Ledger,
    Poison,
    PoisonError,
    Work,
    scripted,
)


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


def single(ledger: Ledger, **kwargs: Any) -> SupervisorSpec:
    return SupervisorSpec(
        id="root",
        intensity=kwargs.pop("intensity", 10),
        period=60,
        children=[ChildSpec(id="w", factory=scripted(ledger), **kwargs)],
    )


def run(spec: SupervisorSpec) -> Iterator[Harness]:
    harness = Harness(spec)
    try:
        yield harness
    finally:
        harness.close()


def test_crash_on_tell_dead_letters_the_poison_and_hands_the_queue_over(ledger: Ledger) -> None:
    for harness in run(single(ledger)):
        handle = harness.handle("w")
        handle.tell(Work(sender="s", n=0))
        handle.tell(Poison(tag="p1"))
        for n in range(1, 500):
            handle.tell(Work(sender="s", n=n))
        assert harness.ping("w") == 2
        assert [w.n for w in ledger.processed_of("w")] == list(range(500))
        [dead] = harness.tree.dead_letter_log()
        assert dead.message == Poison(tag="p1")
        assert dead.reason.startswith("poison: PoisonError")
        [event] = harness.events.of(DeadLetter)
        assert event.target == "w"
        assert event.message_type == "Poison"
        [failed] = harness.events.of(ChildFailed)
        assert (failed.phase, failed.error_type) == ("handler", "PoisonError")
        assert failed.incarnation == 1
        counters = harness.tree.counters("w")
        assert (counters.restarts, counters.failures, counters.dead_letters) == (1, 1, 1)
        assert counters.processed == 501  # 500 Work + the Ping


def test_crash_on_ask_returns_the_error_to_the_asker_and_restarts(ledger: Ledger) -> None:
    for harness in run(single(ledger)):
        handle = harness.handle("w")
        with pytest.raises(PoisonError):
            handle.ask(Poison(tag="asked"), timeout=10)
        assert harness.ping("w") == 2
        assert [d.message for d in harness.tree.dead_letter_log()] == [Poison(tag="asked")]


def test_failures_in_on_start_during_a_restart_are_retried_and_counted(ledger: Ledger) -> None:
    for harness in run(single(ledger, intensity=3)):
        ledger.fail_next_starts("w", 2)
        harness.handle("w").tell(Poison())
        assert harness.ping("w") == 4  # incarnations 2 and 3 failed in on_started
        phases = [(e.phase, e.incarnation) for e in harness.events.of(ChildFailed)]
        assert phases == [("handler", 1), ("on_start", 2), ("on_start", 3)]
        assert [e.incarnation for e in harness.events.of(ChildRestarted)] == [4]
        assert not harness.tree.escalated


def test_repeated_on_start_failures_exhaust_intensity_and_escalate(ledger: Ledger) -> None:
    harness = Harness(single(ledger, intensity=2))
    ledger.fail_next_starts("w", 5)
    harness.handle("w").tell(Poison())
    assert harness.tree.join(10)
    assert "intensity" in harness.escalations[0]
    with pytest.raises(ChildStoppedError):
        harness.ping("w")


def test_on_start_failure_at_first_start_fails_the_tree_start(ledger: Ledger) -> None:
    ledger.fail_next_starts("b", 1)
    spec = SupervisorSpec(
        id="root",
        children=[
            ChildSpec(id="a", factory=scripted(ledger)),
            ChildSpec(id="b", factory=scripted(ledger)),
            ChildSpec(id="c", factory=scripted(ledger)),
        ],
    )
    harness = Harness(spec, start=False)
    with pytest.raises(TreeStartError, match="b failed to start"):
        harness.tree.start()
    assert ledger.order == [
        ("started", "a", 1), ("started", "b", 1), ("stopping", "b", 1), ("stopping", "a", 1)
    ]
    assert harness.tree.terminated
    assert not harness.handle("a").is_alive()


def test_factory_errors_are_start_failures(ledger: Ledger) -> None:
    def broken(ctx: ChildContext) -> SupervisedActor:
        raise ValueError("cannot build")

    spec = SupervisorSpec(id="root", children=[ChildSpec(id="x", factory=broken)])
    with pytest.raises(TreeStartError, match="cannot build"):
        Harness(spec)


def test_on_stop_failure_makes_a_self_exit_abnormal(ledger: Ledger) -> None:
    for harness in run(single(ledger, restart=Restart.TRANSIENT)):
        ledger.fail_next_stops("w", 1)
        harness.handle("w").tell(Exit())
        assert harness.ping("w") == 2  # transient: restarted because the exit was abnormal
        [failed] = harness.events.of(ChildFailed)
        assert (failed.phase, failed.error_type) == ("on_stop", "StopFailedError")


def test_on_stop_failure_during_shutdown_is_reported(ledger: Ledger) -> None:
    harness = Harness(single(ledger))
    ledger.fail_next_stops("w", 1)
    harness.close()
    [failed] = harness.events.of(ChildFailed)
    assert (failed.child_id, failed.phase) == ("w", "on_stop")
    assert harness.tree.terminated


def test_hung_handler_is_detected_fenced_and_replaced(ledger: Ledger) -> None:
    for harness in run(single(ledger, heartbeat=1.0)):
        handle = harness.handle("w")
        hang = Hang()
        stuck = handle.ask_future(hang)
        handle.tell(Work(sender="s", n=1))
        assert hang.entered.wait(10)
        zombie_fence = harness.tree._slot("w").current.fence  # type: ignore[union-attr]
        harness.clock.advance(0.5)  # first sample: busy
        harness.clock.advance(0.5)
        harness.clock.advance(0.5)  # busy on the same message for >= 1 s: hung
        assert harness.ping("w") == 2
        with pytest.raises(ChildHungError):
            stuck.get(timeout=10)
        assert [w.n for w in ledger.processed_of("w")] == [1]
        [failed] = harness.events.of(ChildFailed)
        assert failed.phase == "hung"
        assert not zombie_fence.is_current
        hang.release.set()  # the zombie wakes up: its fenced side effect is refused
        with pytest.raises(FencedError):
            zombie_fence.check()
        assert [d.reason for d in harness.tree.dead_letter_log()] == ["hung: exceeded 1.0s"]
        assert harness.ping("w") == 2


def test_a_slow_but_progressing_child_is_not_declared_hung(ledger: Ledger) -> None:
    for harness in run(single(ledger, heartbeat=1.0)):
        handle = harness.handle("w")
        for _ in range(5):
            hang = Hang()
            handle.tell(hang)
            assert hang.entered.wait(10)
            harness.clock.advance(0.5)
            hang.release.set()
            harness.ping("w")
            harness.clock.advance(0.4)
        assert harness.ping("w") == 1
        assert not harness.events.of(ChildFailed)


class SlowStarter(SupervisedActor):
    def __init__(self, ctx: ChildContext, gate: threading.Event) -> None:
        super().__init__(ctx)
        self.gate = gate

    def on_started(self) -> None:
        if self.incarnation == 1:
            self.gate.wait(30)

    def handle(self, message: Any) -> Any:
        return self.incarnation


def test_on_started_that_never_returns_is_a_failed_start(ledger: Ledger) -> None:
    gate = threading.Event()
    spec = SupervisorSpec(
        id="root",
        children=[
            ChildSpec(id="slow", factory=lambda ctx: SlowStarter(ctx, gate), start_timeout=2.0)
        ],
    )
    harness = Harness(spec, start=False)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            harness.tree.start()
        except TreeStartError as exc:
            errors.append(exc)

    starter = threading.Thread(target=start)
    starter.start()
    eventually(lambda: harness.clock.pending() == 1, message="start timer never armed")
    harness.clock.advance(2.0)
    starter.join(10)
    gate.set()
    assert harness.tree.terminated  # a failed first start fails the tree start
    assert len(errors) == 1
    assert "on_started did not return within 2.0s" in str(errors[0])
    [failed] = harness.events.of(ChildFailed)
    assert (failed.phase, failed.error_type) == ("on_start", "ChildHungError")


def test_a_child_stuck_at_shutdown_is_abandoned_after_its_timeout(ledger: Ledger) -> None:
    harness = Harness(single(ledger, shutdown_timeout=3.0))
    handle = harness.handle("w")
    hang = Hang()
    stuck = handle.ask_future(hang)
    assert hang.entered.wait(10)
    stopper = threading.Thread(target=harness.tree.stop)
    stopper.start()
    eventually(lambda: harness.clock.pending() == 1, message="shutdown timer never armed")
    harness.clock.advance(3.0)
    stopper.join(10)
    assert not stopper.is_alive()
    with pytest.raises(ChildHungError):
        stuck.get(timeout=10)
    reasons = [e.reason for e in harness.events.of(ChildStopped, lambda e: e.child_id == "w")]
    assert reasons == ["shutdown; shutdown timeout: abandoned"]
    hang.release.set()


def test_base_exception_in_a_child_stops_the_whole_tree_but_nothing_else(
    ledger: Ledger,
) -> None:
    class Bystander(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            return "alive"

    bystander = Bystander.start()
    try:
        group = SupervisorSpec(id="grp", children=[ChildSpec(id="x", factory=scripted(ledger))])
        spec = SupervisorSpec(
            id="root", intensity=100, children=[ChildSpec(id="a", factory=scripted(ledger)), group]
        )
        harness = Harness(spec)
        harness.handle("grp/x").tell(Fatal())
        assert harness.tree.join(10)
        assert "SystemExit" in harness.escalations[0]
        [failed] = harness.events.of(ChildFailed, lambda e: e.child_id == "grp/x")
        assert failed.fatal
        assert failed.error_type == "SystemExit"
        assert not harness.events.of(ChildRestarted)  # fatal: no restart at any level
        assert ledger.stops["a"] == [1]
        for path in ("a", "grp/x"):
            with pytest.raises(ChildStoppedError):
                harness.ping(path)
        assert bystander.ask("are you there?", timeout=10) == "alive"
    finally:
        bystander.stop()


def test_injected_crash_goes_through_the_real_failure_path(ledger: Ledger) -> None:
    for harness in run(single(ledger)):
        handle = harness.handle("w")
        for n in range(100):
            handle.tell(Work(sender="s", n=n))
        assert harness.tree.crash("w")
        for n in range(100, 200):
            handle.tell(Work(sender="s", n=n))
        assert harness.ping("w") == 2
        [failed] = harness.events.of(ChildFailed)
        assert failed.error_type == InjectedCrash.__name__
        assert failed.phase == "handler"
        assert [w.n for w in ledger.processed_of("w")] == list(range(200))
        assert not harness.tree.dead_letter_log()
