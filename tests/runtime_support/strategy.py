"""A strategy that churns orders (places, cancels, modifies, crosses) and records everything it
does in a `ChurnLedger`."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

import attrs

from actors.strategy import LiveOrder, Strategy, StrategySettings
from messages.enums import OrderSide, OrderType, TimeInForce
from messages.ids import ClientOrderId
from messages.market import BookSnapshot
from messages.orders import OrderEvent
from messages.tracking import CommandRejected
from runtime.wiring import Wiring, strategy_spec
from supervision.spec import ChildContext, ChildSpec
from tests.runtime_support.ledger import ChurnLedger, Created

STRATEGY_ID = "churn"
STRATEGY_PATH = f"strategies/{STRATEGY_ID}"
PAIRS = ("BTC-USD", "ETH-USD")
NOTIONAL = Decimal(30)
"""USD per order: above the venue's $10 minimum after the size is rounded down."""
SETTLED = ("OPEN", "PARTIALLY_FILLED")


@attrs.frozen(kw_only=True)
class ChurnSettings:
    seed: int
    resting: int = 3
    """Post-only orders kept near the touch per pair."""
    max_live: int = 6
    """No new order on a pair while this many are live or in flight there."""
    act_every_s: float = 0.1
    """One action per pair per this interval."""
    modify_probability: float = 0.15
    taker_probability: float = 0.12


class ChurnStrategy(Strategy):
    """Places and cancels continuously: about `resting` post-only orders a pair near the touch
    (the synthetic takers fill some), cancels the oldest, sometimes modifies one, sometimes
    sends an IOC that crosses the spread. Every cloid it creates, modify it sends and order
    event it receives goes to the ledger."""

    def __init__(self, ctx: ChildContext, *, settings: StrategySettings, ledger: ChurnLedger,
                 churn: ChurnSettings) -> None:
        super().__init__(ctx, settings=settings)
        self.ledger = ledger
        self.churn = churn
        self.rng = random.Random(f"{churn.seed}/{ctx.incarnation}")
        self._books: dict[str, BookSnapshot] = {}
        self._cancelling: set[ClientOrderId] = set()

    def on_strategy_start(self) -> None:
        self.ledger.started(self.incarnation, {p: self.position(p)
                                               for p in self.settings.trading_pairs})
        self.schedule(self.churn.act_every_s, "act")

    def on_book(self, book: BookSnapshot) -> None:
        self._books[book.trading_pair] = book

    def on_timer(self, name: str) -> None:
        # A timer, not the book, paces the strategy: books come at the synthetic market's rate.
        self.schedule(self.churn.act_every_s, "act")
        if self.ledger.trading.is_set():
            for pair in self.settings.trading_pairs:
                book = self._books.get(pair)
                if book is not None:
                    self._act(book)

    def _act(self, book: BookSnapshot) -> None:
        pair = book.trading_pair
        bid, ask, mid = book.best_bid, book.best_ask, book.mid
        if bid is None or ask is None or mid is None or book.is_crossed:
            return
        live = [o for o in self.live_orders(pair)
                if o.client_order_id not in self._cancelling]
        settled = [o for o in live if o.state in SETTLED]
        rng = self.rng
        if len(settled) > self.churn.resting or len(live) >= self.churn.max_live:
            victim = settled[0] if settled else (live[0] if live else None)
            if victim is not None:
                self._cancel(victim)
            return
        roll = rng.random()
        if settled and roll < self.churn.modify_probability:
            self._modify(rng.choice(settled), bid.price, ask.price)
        elif roll < self.churn.modify_probability + self.churn.taker_probability:
            self._take(pair, mid, bid.price, ask.price)
        else:
            self._make(pair, mid, bid.price, ask.price)

    def _amount(self, mid: Decimal) -> Decimal:
        return (NOTIONAL / mid).quantize(Decimal("1e-8"))

    def _make(self, pair: str, mid: Decimal, bid: Decimal, ask: Decimal) -> None:
        side = self.rng.choice((OrderSide.BUY, OrderSide.SELL))
        behind = Decimal(self.rng.randint(0, 4)) * Decimal("0.0001") * mid
        price = bid - behind if side is OrderSide.BUY else ask + behind
        self._place("maker", pair, side, OrderType.LIMIT_MAKER, price, mid, TimeInForce.ALO)

    def _take(self, pair: str, mid: Decimal, bid: Decimal, ask: Decimal) -> None:
        side = self.rng.choice((OrderSide.BUY, OrderSide.SELL))
        price = ask * Decimal("1.002") if side is OrderSide.BUY else bid * Decimal("0.998")
        self._place("taker", pair, side, OrderType.LIMIT, price, mid, TimeInForce.IOC)

    def _place(self, kind: str, pair: str, side: OrderSide, order_type: OrderType,
               price: Decimal, mid: Decimal, tif: TimeInForce) -> None:
        # Recorded right after the send: an injected crash lands between messages, never here.
        cloid = self.submit(trading_pair=pair, side=side, order_type=order_type,
                            amount=self._amount(mid), price=price, time_in_force=tif)
        self.ledger.created(Created(client_order_id=cloid, trading_pair=pair, kind=kind,
                                    incarnation=self.incarnation))

    def _modify(self, order: LiveOrder, bid: Decimal, ask: Decimal) -> None:
        ticks = Decimal(self.rng.randint(0, 4)) * Decimal("0.0001")
        price = bid * (1 - ticks) if order.side is OrderSide.BUY else ask * (1 + ticks)
        self.ledger.modified(order.client_order_id)
        self.modify(order.client_order_id, price=price)

    def _cancel(self, order: LiveOrder) -> None:
        self._cancelling.add(order.client_order_id)
        self.cancel(order.client_order_id)

    def on_order_event(self, event: OrderEvent) -> None:
        self.ledger.saw(event)
        if event.order_state.is_terminal:
            self._cancelling.discard(event.client_order_id)
        elif event.order_state.value in SETTLED:
            # A cancel the venue refused (or one that was lost) leaves the order live again.
            self._cancelling.discard(event.client_order_id)

    def on_command_rejected(self, rejection: CommandRejected) -> None:
        self.ledger.rejected(rejection)
        if rejection.client_order_id is not None:
            self._cancelling.discard(rejection.client_order_id)


def churn_strategy(ledger: ChurnLedger, churn: ChurnSettings,
                   pairs: tuple[str, ...] = PAIRS) -> Callable[[Wiring], ChildSpec]:
    """A `runtime.wiring.StrategyFactory` for `Runtime(config, strategies=...)`."""

    def make(w: Wiring) -> ChildSpec:
        return strategy_spec(STRATEGY_ID, lambda ctx: ChurnStrategy(
            ctx, settings=StrategySettings(strategy_id=STRATEGY_ID, trading_pairs=pairs,
                                           run_id=w.run_id),
            ledger=ledger, churn=churn))

    return make
