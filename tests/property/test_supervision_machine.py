"""A hypothesis state machine drives a real two-level tree against an independent model.

Rules send work, crash children in their handler, make their next starts fail, make them exit
normally, hang the heartbeat-watched child, inject crashes and move the ManualClock. After every
rule the test waits (asks through stable handles, never sleeps) until the tree is quiet, then
compares with the model: which children are alive, every incarnation number, every message
processed (exactly once, in order), every dead letter, and whether the root escalated.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from supervision import ChildSpec, ChildStoppedError, Restart, Strategy, SupervisorSpec
from tests.helpers import eventually
from tests.support.supervision import Exit, Hang, Harness, Ledger, Poison, Work, scripted

P, T, TMP = Restart.PERMANENT, Restart.TRANSIENT, Restart.TEMPORARY
ROOT_CHILDREN = ["p", "t", "tmp", "grp"]
GROUP_CHILDREN = ["grp/x", "grp/y"]
RESTART = {"p": P, "t": T, "tmp": TMP, "grp": P, "grp/x": P, "grp/y": T}
WORKERS = ["p", "t", "tmp", "grp/x", "grp/y"]
PERIOD_S = 4.0
HEARTBEAT_S = 1.0
RUNNING, DOWN, REMOVED = "running", "down", "removed"


class TreeEscalated(Exception):  # noqa: N818 - model control flow
    pass


class GroupEscalated(Exception):  # noqa: N818 - model control flow
    pass


class Model:
    """What OTP semantics say must have happened; written independently of supervision.policy."""

    def __init__(self, strategies: dict[str, Strategy], intensity: dict[str, int]) -> None:
        self.strategy = strategies
        self.intensity = intensity
        self.children = {"root": ROOT_CHILDREN, "grp": GROUP_CHILDREN}
        self.state = {c: RUNNING for c in RESTART}
        self.incarnation = {c: 1 for c in RESTART}
        self.windows: dict[str, list[int]] = {"root": [], "grp": []}
        self.fail_starts: dict[str, int] = defaultdict(int)
        self.now_ns = 0
        self.escalated = False
        self.processed: dict[str, list[int]] = defaultdict(list)
        self.dead: list[str] = []

    @staticmethod
    def parent(child: str) -> str:
        return "grp" if child.startswith("grp/") else "root"

    def alive(self, child: str) -> bool:
        return not self.escalated and self.state[child] is not REMOVED

    def send(self, child: str, n: int) -> None:
        if self.alive(child):
            self.processed[child].append(n)
        else:
            self.dead.append(f"work:{child}:{n}")

    def exit(self, child: str, *, abnormal: bool) -> None:
        self.state[child] = DOWN
        try:
            try:
                self._exit(self.parent(child), child, abnormal)
            except GroupEscalated:
                self._escalate_group()
        except TreeEscalated:
            self.escalated = True

    def _escalate_group(self) -> None:
        for child in GROUP_CHILDREN:
            if self.state[child] is RUNNING:
                self.state[child] = DOWN
        self.state["grp"] = DOWN
        self._exit("root", "grp", True)

    def _record(self, sup: str) -> None:
        window = [t for t in self.windows[sup] if t >= self.now_ns - int(PERIOD_S * 1e9)]
        window.append(self.now_ns)
        self.windows[sup] = window
        if len(window) > self.intensity[sup]:
            raise GroupEscalated if sup == "grp" else TreeEscalated

    def _stop(self, child: str) -> None:
        self.state[child] = DOWN
        if child == "grp":
            for grandchild in GROUP_CHILDREN:
                if self.state[grandchild] is RUNNING:
                    self.state[grandchild] = DOWN

    def _exit(self, sup: str, child: str, abnormal: bool) -> None:
        restart = RESTART[child]
        if restart is TMP or (restart is T and not abnormal):
            self.state[child] = REMOVED
            return
        self._record(sup)
        children = self.children[sup]
        index = children.index(child)
        strategy = self.strategy[sup]
        if strategy is Strategy.ONE_FOR_ONE:
            affected = [child]
        elif strategy is Strategy.REST_FOR_ONE:
            affected = children[index:]
        else:
            affected = list(children)
        group = []
        for sibling in affected:
            if sibling == child:
                group.append(sibling)
            elif self.state[sibling] is REMOVED:
                continue
            elif RESTART[sibling] is TMP:
                self._stop(sibling)
                self.state[sibling] = REMOVED
            else:
                self._stop(sibling)
                group.append(sibling)
        self._restart_group(sup, group)

    def _restart_group(self, sup: str, group: list[str]) -> None:
        while True:
            started: list[str] = []
            failed = False
            for child in group:
                if self._start(child):
                    started.append(child)
                else:
                    failed = True
                    break
            if not failed:
                return
            for child in reversed(started):
                self._stop(child)
            self._record(sup)

    def _start(self, child: str) -> bool:
        self.incarnation[child] += 1
        if child == "grp":
            self.windows["grp"] = []
            started: list[str] = []
            for grandchild in GROUP_CHILDREN:
                if not self._start(grandchild):
                    for done in reversed(started):
                        self.state[done] = DOWN
                    self.state["grp"] = DOWN
                    return False
                started.append(grandchild)
            self.state["grp"] = RUNNING
            return True
        if self.fail_starts[child] > 0:
            self.fail_starts[child] -= 1
            self.state[child] = DOWN
            return False
        self.state[child] = RUNNING
        return True


class SupervisionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.harness: Harness | None = None
        self.model: Model | None = None
        self.ledger = Ledger()
        self.counter = 0
        self.hangs: list[Hang] = []
        self.steps: list[str] = []

    @initialize(
        root_strategy=st.sampled_from(list(Strategy)),
        group_strategy=st.sampled_from(list(Strategy)),
        root_intensity=st.integers(min_value=1, max_value=4),
        group_intensity=st.integers(min_value=0, max_value=2),
    )
    def start(
        self,
        root_strategy: Strategy,
        group_strategy: Strategy,
        root_intensity: int,
        group_intensity: int,
    ) -> None:
        def worker(child_id: str, **kwargs: Any) -> ChildSpec:
            return ChildSpec(
                id=child_id, factory=scripted(self.ledger), restart=RESTART[child_id], **kwargs
            )

        group = SupervisorSpec(
            id="grp",
            strategy=group_strategy,
            intensity=group_intensity,
            period=PERIOD_S,
            children=[
                ChildSpec(id="x", factory=scripted(self.ledger), restart=P),
                ChildSpec(id="y", factory=scripted(self.ledger), restart=T),
            ],
        )
        spec = SupervisorSpec(
            id="root",
            strategy=root_strategy,
            intensity=root_intensity,
            period=PERIOD_S,
            children=[worker("p", heartbeat=HEARTBEAT_S), worker("t"), worker("tmp"), group],
        )
        self.steps.append(f"start {root_strategy.value} {group_strategy.value} "
                          f"{root_intensity} {group_intensity}")
        self.harness = Harness(spec)
        self.model = Model(
            {"root": root_strategy, "grp": group_strategy},
            {"root": root_intensity, "grp": group_intensity},
        )

    @property
    def h(self) -> Harness:
        assert self.harness is not None
        return self.harness

    @property
    def m(self) -> Model:
        assert self.model is not None
        return self.model

    def live(self) -> bool:
        return self.model is not None and not self.model.escalated

    def tag(self) -> int:
        self.counter += 1
        return self.counter

    # -- rules -------------------------------------------------------------------------------

    @precondition(live)
    @rule(child=st.sampled_from(WORKERS), count=st.integers(min_value=1, max_value=20))
    def send_work(self, child: str, count: int) -> None:
        self.steps.append(f"send {child} {count}")
        handle = self.h.handle(child)
        for _ in range(count):
            n = self.tag()
            handle.tell(Work(sender=child, n=n))
            self.m.send(child, n)

    @precondition(live)
    @rule(child=st.sampled_from(WORKERS), before=st.integers(min_value=0, max_value=5))
    def crash_in_handler(self, child: str, before: int) -> None:
        self.steps.append(f"crash {child}")
        self.send_work(child, before) if before else None
        if not self.m.alive(child):
            return
        n = self.tag()
        self.h.handle(child).tell(Poison(tag=str(n)))
        self.m.dead.append(f"poison:{n}")
        self.m.exit(child, abnormal=True)

    @precondition(live)
    @rule(child=st.sampled_from(WORKERS), failures=st.integers(min_value=1, max_value=2))
    def crash_then_fail_starts(self, child: str, failures: int) -> None:
        self.steps.append(f"crash+fail_starts {child} {failures}")
        if not self.m.alive(child) or RESTART[child] is TMP:
            return
        self.ledger.fail_next_starts(child, failures)
        self.m.fail_starts[child] += failures
        n = self.tag()
        self.h.handle(child).tell(Poison(tag=str(n)))
        self.m.dead.append(f"poison:{n}")
        self.m.exit(child, abnormal=True)

    @precondition(live)
    @rule(child=st.sampled_from(WORKERS))
    def exit_normally(self, child: str) -> None:
        self.steps.append(f"exit {child}")
        if not self.m.alive(child):
            return
        self.h.handle(child).tell(Exit())
        self.m.exit(child, abnormal=False)

    @precondition(live)
    @rule(child=st.sampled_from(WORKERS))
    def inject_crash(self, child: str) -> None:
        self.steps.append(f"inject {child}")
        if not self.m.alive(child):
            return
        assert self.h.tree.crash(child)
        self.m.exit(child, abnormal=True)

    @precondition(live)
    @rule()
    def hang(self) -> None:
        self.steps.append("hang p")
        if not self.m.alive("p"):
            return
        hang = Hang()
        self.hangs.append(hang)
        self.h.handle("p").tell(hang)
        assert hang.entered.wait(10)
        for _ in range(3):
            self.h.clock.advance(HEARTBEAT_S / 2)
        # The watchdog tick at start + heartbeat declares it hung; that is the restart time.
        self.m.now_ns += int(HEARTBEAT_S * 1e9)
        self.m.dead.append("hang")
        self.m.exit("p", abnormal=True)
        self.m.now_ns += int(HEARTBEAT_S / 2 * 1e9)

    @precondition(live)
    @rule(halves=st.integers(min_value=1, max_value=8))
    def advance_clock(self, halves: int) -> None:
        self.steps.append(f"advance {halves / 2}")
        self.h.clock.advance(halves * HEARTBEAT_S / 2)
        self.m.now_ns += int(halves * HEARTBEAT_S / 2 * 1e9)

    @precondition(lambda self: self.model is not None and self.model.escalated)
    @rule(child=st.sampled_from(WORKERS))
    def use_after_escalation(self, child: str) -> None:
        self.steps.append(f"use after escalation {child}")
        n = self.tag()
        self.h.handle(child).tell(Work(sender=child, n=n))
        self.m.send(child, n)
        with pytest.raises(ChildStoppedError):
            self.h.handle(child).ask(Work(sender=child, n=-n), timeout=10)
        self.m.dead.append(f"work:{child}:{-n}")

    # -- checks ------------------------------------------------------------------------------

    @invariant()
    def matches_the_model(self) -> None:
        if self.model is None:
            return
        model, harness = self.m, self.h
        if model.escalated:
            assert harness.tree.join(10), f"the model escalated but the tree did not: {self.steps}"
            assert harness.tree.escalated
            for child in WORKERS:
                assert not harness.handle(child).is_alive()
        else:
            # Restarts run asynchronously (a child's exit reaches its supervisor as a message,
            # a sub-supervisor restarts its children one by one), so converge on the model's
            # state with a bounded wait rather than reading a snapshot mid-restart.
            for child in WORKERS:
                if model.alive(child):
                    expected = model.incarnation[child]
                    eventually(
                        lambda c=child, e=expected: self.serving(c) == e,  # type: ignore[misc]
                        timeout=3,
                        message=f"{child} never served as #{expected}; steps: {self.steps}",
                    )
                else:
                    handle = harness.handle(child)
                    eventually(
                        lambda h=handle: not h.is_alive(),  # type: ignore[misc]
                        timeout=3,
                        message=f"{child} should be stopped; steps: {self.steps}",
                    )
            assert not harness.tree.escalated
        for hang in self.hangs:
            hang.release.set()
        for child in WORKERS:
            got = [w.n for w in self.ledger.processed_of(child) if w.sender == child]
            assert got == model.processed[child], child
        assert self.dead_letters() == model.dead, self.steps

    def serving(self, child: str) -> int | None:
        try:
            return self.h.ping(child)
        except ChildStoppedError:
            return None

    def dead_letters(self) -> list[str]:
        names = []
        for record in self.h.tree.dead_letter_log():
            message = record.message
            if isinstance(message, Poison):
                names.append(f"poison:{message.tag}")
            elif isinstance(message, Hang):
                names.append("hang")
            elif isinstance(message, Work):
                names.append(f"work:{record.child_id}:{message.n}")
        return names

    def teardown(self) -> None:
        for hang in self.hangs:
            hang.release.set()
        if self.harness is not None:
            self.harness.close()


SupervisionMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None
)


@pytest.fixture(autouse=True)
def _quiet_supervision_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="supervision")


# A failing example is re-run many times while shrinking, each waiting out the 3 s convergence
# bound: allow time for hypothesis to report the minimal example instead of a bare timeout.
TestSupervisionMachine = pytest.mark.timeout(900)(SupervisionMachine.TestCase)
