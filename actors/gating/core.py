"""`GateCore`: a strategy's commands in; normalised, risk-checked commands or refusals out.

* A `SubmitOrder` is refused when trading is halted, when the signer's backlog would outlive it
  (`BackPressure`), when the address's request budget is spent, or when normalisation refuses
  it (unknown or delisted market, numbers the venue cannot represent, notional, price band,
  per-strategy submit rate: `Normalizer`). A refusal becomes an `OrderDenied` told to the order
  tracker (which journals the order FAILED; the strategy hears `OrderFailed`); an admitted order
  goes to the tracker normalised.
* A `ModifyOrder` is normalised with its order's pair and side, known from its submit or from
  the tracker's list of open orders at this incarnation's start (`OpenOrdersSnapshot`; until it
  arrives, modifies wait, bounded). A refused modify comes back to its strategy (and the event
  sinks) as `CommandRejected`; it never reaches the signer unchecked.
* Cancels pass through to the tracker, which knows the orders.
* Market-order reference prices come from the market stream (`BestBidOffer`, `BookSnapshot`);
  the address budget from execution's `RateLimitReported`; the backlog from the signer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import attrs

from actors.gating.normalize import Normalizer, RiskConfig
from actors.gating.pressure import BackPressure, PressureConfig
from messages.account import RateLimitReported
from messages.commands import CancelAll, CancelOrder, ModifyOrder, SubmitOrder
from messages.enums import OrderSide
from messages.gate import SetTradingState, SignerBacklog
from messages.ids import ClientOrderId
from messages.market import BestBidOffer, BookSnapshot
from messages.tracking import CommandRejected, OpenOrdersSnapshot, OrderDenied
from venues.hyperliquid.ratelimit import AddressBudget

HELD_MODIFIES = 1_000
"""Modifies that may wait for the tracker's list of open orders (beyond: refused as unknown)."""


@attrs.frozen(kw_only=True)
class GateConfig:
    risk: RiskConfig = attrs.field(factory=RiskConfig)
    pressure: PressureConfig = attrs.field(factory=PressureConfig)
    modify_cache: int = 100_000
    """Submitted orders whose pair and side are remembered for their modifies."""


@attrs.define
class GatePorts:
    """Where the gate's outputs go (the actor wires handles in)."""

    tracker: Callable[[object], None]
    events: Callable[[object], None]
    strategy: Callable[[str, object], None] = lambda strategy_id, message: None
    """Tell the strategy with this id (a refusal of its own command)."""


class GateCore:
    def __init__(self, config: GateConfig, normalizer: Normalizer, ports: GatePorts,
                 now_ns: Callable[[], int], monotonic_ns: Callable[[], int]) -> None:
        self.config = config
        self.normalizer = normalizer
        self.ports = ports
        self._now_ns = now_ns
        self._mono = monotonic_ns
        self.pressure = BackPressure(config.pressure)
        self.address = AddressBudget()
        self._orders: OrderedDict[ClientOrderId, tuple[str, OrderSide]] = OrderedDict()
        self._known_open = False
        """Whether the tracker has said which orders were open when this incarnation started
        (until then a modify of an order not submitted through it waits, bounded)."""
        self._held_modifies: list[ModifyOrder] = []
        self._born_ns = now_ns()
        self.stats: dict[str, int] = {"admitted": 0, "denied": 0, "backpressure": 0,
                                      "modifies_refused": 0}

    # --- commands ------------------------------------------------------------------------------
    def submit(self, order: SubmitOrder) -> None:
        now = self._now_ns()
        pressure = self.pressure.refusal(self._mono(), now)
        if pressure is not None:
            self.stats["backpressure"] += 1
            result: SubmitOrder | str = pressure
        elif not self.address.can_order():
            result = (
                f"address request budget exhausted ({self.address.used}/{self.address.cap})")
        else:
            result = self.normalizer.submit(order)
        if isinstance(result, str):
            self.stats["denied"] += 1
            self.ports.tracker(OrderDenied(order=order, reason=result, ts_init=now))
            return
        self.stats["admitted"] += 1
        self.pressure.order_admitted(now)
        self.address.charge(1)
        self._orders[order.client_order_id] = (order.trading_pair, order.side)
        while len(self._orders) > self.config.modify_cache:
            self._orders.popitem(last=False)
        self.ports.tracker(result)

    def cancel(self, command: CancelOrder | CancelAll) -> None:
        if isinstance(command, CancelOrder):
            self.address.charge(1)  # an estimate between two reports (cancels have headroom)
        self.ports.tracker(command)

    def modify(self, command: ModifyOrder) -> None:
        # A modify is normalized (tick, lot, price band, finite numbers) with its order's pair
        # and side, known from its submit or from the tracker's list of open orders: one never
        # reaches the signer unchecked.
        known = self._orders.get(command.client_order_id)
        if known is None and not self._known_open and len(self._held_modifies) < HELD_MODIFIES:
            self._held_modifies.append(command)
            return
        result = ("unknown order: not open when execution started and not submitted since"
                  if known is None else self.normalizer.modify(command, known[1], known[0]))
        if isinstance(result, str):
            self.stats["modifies_refused"] += 1
            rejection = CommandRejected(
                command="ModifyOrder", client_order_id=command.client_order_id,
                strategy_id=command.strategy_id, reason=result, ts_init=self._now_ns())
            self.ports.events(rejection)
            if command.strategy_id:
                self.ports.strategy(command.strategy_id, rejection)
            return
        self.address.charge(1)
        self.ports.tracker(result)

    # --- what the gate learns --------------------------------------------------------------
    def open_orders_known(self, snapshot: OpenOrdersSnapshot) -> None:
        """The tracker's open orders at this incarnation's start: their pair and side, for
        the modifies that follow (a restarted gate forgot every submit)."""
        if snapshot.ts_init < self._born_ns:
            return  # asked for by an earlier incarnation: orders submitted since are missing
        for tracked in snapshot.orders:
            if tracked.client_order_id not in self._orders:
                self._orders[tracked.client_order_id] = (tracked.trading_pair, tracked.side)
        self._known_open = True
        held, self._held_modifies = self._held_modifies, []
        for command in held:
            self.modify(command)

    def set_trading_state(self, message: SetTradingState) -> None:
        self.normalizer.halted = message.reason or "halted" if message.halted else None

    def quote(self, message: BestBidOffer | BookSnapshot) -> None:
        self.normalizer.quotes.update(message, self._now_ns())

    def signer_backlog(self, backlog: SignerBacklog) -> None:
        self.pressure.signer_reported(backlog, self._mono())

    def rate_limit(self, report: RateLimitReported) -> None:
        self.address.update(report)
