"""The runtime under offered load against a venue that enforces its limits (issue 10, finding 5).

The outside tester's pattern: a strategy submits resting orders at a stepped rate and cancels
each as soon as it is OPEN. Before pacing, 40/s already overran the venue's request budget:
signed requests waited in a queue until their nonces fell out of the venue's window ("Invalid
nonce: nonce too low") and their expiry passed ("Action already expired"), and dropping back
to 10/s did not recover. The venue's budget is shrunk here to a fifth (240 weight per minute
instead of 1200, the runtime told the same), so 40 submits/s here stand for 200/s at the
venue's real budget and 200/s for 1,000/s, and the regime is reached in seconds.

Shown: no venue rejection the runtime caused (nonce, expiry, rate limit), overload refused at
the gate with a clear reason, every order resolved and equal to the venue's record, and
immediate recovery when the load drops.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import attrs
import pytest

from actors.executing.core import ExecutionConfig
from actors.executing.pacing import PacingConfig
from actors.gating.normalize import RiskConfig
from messages.enums import OrderState
from tests.helpers import eventually
from tests.runtime_support.flood import FloodLedger, flood_strategy
from tests.runtime_support.runtime import free_port, running, runtime_config
from venues.simulator import DEMO_ADDRESS

PAIR = "ETH-USD"
VENUE_REJECTIONS = ("Invalid nonce", "Action already expired", "rate limited",
                    "Too many cumulative requests", "too many pending post requests")

SIM_LIMITS = """
[limits]
ip_weight = 240
ws_messages = 400
"""


@pytest.mark.timeout(180)
def test_offered_load_never_earns_a_venue_rejection_and_recovers_at_once(
    tmp_path: Path,
) -> None:
    config = runtime_config(tmp_path, publish=f"tcp://127.0.0.1:{free_port()}", sim_seed=11,
                            flow_steps_per_second=2.0, taker_probability=0.0)
    assert config.simulator.config is not None
    with open(config.simulator.config, "a", encoding="utf-8") as fh:
        fh.write(SIM_LIMITS)
    config = attrs.evolve(
        config,
        execution=ExecutionConfig(pacing=PacingConfig(ip_weight_per_minute=240.0)),
        risk=RiskConfig(max_submits_per_s=10_000.0),
    )
    # 40/s, then 200/s, a pause, then 10/s. The pause lets what the gate admitted drain: at
    # most max_queue_delay_s (2 s) of sending, then the cancels of its last orders. The 200/s
    # phase outlasts the budget's burst (60 actions at once, then 2 a second here): 2,000
    # orders and their cancels are ~104 actions.
    ledger = FloodLedger(phases=((40.0, 4.0), (200.0, 10.0), (0.0, 4.0), (10.0, 4.0)))
    with running(config, (flood_strategy(ledger, PAIR),)) as rt:
        assert rt.sim is not None
        ledger.start.set()
        assert ledger.done.wait(60), "the flood never finished its phases"
        eventually(lambda: not ledger.unresolved(), timeout=40,
                   message="every order reaches a terminal state")
        venue_state = rt.sim.call(lambda core: core.limits.state())
        with ledger.lock:
            orders = dict(ledger.orders)
            reasons = list(ledger.reasons)

        # No rejection the runtime earned by its own pacing.
        earned = [r for r in reasons if any(text in r for text in VENUE_REJECTIONS)]
        assert earned == [], earned[:5]
        refused = venue_state["refusals"]
        assert refused.get("ip_weight", 0) == 0, refused
        assert refused.get("ws_messages", 0) == 0, refused
        assert refused.get("ws_inflight_posts", 0) == 0, refused

        # Overload is refused at the gate, clearly; everything else was placed and cancelled.
        denied = [p for p in orders.values() if p.state is OrderState.FAILED]
        assert denied, "200/s over a 4-weight/s budget must meet back-pressure"
        assert all("back-pressure" in p.reason or "rate budget" in p.reason for p in denied), (
            {p.reason for p in denied})
        for cloid, placed in orders.items():
            venue = rt.sim.call(lambda core, c=cloid: core.engine.reg.find(DEMO_ADDRESS, c))
            if placed.state is OrderState.FAILED:
                assert venue is None, (cloid, placed)
            else:
                assert placed.state is OrderState.CANCELLED, (cloid, placed)
                assert venue is not None, (cloid, placed)
                assert not core_is_live(rt, venue), (cloid, placed)

        # 40/s (200/s at the real budget) fits once batched: none refused. At 10/s after the
        # overload, orders open at once: the backlog is gone.
        assert not [p for p in ledger.of_phase(0) if p.state is OrderState.FAILED]
        last = ledger.of_phase(3)
        assert last
        assert all(p.state is OrderState.CANCELLED for p in last), (
            [(p.state, p.reason) for p in last if p.state is not OrderState.CANCELLED][:5])
        latencies = [(p.opened_ns - p.submitted_ns) / 1e9 for p in last
                     if p.opened_ns is not None]
        assert statistics.median(latencies) < 1.0, sorted(latencies)


def core_is_live(rt: object, order: object) -> bool:
    sim = getattr(rt, "sim")  # noqa: B009 - the running simulator of the runtime
    return bool(sim.call(lambda core: core.engine.reg.is_live(order)))
