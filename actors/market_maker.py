"""The demo market maker: one bid and one ask at the touch, re-quoted as the market moves.

Accepts/emits: as `actors.strategy.Strategy` (books in, orders out).
Peers: `actors.strategy.StrategyPeers`, as any strategy.
Behaviour: quotes ``quote_notional`` USD on each side as post-only orders, ``edge_bps`` behind the
  best bid and best ask (0 joins the touch); when the desired price moves more than
  ``requote_bps`` from a quote it modifies that quote (the venue replaces it, same client order
  id); stops quoting the side that would grow the position beyond ``max_position_notional``;
  re-quotes at most every ``min_requote_s``.
Fails: as any strategy (restart, then it re-learns its live orders from the tracker). It never
  holds more than one live order per side: a side with an order in flight is left alone.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import attrs

from actors.strategy import LiveOrder, Strategy, StrategyPeers, StrategySettings
from messages.enums import OrderSide, OrderType, TimeInForce
from messages.market import BookSnapshot
from messages.orders import OrderEvent
from supervision.spec import ChildContext

log = logging.getLogger(__name__)
BPS = Decimal("0.0001")
_SETTLED = ("OPEN", "PARTIALLY_FILLED")


@attrs.frozen(kw_only=True)
class MarketMakerSettings:
    trading_pair: str
    edge_bps: Decimal = Decimal("-0.5")
    requote_bps: Decimal = Decimal("0.5")
    quote_notional: Decimal = Decimal(25)
    max_position_notional: Decimal = Decimal(200)
    min_requote_s: float = 0.5


def quote_prices(
    best_bid: Decimal, best_ask: Decimal, edge_bps: Decimal
) -> tuple[Decimal, Decimal]:
    """Bid and ask ``edge_bps`` behind the touch; a negative edge improves inside the spread,
    but never past the mid (post-only quotes must not cross)."""
    mid = (best_bid + best_ask) / 2
    edge = mid * edge_bps * BPS
    return min(best_bid - edge, mid), max(best_ask + edge, mid)


class MarketMaker(Strategy):
    def __init__(self, ctx: ChildContext, *, settings: StrategySettings, maker: MarketMakerSettings,
                 peers: StrategyPeers = StrategyPeers()) -> None:  # noqa: B008 - frozen
        super().__init__(ctx, settings=settings, peers=peers)
        self.maker = maker
        self._last_quote_ns = 0
        self.quotes_placed = 0
        self.quotes_modified = 0

    def on_strategy_start(self) -> None:
        log.info("%s: quoting %s %s bps behind the touch", self.strategy_id,
                 self.maker.trading_pair, self.maker.edge_bps)

    def on_book(self, book: BookSnapshot) -> None:
        m = self.maker
        if book.trading_pair != m.trading_pair or book.is_crossed:
            return
        best_bid, best_ask, mid = book.best_bid, book.best_ask, book.mid
        if best_bid is None or best_ask is None or mid is None:
            return
        now = self.clock.monotonic_ns()
        if now - self._last_quote_ns < m.min_requote_s * 1e9:
            return
        self._last_quote_ns = now
        bid, ask = quote_prices(best_bid.price, best_ask.price, m.edge_bps)
        position_value = self.position(m.trading_pair) * mid
        for side, price in ((OrderSide.BUY, bid), (OrderSide.SELL, ask)):
            grows = position_value >= m.max_position_notional if side is OrderSide.BUY else (
                position_value <= -m.max_position_notional)
            self._quote(side, price, mid, grows)

    def _quote(self, side: OrderSide, price: Decimal, mid: Decimal, over_limit: bool) -> None:
        m = self.maker
        mine = [o for o in self.live_orders(m.trading_pair) if o.side is side]
        if over_limit:
            for live in mine:
                if live.state in _SETTLED:
                    self.cancel(live.client_order_id)
            return
        if not mine:
            self.submit_quote(side, price, mid)
            return
        order: LiveOrder = mine[0]
        if order.state not in _SETTLED or order.price is None:
            return  # in flight: wait for the venue's answer
        if abs(order.price - price) > mid * m.requote_bps * BPS:
            self.modify(order.client_order_id, price=price)
            self.quotes_modified += 1

    def submit_quote(self, side: OrderSide, price: Decimal, mid: Decimal) -> None:
        amount = (self.maker.quote_notional / mid).quantize(Decimal("1e-8"))
        self.submit(trading_pair=self.maker.trading_pair, side=side,
                    order_type=OrderType.LIMIT_MAKER, amount=amount, price=price,
                    time_in_force=TimeInForce.ALO)
        self.quotes_placed += 1

    def on_order_event(self, event: OrderEvent) -> None:
        if event.order_state.is_terminal:
            self._last_quote_ns = 0  # re-quote the side at the next book


__all__ = ["MarketMaker", "MarketMakerSettings", "quote_prices"]
