"""Execution's WS ``post`` channel, run by a `StreamLink` like the streams' connections.

The actor alone in a tree against the local exchange: the channel comes up in the background
and carries requests; when the venue drops it, a request it carried is resent over HTTP and
answered, and the link re-opens the channel with back-off; the actor never fails. A request
proves it went over the WebSocket by meeting the exchange's ``ws_post_error_next`` fault.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from actors.executing.core import ExecutionConfig
from actors.execution import Execution, ExecutionPeers, ExecutionSettings
from messages.account import AccountStateReported
from messages.execution import SendAccountState
from supervision import (
    Backoff,
    ChildSpec,
    SupervisionTree,
    SupervisorSpec,
)
from tests.helpers import eventually
from tests.support.supervision import Collector, EventRecorder
from venues.simulator import DEMO_ADDRESS, RunningSimulator, start_simulator


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with start_simulator() as s:
        yield s


@pytest.fixture
def tree(sim: RunningSimulator) -> Iterator[tuple[SupervisionTree, EventRecorder]]:
    answers = EventRecorder()
    """What ``witness`` is told (``probe`` takes the answers to `_prove_ws`'s queries)."""
    settings = ExecutionSettings(
        base_url=sim.base_url, account=DEMO_ADDRESS, config=ExecutionConfig(),
        reconnect=Backoff(min_s=0.05, max_s=0.2))
    peers = ExecutionPeers(tracker="tracker", signer="signer")
    tree = SupervisionTree(SupervisorSpec(id="root", children=[
        ChildSpec(id="tracker", factory=lambda ctx: Collector(ctx, EventRecorder())),
        ChildSpec(id="signer", factory=lambda ctx: Collector(ctx, EventRecorder())),
        ChildSpec(id="probe", factory=lambda ctx: Collector(ctx, EventRecorder())),
        ChildSpec(id="witness", factory=lambda ctx: Collector(ctx, answers)),
        ChildSpec(id="execution",
                  factory=lambda ctx: Execution(ctx, settings=settings, peers=peers)),
    ])).start()
    try:
        yield tree, answers
    finally:
        tree.stop()


def _ws_post_errors(sim: RunningSimulator) -> int:
    return int(sim.call(lambda core: core.faults.counts["ws_post_errors"]))


def _prove_ws(sim: RunningSimulator, tree: SupervisionTree, errors: int) -> None:
    """Ask for the account state until one query meets the armed WS post fault (before the
    link has seen its connection up, queries go over HTTP)."""
    sim.set_faults(ws_post_error_next=1, ws_post_error_kind="info")

    def over_ws() -> bool:
        tree.handle("execution").tell(SendAccountState(reply_to="probe"))
        return _ws_post_errors(sim) > errors

    eventually(over_ws, timeout=15, interval=0.05, message="no query went over the WS channel")


@pytest.mark.timeout(60)
def test_the_post_channel_comes_up_carries_requests_and_is_reopened_after_a_drop(
    sim: RunningSimulator, tree: tuple[SupervisionTree, EventRecorder],
) -> None:
    rt, answers = tree
    eventually(lambda: sim.ws_connection_count() == 1, timeout=10)
    _prove_ws(sim, rt, 0)
    rt.handle("execution").tell(SendAccountState(reply_to="witness"))
    answers.wait_for(AccountStateReported)  # answered over the channel
    assert sim.drop_ws_connections() == 1
    eventually(lambda: sim.ws_connection_count() == 1, timeout=10, interval=0.01)
    _prove_ws(sim, rt, 1)
    assert rt.counters("execution").failures == 0


@pytest.mark.timeout(60)
def test_a_request_in_flight_on_a_dropped_channel_is_resent_over_http(
    sim: RunningSimulator, tree: tuple[SupervisionTree, EventRecorder],
) -> None:
    rt, answers = tree
    eventually(lambda: sim.ws_connection_count() == 1, timeout=10)
    _prove_ws(sim, rt, 0)  # the link has the channel up: the next query goes over it
    sim.stall()  # its answer is held back ...
    try:
        rt.handle("execution").tell(SendAccountState(reply_to="witness"))
        time.sleep(0.5)  # sent at once over the WS channel (later, it would go over HTTP)
        assert sim.drop_ws_connections() == 1  # ... and lost with the connection
    finally:
        sim.unstall()
    # Only the resend over HTTP can answer it.
    answers.wait_for(AccountStateReported, timeout=15)
    assert rt.counters("execution").failures == 0
