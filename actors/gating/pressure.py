"""`BackPressure`: refuse a new order while what already waits for the rate budget would
outlive it.

The signer reports what waits for credit (`SignerBacklog`: sent when it is starved, again every
100 more waiting orders, and once more when it has drained). A new order is refused at the gate
when the oldest waiting order has waited longer than ``max_queue_delay_s``, or when what waits
— reported by the signer, plus the orders admitted since its report and still on their way to
it through the tracker — would take longer than that to send: the budget pays for its burst
left at once (``SignerBacklog.headroom``, refilled since) and then ``actions_per_s`` actions
of up to 39 entries a second — or when too many orders wait. The queue is
therefore bounded in time and memory, and it drains within ``max_queue_delay_s`` once the load
drops: recovery is immediate.
"""

from __future__ import annotations

from collections import deque

import attrs

from messages.gate import SignerBacklog

BATCH = 39
"""Entries per action of weight 1 (the signer's batches)."""


@attrs.frozen(kw_only=True)
class PressureConfig:
    actions_per_s: float = attrs.field(default=10.0, metadata={"configurable": False})
    """The rate at which the budget pays for actions in a sustained way (the runtime derives it
    from execution's pacing: the IP weight budget and the actions' share of it)."""
    action_burst: int = attrs.field(default=60, metadata={"configurable": False})
    """Actions the budget pays for at once after a quiet spell (execution's ``action_burst``):
    what execution last reported left of it refills at ``actions_per_s`` up to this."""
    max_queue_delay_s: float = 2.0
    """Refuse new orders once the oldest order waiting for the rate budget has waited this
    long: a queue that grows past it would outlive the orders in it."""
    max_backlog_orders: int = 2_000

    def __attrs_post_init__(self) -> None:
        if self.actions_per_s <= 0 or self.max_queue_delay_s <= 0 or self.max_backlog_orders < 1:
            raise ValueError("actions_per_s, max_queue_delay_s and max_backlog_orders must be "
                             "positive")


class BackPressure:
    def __init__(self, config: PressureConfig) -> None:
        self.config = config
        self._backlog: SignerBacklog | None = None
        self._backlog_at_ns = 0
        """When the last report arrived (monotonic)."""
        self._in_transit: deque[int] = deque()
        """Wall times at which orders passed the gate after the signer's last report: on their
        way to it (through the tracker), so in no report yet. Without them a flood is admitted
        for a whole report interval and waits far past ``max_queue_delay_s``."""
        self.refused = 0

    def signer_reported(self, backlog: SignerBacklog, now_ns: int) -> None:
        self._backlog = backlog
        self._backlog_at_ns = now_ns
        transit = self._in_transit
        while transit and transit[0] <= backlog.ts_init:
            transit.popleft()

    def order_admitted(self, wall_ns: int) -> None:
        self._in_transit.append(wall_ns)
        if len(self._in_transit) > self.config.max_backlog_orders:
            self._in_transit.popleft()

    def _transit(self, wall_ns: int) -> int:
        # One not in a report after max_queue_delay_s reached a signer that had credit for it
        # (a starved signer reports), or was refused on the way: either way it waits no more.
        horizon = wall_ns - int(self.config.max_queue_delay_s * 1e9)
        transit = self._in_transit
        while transit and transit[0] <= horizon:
            transit.popleft()
        return len(transit)

    def refusal(self, now_ns: int, wall_ns: int) -> str | None:
        """Why a new order must be refused now, or None (``now_ns`` monotonic)."""
        backlog = self._backlog
        transit = self._transit(wall_ns)
        reported = backlog.orders if backlog is not None else 0
        if reported + transit == 0:
            return None
        cfg = self.config
        # Reported while starved: the oldest order has been waiting since, unless credit came.
        age_s = 0.0
        if backlog is not None and backlog.orders:
            age_s = (backlog.oldest_age_ns + max(0, now_ns - self._backlog_at_ns)) / 1e9
        # What waits needs this many more actions (less the credit the signer holds); the
        # budget pays for ``actions_per_s`` more each second.
        cancels = backlog.cancels if backlog is not None else 0
        modifies = backlog.modifies if backlog is not None else 0
        credit = backlog.credit if backlog is not None else 0
        # What the budget pays for at once beyond the credit: execution's last word, refilled
        # since (without it a burst of 1,000 orders, 26 actions that leave at once, was
        # partly refused as if it had to wait for the sustained rate).
        burst = float(cfg.action_burst)
        if backlog is not None:
            refill = max(0, now_ns - self._backlog_at_ns) / 1e9 * cfg.actions_per_s
            burst = min(burst, backlog.headroom + refill)
        actions = (-(-(reported + transit) // BATCH) + -(-cancels // BATCH)
                   + -(-modifies // BATCH))
        drain_s = max(0.0, actions - credit - burst) / cfg.actions_per_s
        if (age_s > cfg.max_queue_delay_s or drain_s > cfg.max_queue_delay_s
                or reported + transit >= cfg.max_backlog_orders):
            self.refused += 1
            return (f"back-pressure: {reported + transit} orders are waiting for the venue's "
                    f"rate budget (the oldest for {age_s:.1f}s, ~{drain_s:.1f}s to send); "
                    "retry later")
        return None
