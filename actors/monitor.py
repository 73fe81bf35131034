"""The monitor actor: aggregates what the operator's status line shows.

Accepts: order events (as an event sink of the order tracker), BookSnapshot / BestBidOffer (it
  subscribes to the market stream for the pairs it is given), feed and supervision events, and
  the ask GetStatus → RuntimeStatus.
Emits: nothing but its answers (and SubscribeMarket at start).
Fails: its state is a view rebuilt from events, so a restart only resets the counters (the
  tracker is the source of truth for orders; the venue for positions).
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.commands import SubscribeMarket
from messages.enums import MarketChannel, OrderSide
from messages.market import BestBidOffer, BookSnapshot
from messages.orders import OrderEvent, OrderFilled
from messages.status import GetStatus, PairStatus, RuntimeStatus
from messages.supervision import ChildRestarted
from supervision.actor import SupervisedActor
from supervision.spec import ChildContext

ZERO = Decimal(0)


@attrs.frozen(kw_only=True)
class MonitorSettings:
    trading_pairs: tuple[str, ...] = ()
    market_stream: str | None = "market_stream"


class Monitor(SupervisedActor):
    def __init__(self, ctx: ChildContext, *, settings: MonitorSettings) -> None:
        super().__init__(ctx)
        self.settings = settings
        self.open: set[str] = set()
        self.seen: set[str] = set()
        self.fills = 0
        self.fees = ZERO
        self.position: dict[str, Decimal] = {}
        self.cash: dict[str, Decimal] = {}
        self.mark: dict[str, Decimal] = {}
        self.last_data_ns: int | None = None
        self.restarts = 0

    def on_started(self) -> None:
        if self.settings.market_stream is None:
            return
        stream = self.ctx.lookup(self.settings.market_stream)
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
            pnl = None if mark is None else cash + position * mark
            pairs.append(PairStatus(trading_pair=pair, position=position, cash_flow=cash,
                                    mark=mark, pnl=pnl))
        age = None if self.last_data_ns is None else self.clock.monotonic_ns() - self.last_data_ns
        return RuntimeStatus(open_orders=len(self.open), orders_seen=len(self.seen),
                             fills=self.fills, fees=self.fees, pairs=tuple(pairs),
                             feed_age_ns=age, restarts=self.restarts,
                             ts_init=self.clock.time_ns())
