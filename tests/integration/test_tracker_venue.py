"""The tracker's final states against the local exchange's own status for the cloid (issue 10).

The whole runtime trades with the embedded local exchange; the test then asks the exchange what
became of each cloid and checks the tracker ended as docs/order-lifecycle.md ("What the venue's
status means") says.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from actors.publisher import GetEndpoint
from actors.strategy import StrategySettings
from messages import ClientOrderId, ModifyOrder, OrderFailed, OrderSide, OrderState, OrderType
from supervision.runtime.config import PublisherSettings, RuntimeConfig, StrategyConfig
from supervision.runtime.launch import Runtime
from supervision.runtime.tree import Wiring, strategy_spec
from supervision.spec import ChildSpec
from supervision.testing import EventRecorder
from tests.helpers import eventually
from tests.integration.test_runtime_orders import Probe, Rig, Wire, _free_port, _passive
from venues.simulator import DEMO_ADDRESS

PAIR = "ETH-USD"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    address = f"tcp://127.0.0.1:{_free_port()}"
    probe = EventRecorder()

    def make_probe(w: Wiring) -> ChildSpec:
        return strategy_spec("probe", lambda ctx: Probe(
            ctx, settings=StrategySettings(strategy_id="probe", trading_pairs=(PAIR,),
                                           run_id=w.run_id), sink=probe))

    config = RuntimeConfig(strategy=StrategyConfig(kind="none"),
                           data_dir=Path(tmp_path_factory.mktemp("tracker-venue")),
                           publisher=PublisherSettings(address=address))
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
    rig.execution.tell(ModifyOrder(client_order_id=cloid, price=crossing, strategy_id="probe"))
    order = eventually(lambda: (o := rig.order(cloid)) is not None and o.state.is_terminal
                       and o, timeout=15, message=f"{cloid} never ended: {rig.order(cloid)}")
    assert _venue_status(rig, cloid) == "badAloPxRejected"
    assert order.state is OrderState.FAILED
    failed = [e for e in rig.events(cloid) if isinstance(e, OrderFailed)]
    assert [e.reason for e in failed] == ["badAloPxRejected"]
