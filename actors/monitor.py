"""The monitor actor: aggregates what the operator's status line shows.

Accepts: order events (as an event sink of the order tracker), BookSnapshot / BestBidOffer (it
  subscribes to the market stream for the pairs it is given), feed and supervision events, and
  the ask GetStatus → RuntimeStatus.
Emits: nothing but its answers (and at start SubscribeMarket to the market stream,
  SendOpenOrders to the tracker, SendAccountState to execution).
Peers: `MonitorPeers` — the paths of the market stream, the tracker and execution (each may be
  None: not asked), resolved to stable handles at start.
Fails: its state is a view. A new incarnation re-learns the open orders from the tracker and
  the positions from the venue (through execution); the fill count, fees and cash flow (hence
  PnL) restart from zero.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from actors import paths
from messages.account import AccountStateReported
from messages.commands import SubscribeMarket
from messages.enums import MarketChannel, OrderSide
from messages.execution import SendAccountState
from messages.market import BestBidOffer, BookSnapshot
from messages.orders import OrderEvent, OrderFilled
from messages.status import GetStatus, PairStatus, RuntimeStatus
from messages.supervision import ChildRestarted
from messages.tracking import OpenOrdersSnapshot, SendOpenOrders
from supervision.actor import SupervisedActor
from supervision.spec import ChildContext

ZERO = Decimal(0)


@attrs.frozen(kw_only=True)
class MonitorSettings:
    trading_pairs: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class MonitorPeers:
    """Paths of the actors the monitor asks at start (None: not in this tree)."""

    market_stream: str | None = paths.MARKET_STREAM
    """Subscribed to for the bbo of ``trading_pairs`` (marks, the feed's age)."""
    tracker: str | None = paths.ORDER_TRACKER
    """Asked for the open orders."""
    execution: str | None = paths.EXECUTION
    """Asked for the account's state (positions)."""


class Monitor(SupervisedActor):
    def __init__(self, ctx: ChildContext, *, settings: MonitorSettings,
                 peers: MonitorPeers = MonitorPeers()) -> None:
        super().__init__(ctx)
        self.settings = settings
        self.peers = peers
        self.open: set[str] = set()
        self.seen: set[str] = set()
        self.fills = 0
        self.fees = ZERO
        self.position: dict[str, Decimal] = {}
        self.base: dict[str, Decimal] = {}
        """Positions held when this incarnation started (not its PnL)."""
        self.cash: dict[str, Decimal] = {}
        self.mark: dict[str, Decimal] = {}
        self.last_data_ns: int | None = None
        self.restarts = 0

    def on_started(self) -> None:
        peers = self.peers
        if peers.tracker is not None:
            self.ctx.lookup(peers.tracker).tell(SendOpenOrders(strategy_id=None,
                                                               reply_to=self.child_id))
        if peers.execution is not None:
            self.ctx.lookup(peers.execution).tell(SendAccountState(reply_to=self.child_id))
        if peers.market_stream is None:
            return
        stream = self.ctx.lookup(peers.market_stream)
        for pair in self.settings.trading_pairs:
            stream.tell(SubscribeMarket(trading_pair=pair, channels=(MarketChannel.BBO,),
                                        subscriber_id=self.child_id))

    def handle(self, message: object) -> RuntimeStatus | None:
        if isinstance(message, OrderEvent):
            self._order(message)
        elif isinstance(message, BestBidOffer | BookSnapshot):
            self.last_data_ns = self.clock.monotonic_ns()
            if isinstance(message, BookSnapshot):
                mid = message.mid
            elif message.bid is not None and message.ask is not None:
                mid = (message.bid.price + message.ask.price) / 2
            else:
                mid = None
            if mid is not None:
                self.mark[message.trading_pair] = mid
        elif isinstance(message, ChildRestarted):
            self.restarts += 1
        elif isinstance(message, OpenOrdersSnapshot):
            for order in message.orders:
                self.open.add(str(order.client_order_id))
                self.seen.add(str(order.client_order_id))
        elif isinstance(message, AccountStateReported):
            if not self.position:  # events seen since start already moved it otherwise
                self.base = {p.trading_pair: p.size for p in message.positions}
                self.position = dict(self.base)
        elif isinstance(message, GetStatus):
            return self.status()
        return None

    def _order(self, event: OrderEvent) -> None:
        cloid = str(event.client_order_id)
        self.seen.add(cloid)
        if event.order_state.is_terminal:
            self.open.discard(cloid)
        else:
            self.open.add(cloid)
        if isinstance(event, OrderFilled):
            self.fills += 1
            pair = event.trading_pair
            signed = event.fill_amount if event.side is OrderSide.BUY else -event.fill_amount
            self.position[pair] = self.position.get(pair, ZERO) + signed
            fee = event.fee if event.fee_asset in ("USDC", "USD") else ZERO
            self.fees += fee
            self.cash[pair] = self.cash.get(pair, ZERO) - signed * event.fill_price - fee

    def status(self) -> RuntimeStatus:
        pairs = []
        for pair in sorted(set(self.position) | set(self.settings.trading_pairs)):
            position = self.position.get(pair, ZERO)
            cash = self.cash.get(pair, ZERO)
            mark = self.mark.get(pair)
            traded = position - self.base.get(pair, ZERO)
            pnl = None if mark is None else cash + traded * mark
            pairs.append(PairStatus(trading_pair=pair, position=position, cash_flow=cash,
                                    mark=mark, pnl=pnl))
        age = None if self.last_data_ns is None else self.clock.monotonic_ns() - self.last_data_ns
        return RuntimeStatus(open_orders=len(self.open), orders_seen=len(self.seen),
                             fills=self.fills, fees=self.fees, pairs=tuple(pairs),
                             feed_age_ns=age, restarts=self.restarts,
                             ts_init=self.clock.time_ns())
