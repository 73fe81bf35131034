"""Library bugs the runtime chaos runs found, each shown by the smallest run that exposes it.

Each test failed on the code before commit 5028d87 (which fixed all three) and names what was
wrong; they now keep the fixes from regressing.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from runtime.launch import Runtime
from tests.helpers import eventually
from tests.runtime_support import (
    STRATEGY_PATH,
    ChurnLedger,
    ChurnSettings,
    EventRecorder,
    churn_strategy,
    free_port,
    freeze_market,
    running,
    runtime_config,
    unsettled,
    venue_state,
)

pytestmark = pytest.mark.timeout(60)
SEED = 6


@pytest.fixture
def ledger() -> ChurnLedger:
    return ChurnLedger()


@pytest.fixture
def address() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.fixture
def rt(tmp_path: Path, ledger: ChurnLedger, address: str) -> Iterator[Runtime]:
    config = runtime_config(tmp_path, publish=address, sim_seed=SEED)
    with running(config, (churn_strategy(ledger, ChurnSettings(seed=SEED)),)) as runtime:
        yield runtime


def crash_and_wait(rt: Runtime, path: str) -> None:
    tree = rt.tree
    assert tree is not None
    before = tree.incarnation(path)
    assert tree.crash(path)
    # The incarnation number moves when the start begins, the restart is counted once the new
    # incarnation's on_started returned: wait for the count, not just the number.
    eventually(lambda: tree.incarnation(path) > before and tree.counters(path).restarts >= 1,
               timeout=10.0, interval=0.01)
    assert tree.counters(path).restarts == 1


def test_restarts_are_counted_on_the_status_line(rt: Runtime, ledger: ChurnLedger) -> None:
    """docs/operations.md: the status line shows "the number of actor restarts". The monitor
    counts `ChildRestarted` events, but `Runtime.start` builds the `SupervisionTree` without an
    ``events`` sink, so supervision events reach nobody and the count stays 0."""
    assert ledger.wait_for(lambda led: led.count() >= 5, 20.0)
    crash_and_wait(rt, "signer")
    crash_and_wait(rt, "user_stream")

    def restarts() -> int:
        status = rt.status()
        return 0 if status is None else status.restarts

    try:
        eventually(lambda: restarts() >= 2, timeout=5.0, interval=0.05)
    except AssertionError:
        pytest.fail(f"2 restarts happened; the status line shows {restarts()}")


def test_supervision_events_are_published(rt: Runtime, ledger: ChurnLedger,
                                          address: str) -> None:
    """docs/operations.md and docs/events.md: "Supervision events (`runtime.supervision.*` on
    ZMQ) report every failure, restart, dead letter and escalation"; the publisher is built
    with ``runtime_events=True``, but nothing ever sends it a supervision event (the tree has
    no ``events`` sink), so the topic stays silent."""
    recorder = EventRecorder(address, (b"orders.", b"runtime.supervision.")).start()
    try:
        # An order event proves the subscription is live before anything is crashed.
        eventually(recorder.bodies, timeout=20.0, interval=0.05)
        crash_and_wait(rt, "signer")
        try:
            eventually(lambda: {t for t, _ in recorder.messages("runtime.supervision.")} >= {
                "runtime.supervision.child_failed", "runtime.supervision.child_restarted"},
                timeout=5.0, interval=0.05)
        except AssertionError:
            topics = sorted({t for t, _ in recorder.messages("runtime.")})
            pytest.fail(f"signer crashed and restarted; supervision topics published: {topics}")
        failed = [b for t, b in recorder.messages("runtime.supervision.child_failed")]
        assert failed[0]["data"]["child_id"] == "signer", failed
    finally:
        recorder.stop()


def test_a_restarted_strategy_knows_its_position(rt: Runtime, ledger: ChurnLedger) -> None:
    """A restarted strategy re-learns its live orders from the tracker, but not its position:
    `Strategy.positions` starts empty and is only built from fills the new incarnation sees,
    so `position()` says 0 while the account holds a position. The demo market maker bounds
    its position with it (``max_position_notional``), so every restart silently resets that
    limit. After a restart, `position()` should equal the account's position at the venue."""
    sim = rt.sim
    assert sim is not None

    def holding() -> bool:
        return ledger.fills_seen() >= 3 and any(venue_state(sim).positions.values())

    eventually(holding, timeout=30.0, interval=0.2, message="no position was built")
    ledger.trading.clear()
    freeze_market(sim)
    eventually(lambda: not unsettled(rt), timeout=40.0, interval=0.25)
    venue = venue_state(sim)
    # Every fill of the account has reached the strategy before it is crashed.
    eventually(lambda: ledger.fills_seen() == len(venue_state(sim).fills), timeout=10.0,
               interval=0.1)
    crash_and_wait(rt, STRATEGY_PATH)
    assert ledger.wait_for(lambda led: len(led.starts()) >= 2, 10.0)
    incarnation, believed = ledger.starts()[-1]
    assert incarnation == 2
    actual = {pair: venue.positions.get(pair, Decimal(0)) for pair in believed}
    assert believed == actual, (
        f"the restarted strategy believes its positions are {believed}; the venue holds "
        f"{actual}")
