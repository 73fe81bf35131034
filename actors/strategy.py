"""The strategy base actor: subclass it to write a strategy.

Accepts: BookSnapshot, BestBidOffer, TradeReceived (from the market stream), order events for
  its own orders and CommandRejected (from the order tracker, or from the runtime when an actor
  died on one of its commands: a rejected submit leaves `orders`), OpenOrdersSnapshot, feed
  events, and its own StrategyTimer.
Emits: SubmitOrder, CancelOrder, CancelAll, ModifyOrder to the risk gate; SubscribeMarket to
  the market stream; SendOpenOrders to the tracker and SendAccountState to execution at start.
Peers: `StrategyPeers` — the paths of the risk gate, the market stream, the tracker and
  execution (by default where the runtime puts them), resolved to stable handles at start.
Override the ``on_*`` hooks; place orders with `buy` / `sell` (they return the client order id
at once — the outcome arrives later as order events), `cancel`, `cancel_all`, `modify`.
Client order ids are derived from (run id, strategy id, incarnation, counter), so every id is
recomputable and a restarted strategy never reuses one.
Fails: an exception in a hook crashes the incarnation; the supervisor restarts it, and the new
  incarnation learns its live orders from the tracker (OpenOrdersSnapshot) and the account's
  positions from the venue (AccountStateReported, via execution) before trading.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import attrs

from actors import paths
from messages.account import AccountStateReported
from messages.commands import CancelAll, CancelOrder, ModifyOrder, SubmitOrder, SubscribeMarket
from messages.enums import MarketChannel, OrderSide, OrderType, TimeInForce
from messages.execution import SendAccountState
from messages.feed import FeedConnected, FeedLost, FeedStale
from messages.ids import ClientOrderId
from messages.market import BestBidOffer, BookSnapshot, TradeReceived
from messages.orders import OrderEvent, OrderFilled
from messages.strategy import StrategyTimer
from messages.tracking import CommandRejected, OpenOrdersSnapshot, SendOpenOrders, TrackedOrder
from supervision.actor import SupervisedActor
from supervision.handle import Handle
from supervision.spec import ChildContext

log = logging.getLogger(__name__)
_ACCOUNT_TIMEOUT = "perpetuum:account-state-timeout"


@attrs.frozen(kw_only=True)
class StrategySettings:
    strategy_id: str
    trading_pairs: tuple[str, ...]
    run_id: str
    """Differs per runtime run, so cloids of different runs never collide."""
    channels: tuple[MarketChannel, ...] = (MarketChannel.BOOK, MarketChannel.TRADES,
                                           MarketChannel.BBO)
    account_state_timeout_s: float = 10.0


@attrs.frozen(kw_only=True)
class StrategyPeers:
    """Paths of the actors a strategy talks to (resolved to stable handles at start); the
    defaults are where the runtime puts them."""

    gate: str = paths.RISK_GATE
    """Where the strategy's commands go (the risk gate, in front of the order tracker)."""
    execution: str = paths.EXECUTION
    """Asked for the account's state (positions) at start."""
    market_stream: str = paths.MARKET_STREAM
    """Subscribed to for the ``trading_pairs`` at start."""
    tracker: str = paths.ORDER_TRACKER
    """Asked for the strategy's live orders at start."""


@attrs.define
class LiveOrder:
    """The strategy's own view of one of its orders, kept from order events."""

    client_order_id: ClientOrderId
    trading_pair: str
    side: OrderSide
    price: Decimal | None
    amount: Decimal
    filled: Decimal
    state: str
    exchange_order_id: int | None


