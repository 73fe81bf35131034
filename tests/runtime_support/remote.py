"""A strategy a test drives from outside: it runs functions on its own thread (so the test
trades with the strategy's real `buy`/`modify`/… and reads its real view of its orders) and
records every order event and rejection it hears."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import attrs

from actors.strategy import Strategy, StrategySettings
from messages.orders import OrderEvent
from messages.tracking import CommandRejected
from runtime.wiring import Wiring, strategy_spec
from supervision.handle import Handle
from supervision.spec import ChildContext, ChildSpec
from tests.support.supervision import EventRecorder

T = TypeVar("T")


@attrs.frozen(eq=False)
class Act:
    """Run ``fn(strategy)`` on the strategy's thread; the result (or error) goes to ``result``."""

    fn: Callable[[Strategy], Any]
    result: Future[Any] = attrs.field(factory=Future)


class RemoteStrategy(Strategy):
    def __init__(self, ctx: ChildContext, *, settings: StrategySettings,
                 heard: EventRecorder) -> None:
        super().__init__(ctx, settings=settings)
        self.heard = heard

    def handle(self, message: object) -> None:
        if isinstance(message, Act):
            try:
                message.result.set_result(message.fn(self))
            except Exception as exc:  # noqa: BLE001 - handed to the test, which re-raises it
                message.result.set_exception(exc)
            return
        super().handle(message)

    def on_order_event(self, event: OrderEvent) -> None:
        self.heard(event)

    def on_command_rejected(self, rejection: CommandRejected) -> None:
        self.heard(rejection)


def remote_strategy(strategy_id: str, pairs: tuple[str, ...],
                    heard: EventRecorder) -> Callable[[Wiring], ChildSpec]:
    """A `runtime.wiring.StrategyFactory` for `Runtime(config, strategies=...)`."""

    def make(w: Wiring) -> ChildSpec:
        return strategy_spec(strategy_id, lambda ctx: RemoteStrategy(
            ctx, settings=StrategySettings(strategy_id=strategy_id, trading_pairs=pairs,
                                           run_id=w.run_id), heard=heard))

    return make


def on_strategy(handle: Handle, fn: Callable[[Strategy], T], timeout: float = 10.0) -> T:
    """Run ``fn`` on the strategy's thread and return its result."""
    act = Act(fn)
    handle.tell(act)
    result: T = act.result.result(timeout)
    return result
