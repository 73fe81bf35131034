"""A load strategy: submits orders at a stepped rate to find where the runtime stops keeping up.

Accepts: as `actors.strategy.Strategy` (books and top of book in, its own order events and
  CommandRejected back), plus its own ``tick`` timer.
Emits: SubmitOrder (post-only orders ``rest_distance_bps`` behind the touch, and a fraction
  ``cross_fraction`` of IOC orders priced through the touch so they fill), ModifyOrder (a
  fraction ``modify_fraction`` of the resting orders is moved once to the touch when OPEN, then
  cancelled after ``modify_hold_s``: the modify-and-fill race the market maker runs into),
  CancelOrder (every other resting order as soon as it is OPEN).
Peers: `actors.strategy.StrategyPeers`, as any strategy.
Behaviour: the rate follows ``schedule``, a list of (submits per second, seconds) steps counted
  from ``start_at_ns`` (wall clock; a process restart picks the schedule up where it is) or from
  the strategy's start; after the last step it submits nothing more. Submits are paced by a
  timer every ``tick_s``; a tick never makes up more than one second of missed submits. Orders a
  previous incarnation left live are cancelled at start. Back-pressure refusals
  (OrderFailed, CommandRejected) are counted, never retried. Counters per step are logged when
  the step ends.
Fails: as any strategy (restart, then it re-learns its live orders from the tracker and cancels
  them). The pacing and bookkeeping live in `LoadCore`, driven by tests without threads.
"""

from __future__ import annotations

import logging
import math
import random
from collections import deque
from decimal import Decimal

import attrs

from actors.strategy import Strategy, StrategyPeers, StrategySettings
from messages.enums import OrderSide, OrderState, OrderType, TimeInForce
from messages.ids import ClientOrderId
from messages.market import BestBidOffer, BookSnapshot
from messages.orders import (
    OrderAccepted,
    OrderCancelRejected,
    OrderEvent,
    OrderFailed,
)
from messages.tracking import CommandRejected
from supervision.spec import ChildContext

log = logging.getLogger(__name__)
BPS = Decimal("0.0001")
CROSS_BPS = Decimal(20)
"""How far through the touch a crossing IOC is priced (the synthetic book is 2 bp a level)."""
_AMOUNT_STEP = Decimal("1e-8")
_LIVE = (OrderState.OPEN, OrderState.PARTIALLY_FILLED)
_MAX_CANCELS = 3
"""Cancels sent per order at most (a refused cancel of a still-live order is retried)."""


@attrs.frozen(kw_only=True)
class LoadSettings:
    trading_pair: str
    schedule: tuple[tuple[float, float], ...]
    """(submits per second, seconds) steps, in order."""
    order_notional: Decimal = Decimal(20)
    rest_distance_bps: Decimal = Decimal(50)
    cross_fraction: float = 0.1
    modify_fraction: float = 0.1
    modify_hold_s: float = 1.0
    start_at_ns: int | None = None
    tick_s: float = 0.01
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        problem = settings_problem(self)
        if problem is not None:
            raise ValueError(problem)


def settings_problem(s: LoadSettings) -> str | None:
    """What is wrong with the settings (naming the setting), or None."""
    if not s.schedule:
        return "schedule must list at least one (submits per second, seconds) step"
    for rate, seconds in s.schedule:
        if not (math.isfinite(rate) and math.isfinite(seconds)) or rate < 0 or seconds <= 0:
            return (f"schedule step ({rate}, {seconds}): submits per second must be >= 0 and "
                    "seconds > 0")
    if not s.order_notional.is_finite() or s.order_notional < 10:
        return f"order_notional must be >= 10 (the venue's minimum), not {s.order_notional}"
    if not s.rest_distance_bps.is_finite() or not 0 < s.rest_distance_bps < 1000:
        return (f"rest_distance_bps must be > 0 and < 1000 (the runtime's 10% price band), not "
                f"{s.rest_distance_bps}")
    for name in ("cross_fraction", "modify_fraction", "modify_hold_s", "tick_s"):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{name} must be a number, not {value!r}"
    for name in ("cross_fraction", "modify_fraction"):
        value = getattr(s, name)
        if not 0 <= value <= 1:
            return f"{name} must be between 0 and 1, not {value}"
    if s.cross_fraction + s.modify_fraction > 1:
        return "cross_fraction + modify_fraction must not exceed 1"
    if not s.modify_hold_s >= 0:
        return f"modify_hold_s must be >= 0, not {s.modify_hold_s}"
    if not s.tick_s > 0:
        return f"tick_s must be > 0, not {s.tick_s}"
    return None


