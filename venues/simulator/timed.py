"""Price- and time-driven order machinery: untriggered TP/SL orders and the dead-man switch."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from venues.simulator.model import Order

MS_PER_DAY = 86_400_000
SCHEDULE_MIN_DELAY_MS = 5_000
SCHEDULE_MAX_TRIGGERS_PER_DAY = 10


def trigger_due(order: Order, mark: Decimal) -> bool:
    """A sell take-profit and a buy stop fire when the mark rises to the trigger price; a sell
    stop and a buy take-profit when it falls to it."""
    assert order.trigger is not None
    rising = (order.trigger.tpsl == "tp") != order.is_buy
    px = order.trigger.trigger_px
    return mark >= px if rising else mark <= px


class TriggerBook:
    """Active (armed) trigger orders per coin, in arrival order."""

    def __init__(self) -> None:
        self._by_coin: dict[str, dict[int, Order]] = defaultdict(dict)

    def arm(self, order: Order) -> None:
        self._by_coin[order.coin][order.oid] = order

    def disarm(self, order: Order) -> bool:
        return self._by_coin[order.coin].pop(order.oid, None) is not None

    def due(self, coin: str, mark: Decimal) -> list[Order]:
        return [o for o in self._by_coin[coin].values() if trigger_due(o, mark)]

    def armed(self, coin: str) -> list[Order]:
        return list(self._by_coin[coin].values())

    def coins(self) -> list[str]:
        return [c for c, orders in self._by_coin.items() if orders]


class ScheduledCancels:
    """Per-account dead-man switch: a deadline and the per-UTC-day firing count."""

    def __init__(self) -> None:
        self._deadline: dict[str, int] = {}
        self._fired: dict[tuple[str, int], int] = {}

    def set(self, user: str, time_ms: int | None, now_ms: int) -> str | None:
        """Set or clear the deadline; returns the venue-style error text, or None."""
        if time_ms is None:
            self._deadline.pop(user, None)
            return None
        if time_ms < now_ms + SCHEDULE_MIN_DELAY_MS:
            return "Scheduled cancel time too early, must be at least 5 seconds from now."
        if self._fired.get((user, now_ms // MS_PER_DAY), 0) >= SCHEDULE_MAX_TRIGGERS_PER_DAY:
            return "Too many scheduled cancel triggers today."
        self._deadline[user] = time_ms
        return None

    def deadline(self, user: str) -> int | None:
        return self._deadline.get(user)

    def next_deadline(self) -> int | None:
        return min(self._deadline.values(), default=None)

    def pop_due(self, now_ms: int) -> list[str]:
        due = sorted(u for u, t in self._deadline.items() if t <= now_ms)
        for user in due:
            del self._deadline[user]
            key = (user, now_ms // MS_PER_DAY)
            self._fired[key] = self._fired.get(key, 0) + 1
        return due
