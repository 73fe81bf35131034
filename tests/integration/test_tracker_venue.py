"""The tracker's final states against the local exchange's own status for the cloid (issue 10).

The whole runtime trades with the embedded local exchange; the test then asks the exchange what
became of each cloid and checks the tracker ended as docs/order-lifecycle.md ("What the venue's
status means") says.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from actors.publishing.core import PublisherConfig
from actors.strategy import StrategySettings
from messages import (
    ClientOrderId,
    ModifyOrder,
    OrderFailed,
    OrderModified,
    OrderSide,
    OrderState,
    OrderStatusUnknown,
    OrderType,
)
from messages.publishing import GetEndpoint
from runtime.config import RuntimeConfig, StrategyConfig
from runtime.launch import Runtime
from runtime.wiring import Wiring, strategy_spec
from supervision.spec import ChildSpec
from tests.helpers import eventually
from tests.integration.test_runtime_orders import Probe, Rig, Wire, _passive
from tests.runtime_support.runtime import free_port
from tests.support.supervision import EventRecorder
from venues.simulator import DEMO_ADDRESS

PAIR = "ETH-USD"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    address = f"tcp://127.0.0.1:{free_port()}"
    probe = EventRecorder()

    def make_probe(w: Wiring) -> ChildSpec:
        return strategy_spec("probe", lambda ctx: Probe(
            ctx, settings=StrategySettings(strategy_id="probe", trading_pairs=(PAIR,),
                                           run_id=w.run_id), sink=probe))

    config = RuntimeConfig(strategy=StrategyConfig(kind="none"),
                           data_dir=Path(tmp_path_factory.mktemp("tracker-venue")),
                           publisher=PublisherConfig(address=address))
    rt = Runtime(config, strategies=(make_probe,))
    rt.start()
    assert rt.tree is not None
    wire = Wire(rt.tree.handle("publisher").ask(GetEndpoint(), timeout=5))
    try:
        yield Rig(rt, probe, wire)
    finally:
        rt.stop(cancel=True)
        wire.close()


def _venue_status(rig: Rig, cloid: ClientOrderId) -> str:
    sim = rig.rt.sim
    assert sim is not None
    order = sim.call(lambda core: core.engine.reg.find(DEMO_ADDRESS, str(cloid)))
    assert order is not None
    status: str = order.status
    return status


def test_a_post_only_replacement_that_would_cross_fails_with_the_venues_status(rig: Rig) -> None:
    """The venue cancels the old leg, then rejects the replacement (badAloPxRejected): the
    order never filled, so it ends FAILED with that status — not CANCELLED "canceled"."""
    book = rig.book()
    cloid = rig.submit(OrderSide.BUY, "0.02", _passive(book, OrderSide.BUY, "0.05"),
                       kind=OrderType.LIMIT_MAKER)
    rig.wait_state(cloid, OrderState.OPEN)
    assert book.best_ask is not None
    crossing = (book.best_ask.price * Decimal("1.01")).quantize(Decimal("0.1"))
    rig.gate.tell(ModifyOrder(client_order_id=cloid, price=crossing, strategy_id="probe"))
    order = eventually(lambda: (o := rig.order(cloid)) is not None and o.state.is_terminal
                       and o, timeout=15, message=f"{cloid} never ended: {rig.order(cloid)}")
    assert _venue_status(rig, cloid) == "badAloPxRejected"
    assert order.state is OrderState.FAILED
    # The tracker's state changes before the probe hears of it: wait for the event.
    failed = eventually(lambda: [e for e in rig.events(cloid) if isinstance(e, OrderFailed)],
                        timeout=10, message="no OrderFailed event")
    assert [e.reason for e in failed] == ["badAloPxRejected"]


def test_a_modify_lost_to_a_5xx_is_settled_within_seconds(rig: Rig) -> None:
    """A modify answered 502 without reaching the venue: its outcome is unknown until the
    venue's status and the noop spent on its nonce settle it — the order is OPEN at its old
    price and takes a new modify within seconds, not after the modify's expiry."""
    sim = rig.rt.sim
    assert sim is not None
    book = rig.book()
    price = _passive(book, OrderSide.BUY, "0.05").quantize(Decimal("0.1"))
    cloid = rig.submit(OrderSide.BUY, "0.02", price, kind=OrderType.LIMIT_MAKER)
    rig.wait_state(cloid, OrderState.OPEN)
    sim.set_faults(ws_post_error_next=1, ws_post_error_kind="action")
    started = time.monotonic()
    rig.gate.tell(ModifyOrder(client_order_id=cloid, price=price - 1, strategy_id="probe"))
    rig.probe.wait_for(OrderStatusUnknown, lambda e: e.client_order_id == cloid, timeout=10)

    def modified() -> bool:
        # Refused ("a modify is already in flight") until the lost one is settled.
        rig.gate.tell(ModifyOrder(client_order_id=cloid, price=price - 2,
                                       strategy_id="probe"))
        return bool(rig.probe.of(OrderModified, lambda e: e.client_order_id == cloid))

    eventually(modified, timeout=10, interval=0.25, message="the lost modify never settled")
    assert time.monotonic() - started < 10
    events = rig.probe.of(OrderModified, lambda e: e.client_order_id == cloid)
    assert {e.price for e in events} == {price - 2}  # the lost modify never executed

    def agree() -> bool:
        order = rig.order(cloid)
        live = rig.venue_open().get(str(cloid))
        return (order is not None and live is not None and order.state is OrderState.OPEN
                and (order.price, order.exchange_order_id) == (live.limit_px, live.oid)
                and live.limit_px == price - 2)

    eventually(agree, timeout=10, interval=0.05, message="tracker and venue disagree")