@attrs.frozen(kw_only=True)
class Place:
    kind: str
    """``rest``, ``modify`` (rest, then modify once) or ``cross``."""
    side: OrderSide
    price: Decimal
    amount: Decimal
    order_type: OrderType
    time_in_force: TimeInForce


@attrs.frozen(kw_only=True)
class Modify:
    client_order_id: ClientOrderId
    price: Decimal


@attrs.frozen(kw_only=True)
class Cancel:
    client_order_id: ClientOrderId


Action = Place | Modify | Cancel


@attrs.define
class StepStats:
    rate: float
    seconds: float
    offered: int = 0
    accepted: int = 0
    filled: int = 0
    failed: int = 0
    refused: int = 0
    """Submits refused before they were tracked (CommandRejected)."""
    no_book: int = 0
    """Submits due while no top of book was known (not sent)."""


@attrs.define
class _Order:
    kind: str
    side: OrderSide
    step: int
    modified: bool = False
    cancels: int = 0
    accepted: bool = False


class LoadCore:
    """Pacing and per-order plans; returns the actions the strategy is to send."""

    def __init__(self, settings: LoadSettings, *, seed: str) -> None:
        self.s = settings
        self.rng = random.Random(f"{settings.seed}/{seed}")  # noqa: S311 - load mix, not crypto
        self.steps = [StepStats(rate=r, seconds=t) for r, t in settings.schedule]
        self._ends_ns: list[int] = []
        self._start_ns: int | None = None
        self._started_ns = 0
        """When this core started (nothing before it is owed)."""
        self._step: int | None = None
        self._origin_ns = 0
        self._paced = 0
        self._bid: Decimal | None = None
        self._ask: Decimal | None = None
        self._orders: dict[ClientOrderId, _Order] = {}
        self._holds: deque[tuple[int, ClientOrderId]] = deque()
        self._flip = {"rest": False, "cross": False}
        self.finished_steps = 0
        """Steps already reported (their counters are final)."""
        self.command_rejections = 0
        self.failure_reasons: dict[str, int] = {}
        """OrderFailed reasons (first 60 characters) and how often each came."""

    # --- inputs -----------------------------------------------------------------------------
    def start(self, now_ns: int) -> None:
        self._start_ns = self.s.start_at_ns if self.s.start_at_ns is not None else now_ns
        self._started_ns = now_ns
        end = self._start_ns
        self._ends_ns = []
        for _rate, seconds in self.s.schedule:
            end += int(seconds * 1e9)
            self._ends_ns.append(end)
        # Steps over before this start were counted (if at all) by an earlier process.
        self.finished_steps = sum(1 for end_ns in self._ends_ns if end_ns <= now_ns)

    def touch(self, bid: Decimal | None, ask: Decimal | None) -> None:
        if bid is not None and ask is not None and bid < ask:
            self._bid, self._ask = bid, ask

    def step_at(self, now_ns: int) -> int | None:
        """Index of the schedule step running at ``now_ns`` (None: not started or over)."""
        if self._start_ns is None or now_ns < self._start_ns:
            return None
        for i, end in enumerate(self._ends_ns):
            if now_ns < end:
                return i
        return None

    def tick(self, now_ns: int) -> list[Action]:
        """The submits due since the last tick, and the cancels whose hold has passed."""
        actions: list[Action] = []
        while self._holds and self._holds[0][0] <= now_ns:
            _, cloid = self._holds.popleft()
            held = self._orders.get(cloid)
            if held is not None and held.cancels == 0:
                actions.extend(self._cancel(cloid))
        step = self.step_at(now_ns)
        if step is None:
            return actions
        stats = self.steps[step]
        if step != self._step:
            self._step = step
            start = self._ends_ns[step - 1] if step else (self._start_ns or 0)
            self._origin_ns = max(start, self._started_ns)
            self._paced = 0
        if stats.rate <= 0:
            return actions
        # Submits fall at the step's start and every 1/rate after it; counted from the step's
        # origin (not summed per tick) so no rounding drifts. One second of backlog at most:
        # a stalled timer must not turn into a burst.
        target = int(stats.rate * (now_ns - self._origin_ns) / 1e9 + 1e-6) + 1
        due = target - self._paced
        cap = max(int(stats.rate), 1)
        if due > cap:
            self._paced += due - cap
            due = cap
        self._paced += due
        for _ in range(due):
            place = self._next_place()
            if place is None:
                stats.no_book += 1
            else:
                actions.append(place)
        return actions

    def placed(self, cloid: ClientOrderId, place: Place, now_ns: int) -> None:
        step = self.step_at(now_ns)
        index = step if step is not None else len(self.steps) - 1
        self.steps[index].offered += 1
        self._orders[cloid] = _Order(kind=place.kind, side=place.side, step=index)

    def on_event(self, event: OrderEvent, now_ns: int) -> list[Action]:
        order = self._orders.get(event.client_order_id)
        if order is None:
            return []
        stats = self.steps[order.step]
        state = event.order_state
        if isinstance(event, OrderAccepted) and not order.accepted:
            order.accepted = True
            stats.accepted += 1
        if state is OrderState.FILLED:
            stats.filled += 1
        elif isinstance(event, OrderFailed):
            stats.failed += 1
            key = event.reason[:60]
            self.failure_reasons[key] = self.failure_reasons.get(key, 0) + 1
        if state.is_terminal:
            del self._orders[event.client_order_id]
            return []
        if state not in _LIVE:
            return []
        if order.kind == "modify" and not order.modified and order.cancels == 0:
            price = self._bid if order.side is OrderSide.BUY else self._ask
            if price is not None:
                # The cancel follows after the hold whatever the modify's answer (a lost answer
                # must not leave the order resting).
                order.modified = True
                self._holds.append((now_ns + int(self.s.modify_hold_s * 1e9),
                                    event.client_order_id))
                return [Modify(client_order_id=event.client_order_id, price=price)]
        if order.modified and order.cancels == 0:
            return []  # its cancel waits for the hold
        if order.cancels == 0 or isinstance(event, OrderCancelRejected):
            return self._cancel(event.client_order_id)
        return []

    def on_rejected(self, rejection: CommandRejected) -> None:
        self.command_rejections += 1
        cloid = rejection.client_order_id
        order = self._orders.get(cloid) if cloid is not None else None
        if order is not None and rejection.command == "SubmitOrder":
            self.steps[order.step].refused += 1

    def adopt_for_cancel(self, cloid: ClientOrderId, side: OrderSide) -> list[Action]:
        """A live order of an earlier incarnation: cancel it."""
        self._orders[cloid] = _Order(kind="rest", side=side, step=len(self.steps) - 1)
        return self._cancel(cloid)

    def report_due(self, now_ns: int) -> list[int]:
        """Steps that ended since the last call (their counters are final but for answers
        still in flight)."""
        done: list[int] = []
        while self.finished_steps < len(self._ends_ns) and (
                now_ns >= self._ends_ns[self.finished_steps]):
            done.append(self.finished_steps)
            self.finished_steps += 1
        return done

    @property
    def live(self) -> int:
        return len(self._orders)

    # --- helpers ----------------------------------------------------------------------------
    def _cancel(self, cloid: ClientOrderId) -> list[Action]:
        order = self._orders[cloid]
        if order.cancels >= _MAX_CANCELS:
            return []
        order.cancels += 1
        return [Cancel(client_order_id=cloid)]

    def _side(self, kind: str) -> OrderSide:
        # Alternating sides keep the crossing orders' position near flat.
        self._flip[kind] = not self._flip[kind]
        return OrderSide.BUY if self._flip[kind] else OrderSide.SELL

    def _next_place(self) -> Place | None:
        bid, ask = self._bid, self._ask
        if bid is None or ask is None:
            return None
        s = self.s
        mid = (bid + ask) / 2
        amount = (s.order_notional / mid).quantize(_AMOUNT_STEP)
        roll = self.rng.random()
        if roll < s.cross_fraction:
            side = self._side("cross")
            through = CROSS_BPS * BPS
            price = ask * (1 + through) if side is OrderSide.BUY else bid * (1 - through)
            return Place(kind="cross", side=side, price=price, amount=amount,
                         order_type=OrderType.LIMIT, time_in_force=TimeInForce.IOC)
        kind = "modify" if roll < s.cross_fraction + s.modify_fraction else "rest"
        side = self._side("rest")
        away = s.rest_distance_bps * BPS
        price = bid * (1 - away) if side is OrderSide.BUY else ask * (1 + away)
        return Place(kind=kind, side=side, price=price, amount=amount,
                     order_type=OrderType.LIMIT_MAKER, time_in_force=TimeInForce.ALO)


