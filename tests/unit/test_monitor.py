"""The monitor's status: positions and PnL from fills, a restart re-learning the venue's view."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.monitor import Monitor, MonitorPeers, MonitorSettings
from messages import (
    AccountStateReported,
    BestBidOffer,
    ClientOrderId,
    LiquiditySide,
    OrderFilled,
    OrderSide,
    OrderState,
    OrderType,
    PositionReported,
    PriceLevel,
    TradeId,
)
from messages.status import GetStatus, RuntimeStatus
from messages.tracking import OpenOrdersSnapshot
from supervision.actor import SupervisedActor
from supervision.spec import ChildContext, ChildSpec, SupervisorSpec
from supervision.tree import SupervisionTree
from tests.helpers import eventually
from tests.support.supervision import EventRecorder

PAIR = "BTC-USD"


class Peer(SupervisedActor):
    def __init__(self, ctx: ChildContext, *, sink: EventRecorder) -> None:
        super().__init__(ctx)
        self.sink = sink

    def handle(self, message: Any) -> None:
        self.sink(message)


def _fill(side: OrderSide, amount: str, price: str, n: int) -> OrderFilled:
    return OrderFilled(
        client_order_id=ClientOrderId.derive("mon", n), exchange_order_id=None,
        trading_pair=PAIR, side=side, order_type=OrderType.LIMIT, price=Decimal(price),
        amount=Decimal(amount), filled_amount=Decimal(amount), order_state=OrderState.FILLED,
        strategy_id="s", sequence=n, ts_event=0, ts_init=0, fill_price=Decimal(price),
        fill_amount=Decimal(amount), fee=Decimal("0.5"), fee_asset="USDC",
        trade_id=TradeId(n), liquidity=LiquiditySide.TAKER)


def _bbo(mid: str) -> BestBidOffer:
    level = PriceLevel(price=Decimal(mid), size=Decimal(1), orders=1)
    return BestBidOffer(trading_pair=PAIR, bid=level, ask=level, ts_event=0, ts_init=0)


@pytest.mark.timeout(30)
def test_pnl_counts_only_what_was_traded_since_start(tmp_path: Path) -> None:
    tracker, execution = EventRecorder(), EventRecorder()
    spec = SupervisorSpec(id="rt", children=(
        ChildSpec(id="order_tracker", factory=lambda ctx: Peer(ctx, sink=tracker)),
        ChildSpec(id="execution", factory=lambda ctx: Peer(ctx, sink=execution)),
        ChildSpec(id="monitor", factory=lambda ctx: Monitor(
            ctx, settings=MonitorSettings(trading_pairs=(PAIR,)),
            peers=MonitorPeers(market_stream=None))),
    ))
    tree = SupervisionTree(spec).start()
    try:
        monitor = tree.handle("monitor")
        # The account already held 2 BTC when the monitor started: that is not PnL.
        monitor.tell(AccountStateReported(
            account_value=Decimal(0), total_margin_used=Decimal(0), total_notional=Decimal(0),
            withdrawable=Decimal(0), ts_event=0, ts_init=0,
            positions=(PositionReported(trading_pair=PAIR, size=Decimal(2), entry_price=None,
                                        unrealized_pnl=Decimal(0), margin_used=Decimal(0),
                                        leverage=1, cross=True, liquidation_price=None,
                                        ts_init=0),)))
        monitor.tell(OpenOrdersSnapshot(orders=(), ts_init=0))
        monitor.tell(_fill(OrderSide.BUY, "1", "100", 1))
        monitor.tell(_fill(OrderSide.SELL, "1", "110", 2))
        monitor.tell(_bbo("120"))
        status: RuntimeStatus = monitor.ask(GetStatus(), timeout=5)
        (pair,) = status.pairs
        assert pair.position == 2
        assert pair.pnl == Decimal(10) - Decimal(1)  # bought 100, sold 110, two fees of 0.5
        assert status.fills == 2
        # a new incarnation asks the tracker and execution for their view
        assert tree.crash("monitor")
        eventually(lambda: tree.incarnation("monitor") == 2, timeout=10)
        # Each stand-in records on its own thread: wait for both, not one then the other.
        eventually(lambda: len(execution.all()) == 2, timeout=10)
        eventually(lambda: len(tracker.all()) == 2, timeout=10)
    finally:
        tree.stop()
