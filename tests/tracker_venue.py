"""A model venue for the order tracker's state machine (tests/property/test_tracker_machine.py).

It keeps the truth per client order id the way Hyperliquid does (PROTOCOL §5.4–5.5, §16, and
the local exchange's `Engine.modify`):

* an order is a chain of *legs* under one cloid: a modify cancels the live leg (status
  ``canceled``) and places a replacement with a new, larger oid; a replacement that is rejected
  (``badAloPxRejected``) leaves the old leg cancelled and the cloid's status is the rejection;
  an invalid modify (bad tick) changes nothing; a modify or a cancel of an order that is no
  longer live is refused ("Cannot modify canceled or filled order", "Order was never placed,
  already canceled, or filled.");
* a cancel or a modify addresses the cloid, so it hits whichever leg is live when it arrives;
* the status of a cloid (``orderStatus``) is its latest leg's; fills are paged by time
  (``userFillsByTime``, inclusive start, oldest first, `page_size` per answer).

Every operation returns what the venue says: the answer to the request (if any) and the frames
its user stream pushes (which the machine may lose, delay, duplicate or reorder).
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages import (
    CancelAnswered,
    ClientOrderId,
    EvidenceSource,
    ExchangeOrderId,
    FillReported,
    LiquiditySide,
    ModifyAnswered,
    OpenOrdersReported,
    OrderNotFoundReported,
    OrderSide,
    OrderState,
    OrderStatusReported,
    SubmitAnswered,
    SubmitOutcome,
    TradeId,
    VenueOrderStatus,
)
from messages.tracking import FillsQuery
from messages.venue import FillsReported

PAIR = "BTC-USD"
ZERO = Decimal(0)
CANCEL_ERROR = "Order was never placed, already canceled, or filled."
MODIFY_DEAD = "Cannot modify canceled or filled order"
ALO_ERROR = "Post only order would have immediately matched, bbo was 99@100"
TICK_ERROR = "Price must be divisible by tick size."
S = OrderState
VS = VenueOrderStatus


def status_of(raw: str) -> VenueOrderStatus:
    """The venue's status string reduced the way the payload parser does (PROTOCOL §16)."""
    if raw == "open":
        return VS.OPEN
    if raw == "filled":
        return VS.FILLED
    if raw == "canceled" or raw.endswith("Canceled") or raw == "scheduledCancel":
        return VS.CANCELLED
    if raw == "rejected" or raw.endswith("Rejected"):
        return VS.REJECTED
    return VS.UNRECOGNIZED


@attrs.define
class Leg:
    oid: int
    size: Decimal
    price: Decimal
    filled: Decimal = ZERO
    status: str = "open"

    @property
    def live(self) -> bool:
        return self.status == "open"


@attrs.define
class Fill:
    cloid: ClientOrderId
    oid: int
    tid: int
    amount: Decimal
    time_ms: int


@attrs.define
class VenueOrder:
    cloid: ClientOrderId
    legs: list[Leg]

    @property
    def latest(self) -> Leg:
        return self.legs[-1]

    @property
    def filled(self) -> Decimal:
        return sum((leg.filled for leg in self.legs), ZERO)

    @property
    def amount(self) -> Decimal:
        """What the cloid can fill in all: earlier legs' fills plus the latest leg's size."""
        return sum((leg.filled for leg in self.legs[:-1]), ZERO) + self.latest.size

    def expected_state(self) -> OrderState:
        """The tracker's final state for this venue truth (docs/order-lifecycle.md, "What the
        venue's status means")."""
        status = status_of(self.latest.status)
        if status is VS.OPEN:
            return S.OPEN if self.filled == 0 else S.PARTIALLY_FILLED
        if status is VS.FILLED:
            return S.FILLED
        if status is VS.CANCELLED:
            return S.CANCELLED
        return S.FAILED if self.filled == 0 else S.CANCELLED


Said = tuple[object | None, list[object]]
"""(the answer to the request, the stream frames) of one venue operation."""


