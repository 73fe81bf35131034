"""Issue 6: the whole runtime under chaos, against the embedded exchange.

A strategy places, cancels, modifies and crosses continuously on two pairs while

* (A) each of the five core actors is crashed at random moments (through the real failure
  path: an exception inside the actor's thread), or
* (B) the exchange drops every WebSocket connection, losing the frames in flight around each
  drop, and duplicates and reorders frames all along, or
* (C) both at once, with several actors crashed together, then execution and the strategy.

Afterwards, with trading stopped and the synthetic market frozen: no order the strategy created
is lost or duplicated, nothing at the venue is unknown to the tracker, the tracker's open orders
and fills equal the exchange's, no order event was delivered twice (to the strategy, to the
monitor, on ZMQ), a subscriber that ran through every crash (the subscriber library: live +
replay) received every order event exactly once in order, and the clean stop cancels
everything at the venue.

Crashes and drops are paced by the strategy's progress (a seeded number of new orders), never
by sleeps; every wait is bounded. PERPETUUM_CHAOS_SEED replays or explores another run.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from messages.ids import ClientOrderId
from messages.streams import GetStreamStats, MarketStreamStats, UserStreamStats
from runtime.launch import Runtime
from runtime.wiring import EVENTS, FIVE
from supervision.eventlog import EventLogReader
from supervision.tree import SupervisionTree
from tests.helpers import eventually
from tests.runtime_support import (
    STRATEGY_PATH,
    ChurnLedger,
    ChurnSettings,
    EventRecorder,
    ReplayRecorder,
    cancel_behind_the_runtimes_back,
    churn_strategy,
    compare,
    duplicated_sequences,
    free_port,
    freeze_market,
    monitor_problems,
    open_orders,
    place_behind_the_runtimes_back,
    running,
    runtime_config,
    unsettled,
)
from venues.simulator import DEMO_ADDRESS, RunningSimulator

pytestmark = pytest.mark.timeout(120)

SEED = int(os.environ.get("PERPETUUM_CHAOS_SEED", "6"))
"""Seeds the exchange's market and frame faults, the strategy and the chaos schedule."""
SETTLE_S = 60.0
"""Orders caught in a crashed signer's unsent batch are provably never placed only after their
expiresAfter (30 s) plus the grace (2 s), so settling may take that long after the last crash."""
RESTART_S = 30.0
"""Restarts and reconnections back off up to 15 s (+20% jitter) when they come in a row."""