class LoadGenerator(Strategy):
    def __init__(self, ctx: ChildContext, *, settings: StrategySettings, load: LoadSettings,
                 peers: StrategyPeers = StrategyPeers()) -> None:  # noqa: B008 - frozen
        super().__init__(ctx, settings=settings, peers=peers)
        self.load = load
        self.core = LoadCore(load, seed=f"{settings.run_id}/{ctx.incarnation}")

    def on_strategy_start(self) -> None:
        now = self.clock.time_ns()
        self.core.start(now)
        for live in self.live_orders(self.load.trading_pair):
            self._run(self.core.adopt_for_cancel(live.client_order_id, live.side))
        log.info("%s: load on %s, %d steps %s", self.strategy_id, self.load.trading_pair,
                 len(self.load.schedule), list(self.load.schedule))
        self.schedule(self.load.tick_s, "tick")

    def on_book(self, book: BookSnapshot) -> None:
        if book.trading_pair == self.load.trading_pair and not book.is_crossed:
            bid, ask = book.best_bid, book.best_ask
            self.core.touch(bid.price if bid else None, ask.price if ask else None)

    def on_bbo(self, bbo: BestBidOffer) -> None:
        if bbo.trading_pair == self.load.trading_pair:
            self.core.touch(bbo.bid.price if bbo.bid else None,
                            bbo.ask.price if bbo.ask else None)

    def on_timer(self, name: str) -> None:
        if name != "tick":
            return
        self.schedule(self.load.tick_s, "tick")
        now = self.clock.time_ns()
        self._run(self.core.tick(now))
        for index in self.core.report_due(now):
            st = self.core.steps[index]
            log.info("%s: step %d/%d done (%g/s for %gs): offered %d, accepted %d, filled %d, "
                     "failed %d (refused %d), not sent for want of a book %d; live %d",
                     self.strategy_id, index + 1, len(self.core.steps), st.rate, st.seconds,
                     st.offered, st.accepted, st.filled, st.failed, st.refused, st.no_book,
                     self.core.live)

    def on_order_event(self, event: OrderEvent) -> None:
        self._run(self.core.on_event(event, self.clock.time_ns()))

    def on_command_rejected(self, rejection: CommandRejected) -> None:
        log.debug("%s: %s refused: %s", self.strategy_id, rejection.command, rejection.reason)
        self.core.on_rejected(rejection)

    def _run(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Place):
                cloid = self.submit(trading_pair=self.load.trading_pair, side=action.side,
                                    order_type=action.order_type, amount=action.amount,
                                    price=action.price, time_in_force=action.time_in_force)
                self.core.placed(cloid, action, self.clock.time_ns())
            elif isinstance(action, Modify):
                self.modify(action.client_order_id, price=action.price)
            else:
                self.cancel(action.client_order_id)


__all__ = ["Cancel", "LoadCore", "LoadGenerator", "LoadSettings", "Modify", "Place",
           "StepStats", "settings_problem"]
