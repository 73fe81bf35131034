"""Order registry: live orders, bounded per-account history, cloid index, fills and events.

The engine decides what happens to orders; the registry remembers it and records every status
change as an event, so nothing that changes an order can forget to tell the world.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable

from venues.hyperliquid.keys import keccak256
from venues.simulator.model import Event, Fill, Order, OrderUpdated, Status, view

HISTORY_CAP = 5000  # historicalOrders answers at most 2000
EVICT_BATCH = 500
FILLS_CAP = 10000  # the venue keeps the 10 000 most recent fills reachable


class OrderRegistry:
    def __init__(self, now_ms: Callable[[], int], history_cap: int = HISTORY_CAP) -> None:
        self._now_ms = now_ms
        self._history_cap = history_cap
        self.live: dict[str, dict[int, Order]] = defaultdict(dict)
        self._history: dict[str, OrderedDict[int, Order]] = defaultdict(OrderedDict)
        self._cloids: dict[tuple[str, str], int] = {}
        self._fills: dict[str, deque[Fill]] = defaultdict(lambda: deque(maxlen=FILLS_CAP))
        self.events: list[Event] = []
        self._next_oid = 1
        self._hash_counter = 0

    def next_oid(self) -> int:
        oid = self._next_oid
        self._next_oid += 1
        return oid

    def remember(self, order: Order) -> None:
        history = self._history[order.user]
        history[order.oid] = order
        if order.cloid is not None:
            self._cloids[(order.user, order.cloid)] = order.oid
        if len(history) > self._history_cap + EVICT_BATCH:
            self._evict(order.user, history)

    def _evict(self, user: str, history: OrderedDict[int, Order]) -> None:
        """Forget the oldest finished orders (in batches, so the scan is amortized). Orders
        still alive are never forgotten however old they are: resting ones, waiting triggers,
        and one being placed right now (remembered before it rests, still "open")."""
        live = self.live[user]
        excess = len(history) - self._history_cap
        for oid, old in list(history.items()):
            if excess <= 0:
                break
            if oid in live or old.status == Status.OPEN:
                continue
            del history[oid]
            excess -= 1
            if old.cloid is not None and self._cloids.get((old.user, old.cloid)) == oid:
                del self._cloids[(old.user, old.cloid)]

    def cloid_owner(self, user: str, cloid: str) -> int | None:
        return self._cloids.get((user, cloid))

    def release_cloid(self, user: str, cloid: str) -> None:
        self._cloids.pop((user, cloid), None)

    def find(self, user: str, ref: int | str) -> Order | None:
        if isinstance(ref, str):
            oid = self._cloids.get((user, ref))
            if oid is None:
                return None
            ref = oid
        return self._history[user].get(ref)

    def is_live(self, order: Order) -> bool:
        return order.oid in self.live[order.user]

    def history(self, user: str) -> list[Order]:
        return list(self._history[user].values())

    def set_status(self, order: Order, status: str) -> None:
        order.status = status
        order.status_ts = self._now_ms()
        self.events.append(
            OrderUpdated(user=order.user, order=view(order), status=status,
                         status_ts=order.status_ts)
        )

    def record_fill(self, fill: Fill) -> None:
        self._fills[fill.user].append(fill)

    def fills(self, user: str) -> list[Fill]:
        return list(self._fills[user])

    def new_hash(self) -> str:
        """A transaction hash for work no signed action caused (triggers, synthetic flow)."""
        self._hash_counter += 1
        return "0x" + keccak256(b"perpetuum-sim-tx" + self._hash_counter.to_bytes(8, "big")).hex()

    def drain_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events