class Chaos:
    """One running runtime with the churn strategy, its ledger and a ZMQ recorder."""

    def __init__(self, rt: Runtime, ledger: ChurnLedger, recorder: EventRecorder,
                 replayed: ReplayRecorder) -> None:
        assert rt.tree is not None
        assert rt.sim is not None
        self.rt = rt
        self.tree: SupervisionTree = rt.tree
        self.sim: RunningSimulator = rt.sim
        self.ledger = ledger
        self.recorder = recorder
        self.replayed = replayed
        self.rng = random.Random(SEED)

    def progress(self, new_orders: int, timeout: float = 20.0) -> None:
        """Wait until the strategy has created ``new_orders`` more orders."""
        ledger = self.ledger
        target = ledger.count() + new_orders
        assert ledger.wait_for(lambda led: led.count() >= target, timeout), (
            f"the strategy stopped trading: {ledger.count()} orders, wanted {target}")

    def crash(self, *victims: str) -> None:
        """Crash these actors one right after the other, then wait until each is back."""
        before = {v: self.tree.incarnation(v) for v in victims}
        for victim in victims:
            assert self.tree.crash(victim), f"{victim} was not serving"

        def down() -> list[str]:
            return [v for v, n in before.items() if self.tree.incarnation(v) <= n]

        try:
            eventually(lambda: not down(), timeout=RESTART_S, interval=0.01)
        except AssertionError:
            pytest.fail(f"not restarted within {RESTART_S}s: "
                        f"{ {v: self.tree.counters(v) for v in down()} }")

    def drop_connections(self) -> None:
        """Lose a few frames, then every WebSocket connection, as when a link dies with frames
        in flight; then wait for both streams to be back (the user stream has reconciled)."""
        # Every link is up first (execution's post channel reconnects with its own back-off).
        eventually(lambda: self.sim.ws_connection_count() >= 3, timeout=RESTART_S, interval=0.05,
                   message="a WebSocket link did not come back")
        user_before, market_before = self.stream_stats()
        self.sim.set_faults(ws_drop_next=self.rng.randint(1, 5))
        eventually(lambda: self.sim.call(lambda core: core.faults.plan.ws_drop_next == 0),
                   timeout=10.0, interval=0.01, message="the frame drops were never applied")
        assert self.sim.drop_ws_connections() >= 3  # market data, user data, execution's post

        def back() -> bool:
            user, market = self.stream_stats()
            return (user.reconciles > user_before.reconciles
                    and market.connections > market_before.connections)

        eventually(back, timeout=RESTART_S, interval=0.05, message="the streams did not come back")

    def stream_stats(self) -> tuple[UserStreamStats, MarketStreamStats]:
        user: UserStreamStats = self.tree.handle("user_stream").ask(GetStreamStats(), timeout=5)
        market: MarketStreamStats = self.tree.handle("market_stream").ask(GetStreamStats(),
                                                                          timeout=5)
        return user, market

    # --- the verdict -------------------------------------------------------------------------
    def settle_and_compare(self) -> None:
        """Stop trading and the synthetic market, wait until the tracker is sure of every
        order, then require it to agree with the exchange (and the monitor with both)."""
        rt = self.rt
        self.ledger.trading.clear()
        freeze_market(self.sim)
        try:
            eventually(lambda: not unsettled(rt), timeout=SETTLE_S, interval=0.25)
        except AssertionError:
            left = "\n  ".join(map(str, unsettled(rt)))
            pytest.fail(f"the tracker never settled; still unsure about:\n  {left}")
        problems: list[str] = []

        def agree() -> bool:
            problems[:] = compare(rt, self.ledger) + monitor_problems(rt)
            return not problems

        try:
            eventually(agree, timeout=10.0, interval=0.25)
        except AssertionError:
            pytest.fail(f"{len(problems)} disagreements between the strategy, the tracker, the "
                        "monitor and the exchange:\n  " + "\n  ".join(problems))

    def check_events(self) -> None:
        seen = self.ledger.events()
        kinds = {e.kind for e in seen}
        assert {"OrderFilled", "OrderCancelled", "OrderModified"} <= kinds, (
            f"the run did not exercise fills, cancels and modifies: {kinds}")
        assert duplicated_sequences([e.sequence for e in seen]) == [], (
            "the strategy received an order event twice")
        forgotten = [r for r in self.ledger.rejections() if r.reason == "unknown order"]
        assert forgotten == [], f"the tracker forgot orders the strategy had: {forgotten}"
        bodies = self.recorder.bodies()
        assert bodies, "nothing was published"
        published = [b["data"]["event_sequence"] for b in bodies]
        assert duplicated_sequences(published) == [], "an order event was published twice"
        assert set(published) <= {e.sequence for e in seen}, (
            "published an order event its strategy never received")
        by_topic: dict[tuple[int, str], list[int]] = {}
        for topic, body in self.recorder.messages("orders."):
            by_topic.setdefault((body["epoch"], topic), []).append(body["sequence"])
        for (epoch, topic), numbers in by_topic.items():
            # A raw subscriber may miss the start of an epoch (it reconnects after the publisher
            # restarted), never a message in the middle of one.
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), (
                f"{topic} of epoch {epoch}: sequences repeat, go back or have gaps: {numbers}")
        # Through the subscriber library nothing is missed at all: every event the tracker
        # logged, once, in order, whatever crashed meanwhile.
        data_dir = self.rt.wiring.data_dir if self.rt.wiring is not None else None
        assert data_dir is not None
        last = EventLogReader(data_dir / EVENTS).last_sequence()
        eventually(lambda: self.replayed.sequences()[-1:] == [last], timeout=10.0,
                   interval=0.05, message=f"the replaying subscriber never reached event {last}")
        assert self.replayed.sequences() == list(range(1, last + 1)), (
            "the replaying subscriber lost, repeated or reordered events")
        assert self.replayed.unfillable() == [], self.replayed.unfillable()

    def stop_cleanly(self) -> None:
        """The launcher's clean stop: halt, cancel everything, wait for the venue, stop."""
        assert not self.tree.escalated, self.tree.escalation_reason
        remaining = self.rt.stop(cancel=True)
        assert remaining == 0, f"{remaining} orders still open after the clean stop"
        # The simulator's thread has stopped: its state can be read directly now.
        live = self.sim.core.engine.live_orders(DEMO_ADDRESS)
        assert live == [], f"orders left open at the venue: {live}"


@pytest.fixture
def chaos(tmp_path: Path) -> Iterator[Chaos]:
    ledger = ChurnLedger()
    address = f"tcp://127.0.0.1:{free_port()}"
    config = runtime_config(tmp_path, publish=address, sim_seed=SEED)
    with running(config, (churn_strategy(ledger, ChurnSettings(seed=SEED)),)) as rt:
        recorder = EventRecorder(address).start()
        replayed = ReplayRecorder(address, config.publisher.replay_endpoint).start()
        try:
            yield Chaos(rt, ledger, recorder, replayed)
        finally:
            replayed.stop()
            recorder.stop()


def shuffled_rounds(rng: random.Random, rounds: int) -> list[str]:
    """Each of the five ``rounds`` times, every round in a random order."""
    schedule: list[str] = []
    for _ in range(rounds):
        batch = list(FIVE)
        rng.shuffle(batch)
        schedule.extend(batch)
    return schedule


