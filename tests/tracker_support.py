"""A harness that drives the order tracker core with venue evidence, for tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.order_tracking.core import OrderTrackerCore, Outcome
from actors.order_tracking.stage import TrackerConfig
from messages import (
    CancelAnswered,
    CancelOrder,
    ClientOrderId,
    EvidenceSource,
    ExchangeOrderId,
    FillReported,
    LiquiditySide,
    OrderEvent,
    OrderSide,
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
from messages.tracking import RequestSent, TrackerTick

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
