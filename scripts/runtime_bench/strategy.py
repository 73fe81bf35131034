"""The benchmark strategy actor and the state it shares with the driver across incarnations."""

from __future__ import annotations

import threading

import attrs

from actors.strategy import Strategy, StrategySettings
from messages.enums import OrderType, TimeInForce
from messages.ids import ClientOrderId
from messages.market import BookSnapshot
from messages.orders import (
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderFailed,
    OrderStatusUnknown,
)
from supervision.spec import ChildContext

from .common import FAR, PAIR, SIZE, mono
from .probes import Probes


@attrs.frozen(kw_only=True)
class Control:
    kind: str
    n: int = 0
    duration_s: float = 0.0
    interval_s: float = 0.0


@attrs.define
class LatencySample:
    frame_ns: int | None
    strategy_ns: int
    accepted_ns: int | None = None


@attrs.define
class BenchState:
    """Shared with the strategy (outlives its incarnations); written on its thread."""

    probes: Probes
    mode: str = "idle"
    last_book: BookSnapshot | None = None
    done: threading.Event = attrs.field(factory=threading.Event)
    failures: list[str] = attrs.field(factory=list)
    unknown: int = 0
    # latency
    interval_ns: int = 25_000_000
    next_ns: int = 0
    pending: ClientOrderId | None = None
    pending_since: int = 0
    stuck: int = 0
    latency: dict[ClientOrderId, LatencySample] = attrs.field(factory=dict)
    to_cancel: list[ClientOrderId] = attrs.field(factory=list)
    # burst
    burst_n: int = 0
    burst_sub: dict[ClientOrderId, int] = attrs.field(factory=dict)
    burst_acc: dict[ClientOrderId, int] = attrs.field(factory=dict)
    burst_failed: int = 0
    burst_cancel_t0: int = 0
    burst_cancelled: list[int] = attrs.field(factory=list)
    # sustained
    sus_t0: int = 0
    sus_end: int = 0
    sus_live: set[ClientOrderId] = attrs.field(factory=set)
    sus_sub: dict[ClientOrderId, int] = attrs.field(factory=dict)
    sus_acc: list[int] = attrs.field(factory=list)
    sus_ack: list[int] = attrs.field(factory=list)
    sus_cancelled: list[int] = attrs.field(factory=list)


class BenchStrategy(Strategy):
    def __init__(self, ctx: ChildContext, *, settings: StrategySettings,
                 state: BenchState) -> None:
        super().__init__(ctx, settings=settings)
        self.state = state

    def handle(self, message: object) -> None:
        if isinstance(message, Control):
            self._on_control(message)
            return
        super().handle(message)

    def _far_buy(self) -> ClientOrderId:
        book = self.state.last_book
        assert book is not None
        assert book.best_bid is not None
        return self.buy(PAIR, SIZE, book.best_bid.price * FAR, order_type=OrderType.LIMIT_MAKER,
                        time_in_force=TimeInForce.ALO)

    def _on_control(self, c: Control) -> None:
        st = self.state
        st.mode = c.kind
        if c.kind == "latency":
            st.interval_ns = int(c.interval_s * 1e9)
            self.schedule(0.5, "cancel")
        elif c.kind == "burst":
            st.burst_n = c.n
            for _ in range(c.n):
                t = mono()
                st.burst_sub[self._far_buy()] = t
        elif c.kind == "sustained":
            st.sus_t0 = mono()
            st.sus_end = st.sus_t0 + int(c.duration_s * 1e9)
            for _ in range(c.n):
                self._sus_submit()
        elif c.kind == "idle":
            self._cancel_batch()

    def _sus_submit(self) -> None:
        t = mono()
        cloid = self._far_buy()
        self.state.sus_sub[cloid] = t
        self.state.sus_live.add(cloid)

    def _cancel_batch(self) -> None:
        batch, self.state.to_cancel = self.state.to_cancel, []
        for cloid in batch:
            self.cancel(cloid)

    def on_timer(self, name: str) -> None:
        if name == "cancel":
            self._cancel_batch()
            if self.state.mode == "latency":
                self.schedule(0.5, "cancel")

    def on_book(self, book: BookSnapshot) -> None:
        t = mono()
        st = self.state
        st.last_book = book
        if st.mode != "latency" or book.best_bid is None:
            return
        if st.pending is not None:
            if t - st.pending_since < 2_000_000_000:
                return
            st.stuck += 1  # no answer in 2 s: reported, and the benchmark moves on
            st.pending = None
        if t < st.next_ns:
            return
        cloid = self._far_buy()
        st.latency[cloid] = LatencySample(frame_ns=st.probes.frames.get(book.ts_init),
                                          strategy_ns=t)
        st.pending, st.pending_since, st.next_ns = cloid, t, t + st.interval_ns

    def on_order_event(self, event: OrderEvent) -> None:
        t = mono()
        st = self.state
        cloid = event.client_order_id
        if isinstance(event, OrderFailed):
            st.failures.append(event.reason)
        elif isinstance(event, OrderStatusUnknown):
            st.unknown += 1
        sample = st.latency.get(cloid)
        if sample is not None:
            if isinstance(event, OrderAccepted):
                sample.accepted_ns = t
                st.to_cancel.append(cloid)
            if st.pending == cloid and (isinstance(event, OrderAccepted)
                                        or event.order_state.is_terminal):
                st.pending = None
        elif cloid in st.burst_sub:
            self._burst_event(event, t)
        elif cloid in st.sus_sub:
            self._sus_event(event, t)

    def _burst_event(self, event: OrderEvent, t: int) -> None:
        st = self.state
        if isinstance(event, OrderAccepted):
            st.burst_acc[event.client_order_id] = t
        elif isinstance(event, OrderFailed):
            st.burst_failed += 1
        elif isinstance(event, OrderCancelled):
            st.burst_cancelled.append(t)
            if len(st.burst_cancelled) >= len(st.burst_acc):
                st.done.set()
            return
        if st.burst_cancel_t0 == 0 and len(st.burst_acc) + st.burst_failed >= st.burst_n:
            st.burst_cancel_t0 = mono()
            for cloid in st.burst_acc:
                self.cancel(cloid)
            if not st.burst_acc:
                st.done.set()

    def _sus_event(self, event: OrderEvent, t: int) -> None:
        st = self.state
        cloid = event.client_order_id
        if isinstance(event, OrderAccepted):
            st.sus_acc.append(t)
            st.sus_ack.append(t - st.sus_sub[cloid])
            self.cancel(cloid)
            if t < st.sus_end and st.mode == "sustained":
                self._sus_submit()
        elif event.order_state.is_terminal:
            st.sus_live.discard(cloid)
            if isinstance(event, OrderCancelled):
                st.sus_cancelled.append(t)
            elif t < st.sus_end and st.mode == "sustained":
                self._sus_submit()
        if t >= st.sus_end and not st.sus_live:
            st.done.set()