def test_crashing_the_five_core_actors_loses_and_duplicates_nothing(chaos: Chaos) -> None:
    tree = chaos.tree
    chaos.progress(20)
    for victim in shuffled_rounds(chaos.rng, rounds=3):
        chaos.progress(chaos.rng.randint(2, 8))
        chaos.crash(victim)
    chaos.progress(20)
    chaos.settle_and_compare()
    chaos.check_events()
    for path in FIVE:
        assert tree.counters(path).restarts == 3, (path, tree.counters(path))
        assert tree.incarnation(path) == 4, path
    others = {p: tree.counters(p).failures for p in ("execution", "monitor", STRATEGY_PATH)}
    assert others == dict.fromkeys(others, 0), f"crashes spread: {others}"
    # The monitor was never crashed: its status line counts every restart.
    restarts = sum(c.restarts for c in tree.all_counters().values())
    eventually(lambda: (status := chaos.rt.status()) is not None
               and status.restarts == restarts, timeout=5.0, interval=0.05,
               message=f"the status line does not show the {restarts} restarts")
    chaos.stop_cleanly()


def test_dropped_websockets_and_mangled_frames_lose_and_duplicate_nothing(
    chaos: Chaos,
) -> None:
    sim = chaos.sim
    chaos.progress(20)
    sim.set_faults(ws_duplicate_rate=0.03, ws_reorder_rate=0.03)
    drops = 5
    for _ in range(drops):
        chaos.progress(chaos.rng.randint(8, 20))
        chaos.drop_connections()
    chaos.progress(20)
    sim.clear_faults()
    counts = sim.call(lambda core: dict(core.faults.counts))
    assert counts["ws_dropped"] >= drops, counts
    assert counts["ws_duplicated"] > 0, counts
    assert counts["ws_reordered"] > 0, counts
    chaos.settle_and_compare()
    chaos.check_events()
    user, market = chaos.stream_stats()
    assert user.connections >= drops + 1, user
    assert market.connections >= drops + 1, market
    failures = {p: c.failures for p, c in chaos.tree.all_counters().items() if c.failures}
    assert failures == {}, f"actors crashed on WebSocket faults: {failures}"
    chaos.stop_cleanly()


def test_crash_bursts_during_websocket_drops_lose_and_duplicate_nothing(chaos: Chaos) -> None:
    rng, tree, sim = chaos.rng, chaos.tree, chaos.sim
    chaos.progress(20)
    sim.set_faults(ws_duplicate_rate=0.03, ws_reorder_rate=0.03)
    # Two rounds in which every actor goes down at least once, some together with others,
    # some followed by dropped connections.
    for victim in shuffled_rounds(rng, rounds=2):
        chaos.progress(rng.randint(1, 6))
        others = [v for v in FIVE if v != victim]
        chaos.crash(victim, *rng.sample(others, rng.choice((0, 0, 1, 2))))
        if rng.random() < 0.3:
            chaos.drop_connections()
    # Beyond the five: execution (the answers to its requests in flight are lost) and the
    # strategy itself (its next incarnation re-learns its live orders from the tracker).
    for victim in ("execution", STRATEGY_PATH):
        chaos.progress(rng.randint(2, 8))
        chaos.crash(victim)
    chaos.progress(20)
    sim.clear_faults()
    chaos.settle_and_compare()
    chaos.check_events()
    for path in (*FIVE, "execution", STRATEGY_PATH):
        assert tree.counters(path).restarts >= (2 if path in FIVE else 1), (
            path, tree.counters(path))
    assert len(chaos.ledger.starts()) == 2, "the strategy did not start again"
    chaos.stop_cleanly()


def test_the_comparison_sees_a_lost_order_and_a_lost_cancel(chaos: Chaos) -> None:
    """The verdict of the tests above is not vacuous: an order the runtime never heard of and a
    cancel whose update was lost are both reported."""
    chaos.progress(20)
    chaos.settle_and_compare()
    resting = [(o, o.exchange_order_id) for o in open_orders(chaos.rt)]
    assert resting, "nothing rests to cancel"
    ours, ours_oid = resting[0]
    assert ours_oid is not None
    cancel_behind_the_runtimes_back(chaos.sim, int(ours_oid), ours.trading_pair.split("-")[0])
    stranger = ClientOrderId.derive("not-the-runtime", 1)
    oid = place_behind_the_runtimes_back(chaos.sim, stranger)
    problems = "\n".join(compare(chaos.rt, chaos.ledger))
    assert f"open in the tracker, not at the venue (oid {ours_oid})" in problems
    assert f"open at the venue (oid {oid}), not in the tracker: untracked" in problems
    assert f"venue order unknown to the strategy: VenueOrder(oid={oid}" in problems