class ModelVenue:
    def __init__(self, *, page_size: int) -> None:
        self.orders: dict[ClientOrderId, VenueOrder] = {}
        self.fills: list[Fill] = []
        self.page_size = page_size
        self._oid = 1000
        self._tid = 0
        self._last_fill_ms = 0

    # --- helpers -------------------------------------------------------------------------
    def _new_oid(self) -> int:
        self._oid += 1
        return self._oid

    def live(self) -> list[VenueOrder]:
        return [o for o in self.orders.values() if o.latest.live]

    def report(self, order: VenueOrder, leg: Leg, source: EvidenceSource,
               now: int) -> OrderStatusReported:
        remaining = leg.size - leg.filled if status_of(leg.status) is not VS.REJECTED else leg.size
        return OrderStatusReported(
            client_order_id=order.cloid, exchange_order_id=ExchangeOrderId(leg.oid),
            trading_pair=PAIR, side=OrderSide.BUY, status=status_of(leg.status),
            raw_status=leg.status, price=leg.price, original_amount=leg.size,
            remaining_amount=remaining, source=source, ts_event=now, ts_init=now,
        )

    def _fill_report(self, fill: Fill, source: EvidenceSource, now: int) -> FillReported:
        return FillReported(
            client_order_id=fill.cloid, exchange_order_id=ExchangeOrderId(fill.oid),
            trade_id=TradeId(fill.tid), trading_pair=PAIR, side=OrderSide.BUY,
            price=Decimal("100"), amount=fill.amount, fee=Decimal("0.01"), fee_asset="USDC",
            liquidity=LiquiditySide.MAKER, closed_pnl=ZERO, start_position=ZERO,
            direction="Open Long", tx_hash="0x0", source=source,
            ts_event=fill.time_ms * 1_000_000, ts_init=now,
        )

    def _fill(self, order: VenueOrder, size: Decimal, now: int) -> list[object]:
        leg = order.latest
        self._tid += 1
        # Strictly increasing fill times: a page boundary (inclusive) never splits one ms.
        time_ms = max(now // 1_000_000, self._last_fill_ms + 1)
        self._last_fill_ms = time_ms
        fill = Fill(cloid=order.cloid, oid=leg.oid, tid=self._tid, amount=size, time_ms=time_ms)
        self.fills.append(fill)
        leg.filled += size
        frames: list[object] = [self._fill_report(fill, EvidenceSource.STREAM, now)]
        if leg.filled == leg.size:
            leg.status = "filled"
            frames.append(self.report(order, leg, EvidenceSource.STREAM, now))
        return frames

    # --- requests ------------------------------------------------------------------------
    def submit(self, cloid: ClientOrderId, amount: Decimal, price: Decimal, fate: str,
               now: int) -> Said:
        """``fate``: ``rest``, ``reject`` (post-only would cross) or ``fill`` (crosses)."""
        leg = Leg(oid=self._new_oid(), size=amount, price=price)
        order = VenueOrder(cloid=cloid, legs=[leg])
        self.orders[cloid] = order
        oid = ExchangeOrderId(leg.oid)
        if fate == "reject":
            leg.status = "badAloPxRejected"
            answer = SubmitAnswered(client_order_id=cloid, outcome=SubmitOutcome.REJECTED,
                                    exchange_order_id=None, filled_amount=None,
                                    average_price=None, error=ALO_ERROR, ts_init=now)
            return answer, [self.report(order, leg, EvidenceSource.STREAM, now)]
        if fate == "fill":
            frames = self._fill(order, amount, now)
            return SubmitAnswered(client_order_id=cloid, outcome=SubmitOutcome.FILLED,
                                  exchange_order_id=oid, filled_amount=amount,
                                  average_price=price, error="", ts_init=now), frames
        return SubmitAnswered(client_order_id=cloid, outcome=SubmitOutcome.RESTING,
                              exchange_order_id=oid, filled_amount=None, average_price=None,
                              error="", ts_init=now), [
            self.report(order, leg, EvidenceSource.STREAM, now)]

    def cancel(self, cloid: ClientOrderId, now: int) -> Said:
        order = self.orders.get(cloid)
        if order is None or not order.latest.live:
            return CancelAnswered(client_order_id=cloid, success=False, error=CANCEL_ERROR,
                                  ts_init=now), []
        order.latest.status = "canceled"
        return CancelAnswered(client_order_id=cloid, success=True, error="", ts_init=now), [
            self.report(order, order.latest, EvidenceSource.STREAM, now)]

    def modify(self, cloid: ClientOrderId, size: Decimal, price: Decimal, fate: str,
               now: int) -> Said:
        """``fate``: ``replace``, ``reject`` (the replacement would cross: rejected after the
        old leg is cancelled), ``invalid`` (refused before anything changes) or ``fill`` (the
        replacement fills at once)."""
        order = self.orders.get(cloid)

        def refused(error: str) -> ModifyAnswered:
            return ModifyAnswered(client_order_id=cloid, outcome=SubmitOutcome.REJECTED,
                                  exchange_order_id=None, error=error, ts_init=now)

        if order is None or not order.latest.live:
            return refused(MODIFY_DEAD), []
        if fate == "invalid":
            return refused(TICK_ERROR), []
        old = order.latest
        old.status = "canceled"
        frames: list[object] = [self.report(order, old, EvidenceSource.STREAM, now)]
        leg = Leg(oid=self._new_oid(), size=size, price=price)
        order.legs.append(leg)
        oid = ExchangeOrderId(leg.oid)
        if fate == "reject":
            leg.status = "badAloPxRejected"
            frames.append(self.report(order, leg, EvidenceSource.STREAM, now))
            return refused(ALO_ERROR), frames
        if fate == "fill":
            frames.extend(self._fill(order, size, now))
            return ModifyAnswered(client_order_id=cloid, outcome=SubmitOutcome.FILLED,
                                  exchange_order_id=oid, error="", ts_init=now), frames
        frames.append(self.report(order, leg, EvidenceSource.STREAM, now))
        return ModifyAnswered(client_order_id=cloid, outcome=SubmitOutcome.RESTING,
                              exchange_order_id=oid, error="", ts_init=now), frames

    # --- the venue on its own ------------------------------------------------------------
    def fill(self, order: VenueOrder, part: str, now: int) -> list[object]:
        leg = order.latest
        remaining = leg.size - leg.filled
        size = remaining if part == "all" else min(Decimal(part), remaining)
        return self._fill(order, size, now)

    def venue_cancel(self, order: VenueOrder, reason: str, now: int) -> list[object]:
        order.latest.status = reason
        return [self.report(order, order.latest, EvidenceSource.STREAM, now)]

    # --- queries -------------------------------------------------------------------------
    def status(self, cloid: ClientOrderId, now: int) -> object:
        order = self.orders.get(cloid)
        if order is None:
            return OrderNotFoundReported(client_order_id=cloid, ts_init=now)
        return self.report(order, order.latest, EvidenceSource.QUERY, now)

    def open_orders(self, now: int) -> OpenOrdersReported:
        return OpenOrdersReported(
            orders=tuple(self.report(o, o.latest, EvidenceSource.QUERY, now)
                         for o in self.live()),
            ts_init=now)

    def fills_page(self, since_ms: int, query: FillsQuery | None, now: int) -> FillsReported:
        page = [f for f in self.fills if f.time_ms >= since_ms][: self.page_size]
        return FillsReported(
            fills=tuple(self._fill_report(f, EvidenceSource.QUERY, now) for f in page),
            is_snapshot=True, ts_init=now, query=query)
