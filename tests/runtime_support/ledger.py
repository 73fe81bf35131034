"""The ledger the churn strategy shares with the test: what every incarnation of the strategy
created, modified and saw. The strategy is recreated on every restart, so everything the test
checks afterwards lives here, never in the strategy instance."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import attrs

from messages.ids import ClientOrderId
from messages.orders import OrderEvent, OrderFilled
from messages.tracking import CommandRejected


@attrs.frozen(kw_only=True)
class Created:
    client_order_id: ClientOrderId
    trading_pair: str
    kind: str
    """"maker" (post-only near the touch) or "taker" (IOC that crosses)."""
    incarnation: int


@attrs.frozen(kw_only=True)
class SeenEvent:
    sequence: int
    kind: str
    client_order_id: ClientOrderId
    trade_id: int | None


class ChurnLedger:
    """What the churn strategy did and saw, across its incarnations (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.trading = threading.Event()
        """Cleared by the test to quiesce: the strategy then places, cancels and modifies
        nothing."""
        self.trading.set()
        self._created: dict[ClientOrderId, Created] = {}
        self._duplicate_cloids: list[ClientOrderId] = []
        self._modifies: Counter[ClientOrderId] = Counter()
        self._events: list[SeenEvent] = []
        self._rejections: list[CommandRejected] = []
        self._starts: list[tuple[int, dict[str, Decimal]]] = []

    def started(self, incarnation: int, positions: dict[str, Decimal]) -> None:
        with self._lock:
            self._starts.append((incarnation, positions))
            self._lock.notify_all()

    def starts(self) -> list[tuple[int, dict[str, Decimal]]]:
        """(incarnation, the positions it believed it had) for every strategy start."""
        with self._lock:
            return list(self._starts)

    def created(self, entry: Created) -> None:
        with self._lock:
            if entry.client_order_id in self._created:
                self._duplicate_cloids.append(entry.client_order_id)
            self._created[entry.client_order_id] = entry
            self._lock.notify_all()

    def modified(self, cloid: ClientOrderId) -> None:
        with self._lock:
            self._modifies[cloid] += 1

    def saw(self, event: OrderEvent) -> None:
        trade_id = int(event.trade_id) if isinstance(event, OrderFilled) else None
        with self._lock:
            self._events.append(SeenEvent(sequence=event.sequence, kind=type(event).__name__,
                                          client_order_id=event.client_order_id,
                                          trade_id=trade_id))
            self._lock.notify_all()

    def rejected(self, rejection: CommandRejected) -> None:
        with self._lock:
            self._rejections.append(rejection)

    # --- reads (copies) ---
    def orders(self) -> dict[ClientOrderId, Created]:
        with self._lock:
            return dict(self._created)

    def count(self) -> int:
        with self._lock:
            return len(self._created)

    def rejections(self) -> list[CommandRejected]:
        with self._lock:
            return list(self._rejections)

    def duplicate_cloids(self) -> list[ClientOrderId]:
        with self._lock:
            return list(self._duplicate_cloids)

    def modifies(self) -> Counter[ClientOrderId]:
        with self._lock:
            return Counter(self._modifies)

    def events(self) -> list[SeenEvent]:
        with self._lock:
            return list(self._events)

    def fills_seen(self) -> int:
        with self._lock:
            return sum(1 for e in self._events if e.trade_id is not None)

    def wait_for(self, condition: Callable[[ChurnLedger], bool], timeout: float) -> bool:
        """Block until ``condition(self)`` holds (re-checked on every record) or the timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: condition(self), timeout)
