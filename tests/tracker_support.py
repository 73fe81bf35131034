"""A harness that drives the order tracker core with venue evidence, for tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.order_tracking.config import TrackerConfig
from actors.order_tracking.core import OrderTrackerCore, Outcome
from messages import (
    CancelAnswered,
    CancelOrder,
    ClientOrderId,
    EvidenceSource,
    ExchangeOrderId,
    FillReported,
    LiquiditySide,
    ModifyAnswered,
    ModifyOrder,
    OrderEvent,
    OrderSide,
    OrderState,
    OrderStatusReported,
    OrderType,
    RequestKind,
    SubmitAnswered,
    SubmitOrder,
    SubmitOutcome,
    TimeInForce,
    TradeId,
    VenueOrderStatus,
)
from messages.tracking import ReconcileRequested, RequestSent, TrackerTick
from messages.venue import FillsReported

PAIR = "BTC-USD"
T0 = 1_800_000_000_000_000_000


class ListJournal:
    """An in-memory journal: what the tracker appended, in order."""

    def __init__(self) -> None:
        self.records: list[bytes] = []

    def append(self, payload: bytes) -> int:
        self.records.append(payload)
        return len(self.records)


class Harness:
    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.journal = ListJournal()
        self.core = OrderTrackerCore(config or TrackerConfig(), self.journal)
        self.now = T0
        self.events: list[Any] = []
        self.outbox: list[Any] = []

    def tick(self, seconds: float = 0.001) -> int:
        self.now += int(seconds * 1e9)
        return self.now

    def send(self, message: object) -> Outcome:
        out = self.core.handle(message, self.tick())
        self.events.extend(out.events)
        self.outbox.extend(out.outbox)
        return out

    def order_events(self, cloid: ClientOrderId) -> list[OrderEvent]:
        return [e for e in self.events if isinstance(e, OrderEvent)
                and e.client_order_id == cloid]

    # --- commands ------------------------------------------------------------------------
    def submit(self, n: int, *, amount: str = "1", side: OrderSide = OrderSide.BUY,
               tif: TimeInForce = TimeInForce.GTC, sent: bool = True) -> ClientOrderId:
        cloid = ClientOrderId.derive("harness", n)
        self.send(SubmitOrder(client_order_id=cloid, trading_pair=PAIR, side=side,
                              order_type=OrderType.LIMIT, amount=Decimal(amount),
                              price=Decimal("100"), time_in_force=tif, strategy_id="s"))
        if sent:
            self.sent(cloid)
        return cloid

    def sent(self, cloid: ClientOrderId, kind: RequestKind = RequestKind.SUBMIT) -> Outcome:
        return self.send(RequestSent(kind=kind, client_order_ids=(cloid,), nonce=1,
                                     expires_after_ms=None, ts_init=self.now))

    def cancel(self, cloid: ClientOrderId) -> Outcome:
        return self.send(CancelOrder(client_order_id=cloid))

    # --- evidence ------------------------------------------------------------------------
    def answer(self, cloid: ClientOrderId, outcome: SubmitOutcome = SubmitOutcome.RESTING,
               oid: int | None = None, filled: str | None = None, error: str = "") -> Outcome:
        return self.send(SubmitAnswered(
            client_order_id=cloid, outcome=outcome,
            exchange_order_id=None if oid is None else ExchangeOrderId(oid),
            filled_amount=None if filled is None else Decimal(filled),
            average_price=None, error=error, ts_init=self.now))

    def fill(self, cloid: ClientOrderId | None, oid: int, tid: int, amount: str,
             side: OrderSide = OrderSide.BUY) -> Outcome:
        return self.send(fill_report(cloid, oid, tid, amount, side, self.now))

    def status(self, cloid: ClientOrderId | None, oid: int, status: VenueOrderStatus,
               raw: str | None = None, orig: str | None = "1", remaining: str = "1",
               source: EvidenceSource = EvidenceSource.STREAM,
               side: OrderSide = OrderSide.BUY, price: str = "100") -> Outcome:
        return self.send(status_report(cloid, oid, status, raw or status.value.lower(), orig,
                                       remaining, source, self.now, side, price))

    def cancel_answer(self, cloid: ClientOrderId, success: bool = True, error: str = "") -> (
        Outcome
    ):
        return self.send(CancelAnswered(client_order_id=cloid, success=success, error=error,
                                        ts_init=self.now))

    def advance(self, seconds: float) -> Outcome:
        self.tick(seconds)
        return self.send(TrackerTick(ts_init=self.now))

    # --- modifies and reconciliation -----------------------------------------------------
    def state(self, cloid: ClientOrderId) -> OrderState:
        order = self.core.get(cloid)
        assert order is not None
        return order.state

    def open(self, n: int = 1, amount: str = "1", oid: int = 5) -> ClientOrderId:
        """A sent order the venue acknowledged as resting under ``oid``."""
        cloid = self.submit(n, amount=amount)
        self.answer(cloid, oid=oid)
        assert self.state(cloid) is OrderState.OPEN
        return cloid

    def modify(self, cloid: ClientOrderId, price: str = "101",
               amount: str | None = None) -> None:
        """Ask for a modify and report it sent."""
        self.send(ModifyOrder(client_order_id=cloid, price=Decimal(price),
                              amount=None if amount is None else Decimal(amount)))
        self.sent(cloid, RequestKind.MODIFY)

    def modify_answer(self, cloid: ClientOrderId, oid: int | None,
                      outcome: SubmitOutcome = SubmitOutcome.RESTING, error: str = "") -> None:
        self.send(ModifyAnswered(client_order_id=cloid, outcome=outcome,
                                 exchange_order_id=None if oid is None else ExchangeOrderId(oid),
                                 error=error, ts_init=self.now))

    def status_queries(self, cloid: ClientOrderId) -> int:
        """How many status queries for ``cloid`` the tracker has asked for."""
        return sum(isinstance(o, ReconcileRequested) and cloid in o.client_order_ids
                   for o in self.outbox)

    def fill_queries(self) -> list[ReconcileRequested]:
        return [o for o in self.outbox
                if isinstance(o, ReconcileRequested) and o.fills_since_ms is not None]

    def answer_fills(self, request: ReconcileRequested, *fills: FillReported) -> None:
        """The venue's answer to a fill query (echoing its `FillsQuery`)."""
        self.send(FillsReported(fills=fills, is_snapshot=True, ts_init=self.now,
                                query=request.fills_query))


