"""A 5xx on a submit costs seconds, not tens of seconds (issue 10, finding 6).

Before: the order of a submit answered 502 became UNKNOWN and stayed so until its 30 s
``expiresAfter`` had passed and a status query proved it was never placed (~40 s without
quotes). Now execution spends the request's nonce on a ``noop`` at once: when the noop lands,
the request can never execute, so the order is FAILED as never placed within a round trip of
the burst's end — and other orders keep trading meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from actors import paths
from actors.executing.core import ExecutionConfig
from actors.publishing.core import PublisherConfig
from actors.strategy import Strategy, StrategySettings
from messages import (
    BookSnapshot,
    ClientOrderId,
    GetBook,
    OrderAccepted,
    OrderEvent,
    OrderFailed,
    OrderSide,
    OrderState,
    OrderType,
    SubmitOrder,
    TimeInForce,
)
from runtime.config import (
    RuntimeConfig,
    StrategyConfig,
)
from runtime.launch import Runtime
from runtime.wiring import Wiring, strategy_spec
from supervision.spec import ChildContext, ChildSpec
from tests.helpers import eventually
from tests.runtime_support.runtime import free_port
from tests.support.supervision import EventRecorder
from venues.simulator import DEMO_ADDRESS

PAIR = "ETH-USD"
LOST_QUOTING_TARGET_S = 10.0


class Probe(Strategy):
    def __init__(self, ctx: ChildContext, *, settings: StrategySettings,
                 sink: EventRecorder) -> None:
        super().__init__(ctx, settings=settings)
        self.sink = sink

    def on_order_event(self, event: OrderEvent) -> None:
        self.sink(event)


@pytest.fixture(params=["http", "ws"])
def runtime(request: pytest.FixtureRequest,
            tmp_path: Path) -> Iterator[tuple[Runtime, EventRecorder, str]]:
    via: str = request.param
    probe = EventRecorder()

    def make_probe(w: Wiring) -> ChildSpec:
        return strategy_spec("probe", lambda ctx: Probe(
            ctx, settings=StrategySettings(strategy_id="probe", trading_pairs=(PAIR,),
                                           run_id=w.run_id), sink=probe))

    config = RuntimeConfig(strategy=StrategyConfig(kind="none"), data_dir=tmp_path / "var",
                           publisher=PublisherConfig(address=f"tcp://127.0.0.1:{free_port()}"),
                           execution=ExecutionConfig(use_ws_post=via == "ws"))
    rt = Runtime(config, strategies=(make_probe,))
    rt.start()
    try:
        yield rt, probe, via
    finally:
        rt.stop(cancel=True)


def _passive_price(rt: Runtime) -> Decimal:
    assert rt.tree is not None
    stream = rt.tree.handle("market_stream")
    book: BookSnapshot | None = eventually(
        lambda: stream.ask(GetBook(trading_pair=PAIR), timeout=5), timeout=15)
    assert book is not None
    assert book.best_bid is not None
    return book.best_bid.price * Decimal("0.97")


def _submit(rt: Runtime, n: int, price: Decimal) -> ClientOrderId:
    assert rt.tree is not None
    cloid = ClientOrderId.derive("five-xx", n)
    rt.tree.handle(paths.RISK_GATE).tell(SubmitOrder(
        client_order_id=cloid, trading_pair=PAIR, side=OrderSide.BUY,
        order_type=OrderType.LIMIT, amount=Decimal("0.01"), price=price,
        time_in_force=TimeInForce.GTC, strategy_id="probe"))
    return cloid


@pytest.mark.parametrize("burst", [1, 3])
def test_a_submit_answered_5xx_is_resolved_in_seconds(
    runtime: tuple[Runtime, EventRecorder, str], burst: int,
) -> None:
    rt, probe, via = runtime
    assert rt.sim is not None
    price = _passive_price(rt)
    # The next `burst` actions (the submit, then the noops that follow it) are answered 502
    # without reaching the venue: over HTTP a 502, over the WS post channel an error response.
    if via == "http":
        rt.sim.set_faults(http_error_status=502, http_error_count=burst,
                          http_error_path="/exchange")
    else:
        rt.sim.set_faults(ws_post_error_next=burst, ws_post_error_kind="action")
    started = time.monotonic()
    hit = _submit(rt, 1, price)
    failed = probe.wait_for(OrderFailed, lambda e: e.client_order_id == hit,
                            timeout=LOST_QUOTING_TARGET_S + 5)[0]
    resolved_s = time.monotonic() - started
    assert resolved_s < LOST_QUOTING_TARGET_S, resolved_s
    assert "never placed" in failed.reason, failed.reason
    assert rt.sim.call(lambda core: core.engine.reg.find(DEMO_ADDRESS, hit)) is None
    assert not probe.of(OrderEvent, lambda e: e.client_order_id == hit
                        and e.order_state is OrderState.UNKNOWN and e.sequence > failed.sequence)
    # Trading goes on at once.
    after = _submit(rt, 2, price)
    probe.wait_for(OrderAccepted, lambda e: e.client_order_id == after, timeout=5)