class Strategy(SupervisedActor):
    def __init__(self, ctx: ChildContext, *, settings: StrategySettings,
                 peers: StrategyPeers = StrategyPeers()) -> None:
        super().__init__(ctx)
        self.settings = settings
        self.peers = peers
        self.strategy_id = settings.strategy_id
        self.orders: dict[ClientOrderId, LiveOrder] = {}
        self.positions: dict[str, Decimal] = {}
        self.ready = False
        """True once the tracker told us our live orders and the venue our position (after a
        restart: don't trade blind)."""
        self._orders_known = False
        self._positions_as_of: int | None = None
        """Venue time of the account state the positions start from (fills up to it are in)."""
        self._early_fills: list[tuple[int, str, Decimal]] = []
        self._counter = 0
        self._gate: Handle | None = None
        self._seed = f"{settings.run_id}/{settings.strategy_id}/{ctx.incarnation}"

    # --- hooks for subclasses ----------------------------------------------------------------
    def on_strategy_start(self) -> None:
        """Called once the strategy knows its live orders."""

    def on_book(self, book: BookSnapshot) -> None: ...

    def on_bbo(self, bbo: BestBidOffer) -> None: ...

    def on_trade(self, trade: TradeReceived) -> None: ...

    def on_order_event(self, event: OrderEvent) -> None: ...

    def on_command_rejected(self, rejection: CommandRejected) -> None:
        log.info("%s: %s rejected: %s", self.strategy_id, rejection.command, rejection.reason)

    def on_feed(self, event: FeedConnected | FeedLost | FeedStale) -> None: ...

    def on_timer(self, name: str) -> None: ...

    # --- actions ----------------------------------------------------------------------------
    def next_client_order_id(self) -> ClientOrderId:
        self._counter += 1
        return ClientOrderId.derive(self._seed, self._counter)

    def submit(self, **fields: object) -> ClientOrderId:
        cloid = self.next_client_order_id()
        order = SubmitOrder(client_order_id=cloid, strategy_id=self.strategy_id,
                            ts_init=self.clock.time_ns(), **fields)  # type: ignore[arg-type]
        self.orders[cloid] = LiveOrder(
            client_order_id=cloid, trading_pair=order.trading_pair, side=order.side,
            price=order.price, amount=order.amount, filled=Decimal(0), state="PENDING_CREATE",
            exchange_order_id=None)
        self._send(order)
        return cloid

    def buy(self, trading_pair: str, amount: Decimal, price: Decimal | None = None, *,
            order_type: OrderType = OrderType.LIMIT,
            time_in_force: TimeInForce = TimeInForce.GTC, **fields: object) -> ClientOrderId:
        return self.submit(trading_pair=trading_pair, side=OrderSide.BUY, amount=amount,
                           price=price, order_type=order_type, time_in_force=time_in_force,
                           **fields)

    def sell(self, trading_pair: str, amount: Decimal, price: Decimal | None = None, *,
             order_type: OrderType = OrderType.LIMIT,
             time_in_force: TimeInForce = TimeInForce.GTC, **fields: object) -> ClientOrderId:
        return self.submit(trading_pair=trading_pair, side=OrderSide.SELL, amount=amount,
                           price=price, order_type=order_type, time_in_force=time_in_force,
                           **fields)

    def cancel(self, client_order_id: ClientOrderId) -> None:
        self._send(CancelOrder(client_order_id=client_order_id, strategy_id=self.strategy_id,
                               ts_init=self.clock.time_ns()))

    def cancel_all(self, trading_pair: str | None = None) -> None:
        self._send(CancelAll(trading_pair=trading_pair, strategy_id=self.strategy_id,
                             ts_init=self.clock.time_ns()))

    def modify(self, client_order_id: ClientOrderId, *, price: Decimal | None = None,
               amount: Decimal | None = None) -> None:
        self._send(ModifyOrder(client_order_id=client_order_id, price=price, amount=amount,
                               strategy_id=self.strategy_id, ts_init=self.clock.time_ns()))

    def schedule(self, delay_s: float, name: str) -> None:
        clock = self.clock
        self.tell_later(delay_s, lambda: StrategyTimer(name=name, ts_init=clock.time_ns()))

    def position(self, trading_pair: str) -> Decimal:
        return self.positions.get(trading_pair, Decimal(0))

    def live_orders(self, trading_pair: str | None = None) -> list[LiveOrder]:
        return [o for o in self.orders.values()
                if trading_pair is None or o.trading_pair == trading_pair]

    # --- plumbing ---------------------------------------------------------------------------
    def _send(self, message: object) -> None:
        assert self._gate is not None
        self._gate.tell(message)

    def on_started(self) -> None:
        s, peers = self.settings, self.peers
        self._gate = self.ctx.lookup(peers.gate)
        stream = self.ctx.lookup(peers.market_stream)
        for pair in s.trading_pairs:
            stream.tell(SubscribeMarket(trading_pair=pair, channels=s.channels,
                                        subscriber_id=self.child_id))
        self.ctx.lookup(peers.tracker).tell(SendOpenOrders(strategy_id=self.strategy_id,
                                                           reply_to=self.child_id))
        self.ctx.lookup(peers.execution).tell(SendAccountState(reply_to=self.child_id))
        self.schedule(s.account_state_timeout_s, _ACCOUNT_TIMEOUT)

    def handle(self, message: object) -> None:
        if isinstance(message, BookSnapshot):
            if self.ready:
                self.on_book(message)
        elif isinstance(message, BestBidOffer):
            if self.ready:
                self.on_bbo(message)
        elif isinstance(message, TradeReceived):
            if self.ready:
                self.on_trade(message)
        elif isinstance(message, OrderEvent):
            self._track(message)
            self.on_order_event(message)
        elif isinstance(message, CommandRejected):
            self._rejected(message)
            self.on_command_rejected(message)
        elif isinstance(message, OpenOrdersSnapshot):
            for order in message.orders:
                self._adopt(order)
            self._orders_known = True
            self._maybe_ready()
        elif isinstance(message, AccountStateReported):
            self._account(message)
            self._maybe_ready()
        elif isinstance(message, FeedConnected | FeedLost | FeedStale):
            self.on_feed(message)
        elif isinstance(message, StrategyTimer):
            if message.name == _ACCOUNT_TIMEOUT:
                if self._positions_as_of is None and not self.ready:
                    log.warning("%s: no account state from the venue; positions start from "
                                "this incarnation's fills", self.strategy_id)
                    self._positions_as_of = 0
                    self._maybe_ready()
            else:
                self.on_timer(message.name)
        else:
            log.debug("%s ignores %s", self.strategy_id, type(message).__name__)

    def _maybe_ready(self) -> None:
        if not self.ready and self._orders_known and self._positions_as_of is not None:
            self.ready = True
            self.on_strategy_start()

    def _account(self, state: AccountStateReported) -> None:
        """The venue's positions are the base; fills already seen that are newer stay applied.

        Positions are the account's (the venue does not attribute them to strategies)."""
        if self._positions_as_of not in (None, 0):
            return  # only the first answer sets the base
        positions = {p.trading_pair: p.size for p in state.positions}
        for ts_event, pair, signed in self._early_fills:
            if ts_event > state.ts_event:
                positions[pair] = positions.get(pair, Decimal(0)) + signed
        self._early_fills.clear()
        self.positions = positions
        self._positions_as_of = state.ts_event

    def _rejected(self, rejection: CommandRejected) -> None:
        """A submit refused before the tracker could record it (an actor died on it) never
        gets an order event: drop it from the view, or the strategy waits on it forever. An
        order the tracker did record keeps its events coming (they would re-add it)."""
        cloid = rejection.client_order_id
        if rejection.command != "SubmitOrder" or cloid is None:
            return
        live = self.orders.get(cloid)
        if live is not None and live.state == "PENDING_CREATE":
            del self.orders[cloid]

    def _adopt(self, order: TrackedOrder) -> None:
        self.orders[order.client_order_id] = LiveOrder(
            client_order_id=order.client_order_id, trading_pair=order.trading_pair,
            side=order.side, price=order.price, amount=order.amount,
            filled=order.filled_amount, state=order.state.value,
            exchange_order_id=order.exchange_order_id)

    def _track(self, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled):
            signed = event.fill_amount if event.side is OrderSide.BUY else -event.fill_amount
            pair = event.trading_pair
            if self._positions_as_of is None:
                self._early_fills.append((event.ts_event, pair, signed))
            elif event.ts_event > self._positions_as_of:
                self.positions[pair] = self.positions.get(pair, Decimal(0)) + signed
        if event.order_state.is_terminal:
            self.orders.pop(event.client_order_id, None)
            return
        live = self.orders.get(event.client_order_id)
        if live is None:
            live = LiveOrder(client_order_id=event.client_order_id,
                             trading_pair=event.trading_pair, side=event.side,
                             price=event.price, amount=event.amount,
                             filled=event.filled_amount, state=event.order_state.value,
                             exchange_order_id=event.exchange_order_id)
            self.orders[event.client_order_id] = live
        live.price = event.price
        live.amount = event.amount
        live.filled = event.filled_amount
        live.state = event.order_state.value
        live.exchange_order_id = event.exchange_order_id