def fill_report(cloid: ClientOrderId | None, oid: int, tid: int, amount: str,
                side: OrderSide, now: int, price: str = "100") -> FillReported:
    return FillReported(
        client_order_id=cloid, exchange_order_id=ExchangeOrderId(oid), trade_id=TradeId(tid),
        trading_pair=PAIR, side=side, price=Decimal(price), amount=Decimal(amount),
        fee=Decimal("0.01"), fee_asset="USDC", liquidity=LiquiditySide.MAKER,
        closed_pnl=Decimal(0), start_position=Decimal(0), direction="Open Long", tx_hash="0x0",
        source=EvidenceSource.STREAM, ts_event=now, ts_init=now,
    )


def status_report(cloid: ClientOrderId | None, oid: int, status: VenueOrderStatus, raw: str,
                  orig: str | None, remaining: str, source: EvidenceSource, now: int,
                  side: OrderSide = OrderSide.BUY, price: str = "100") -> OrderStatusReported:
    return OrderStatusReported(
        client_order_id=cloid, exchange_order_id=ExchangeOrderId(oid), trading_pair=PAIR,
        side=side, status=status, raw_status=raw, price=Decimal(price),
        original_amount=None if orig is None else Decimal(orig),
        remaining_amount=Decimal(remaining), source=source, ts_event=now, ts_init=now,
    )
