"""A strategy that offers load: resting post-only orders at a scheduled rate, each cancelled as
soon as it is OPEN — the outside tester's load pattern of issue 10 (finding 5)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import attrs

from actors.strategy import Strategy, StrategySettings
from messages.enums import OrderSide, OrderState, OrderType, TimeInForce
from messages.ids import ClientOrderId
from messages.market import BookSnapshot
from messages.orders import OrderAccepted, OrderEvent
from messages.tracking import CommandRejected
from runtime.wiring import Wiring, strategy_spec
from supervision.spec import ChildContext, ChildSpec

STRATEGY_ID = "flood"
TICK_S = 0.02


@attrs.define
class Placed:
    phase: int
    submitted_ns: int
    opened_ns: int | None = None
    state: OrderState | None = None
    reason: str = ""


class FloodLedger:
    """What the flood did and heard; read by the test from its own thread."""

    def __init__(self, phases: tuple[tuple[float, float], ...]) -> None:
        self.phases = phases
        """(submits per second, seconds) in order."""
        self.lock = threading.Lock()
        self.orders: dict[ClientOrderId, Placed] = {}
        self.reasons: list[str] = []
        self.done = threading.Event()
        self.start = threading.Event()

    def of_phase(self, phase: int) -> list[Placed]:
        with self.lock:
            return [p for p in self.orders.values() if p.phase == phase]

    def unresolved(self) -> list[ClientOrderId]:
        with self.lock:
            return [c for c, p in self.orders.items()
                    if p.state is None or not p.state.is_terminal]


class Flood(Strategy):
    def __init__(self, ctx: ChildContext, *, settings: StrategySettings, ledger: FloodLedger,
                 pair: str) -> None:
        super().__init__(ctx, settings=settings)
        self.ledger = ledger
        self.pair = pair
        self.book: BookSnapshot | None = None
        self.phase = 0
        self.phase_started_ns = 0
        self.sent_in_phase = 0

    def on_book(self, book: BookSnapshot) -> None:
        self.book = book

    def on_strategy_start(self) -> None:
        self.schedule(TICK_S, "tick")

    def on_timer(self, name: str) -> None:
        ledger = self.ledger
        if not ledger.start.is_set() or self.book is None or self.book.mid is None:
            self.schedule(TICK_S, "tick")
            return
        now = self.clock.time_ns()
        if self.phase_started_ns == 0:
            self.phase_started_ns = now
        rate, seconds = ledger.phases[self.phase]
        elapsed = (now - self.phase_started_ns) / 1e9
        if elapsed >= seconds:
            self.phase += 1
            self.phase_started_ns, self.sent_in_phase = now, 0
            if self.phase >= len(ledger.phases):
                ledger.done.set()
                return
            rate, elapsed = ledger.phases[self.phase][0], 0.0
        due = int(rate * elapsed) + 1 - self.sent_in_phase if rate > 0 else 0
        for _ in range(max(0, due)):
            self._place(now)
        self.schedule(TICK_S, "tick")

    def _place(self, now: int) -> None:
        book = self.book
        assert book is not None
        mid = book.mid
        assert mid is not None
        side = OrderSide.BUY if self.sent_in_phase % 2 == 0 else OrderSide.SELL
        # 1-3 % away from the mid: rests, and stays inside the runtime's 10 % price band.
        away = Decimal("0.01") + Decimal(self.sent_in_phase % 20) * Decimal("0.001")
        price = mid * (1 - away) if side is OrderSide.BUY else mid * (1 + away)
        cloid = self.submit(trading_pair=self.pair, side=side, order_type=OrderType.LIMIT_MAKER,
                            amount=(Decimal(15) / mid).quantize(Decimal("1e-5")), price=price,
                            time_in_force=TimeInForce.ALO)
        self.sent_in_phase += 1
        with self.ledger.lock:
            self.ledger.orders[cloid] = Placed(phase=self.phase, submitted_ns=now)

    def on_order_event(self, event: OrderEvent) -> None:
        with self.ledger.lock:
            placed = self.ledger.orders.get(event.client_order_id)
            if placed is None:
                return
            placed.state = event.order_state
            reason = getattr(event, "reason", "")
            if reason:
                placed.reason = reason
                self.ledger.reasons.append(reason)
            if isinstance(event, OrderAccepted) and placed.opened_ns is None:
                placed.opened_ns = event.ts_init
        if isinstance(event, OrderAccepted):
            self.cancel(event.client_order_id)

    def on_command_rejected(self, rejection: CommandRejected) -> None:
        with self.ledger.lock:
            self.ledger.reasons.append(rejection.reason)


def flood_strategy(ledger: FloodLedger, pair: str) -> Callable[[Wiring], ChildSpec]:
    def make(w: Wiring) -> ChildSpec:
        return strategy_spec(STRATEGY_ID, lambda ctx: Flood(
            ctx, settings=StrategySettings(strategy_id=STRATEGY_ID, trading_pairs=(pair,),
                                           run_id=w.run_id),
            ledger=ledger, pair=pair))

    return make
