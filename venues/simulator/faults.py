"""Faults on demand: what the next requests and WebSocket frames suffer.

Counted faults (``*_next``, ``http_error_count``) are deterministic and what tests use; rates
are seeded random for soak runs. Stalls and delays are applied by the server shell; this
module only decides.
"""

from __future__ import annotations

import random
from typing import Any

import attrs

HTTP_ERROR_STATUSES = (429, 500, 502, 503, 504)


@attrs.define(kw_only=True)
class FaultPlan:
    delay_s: float = 0.0  # added before every HTTP response and WS post answer
    http_error_status: int = 0  # 429 or 5xx
    http_error_count: int = 0  # answer the next N /info and /exchange requests with it
    ws_drop_next: int = 0
    ws_duplicate_next: int = 0
    ws_reorder_next: int = 0  # hold a frame back and send it after the next one
    ws_drop_rate: float = 0.0
    ws_duplicate_rate: float = 0.0
    ws_reorder_rate: float = 0.0

    def __attrs_post_init__(self) -> None:
        if self.http_error_count and self.http_error_status not in HTTP_ERROR_STATUSES:
            raise ValueError(f"http_error_status must be one of {HTTP_ERROR_STATUSES}")
        rates = (self.ws_drop_rate, self.ws_duplicate_rate, self.ws_reorder_rate)
        if self.delay_s < 0 or any(not 0 <= r <= 1 for r in rates):
            raise ValueError("delay_s must be >= 0 and rates in [0, 1]")
        counts = (self.http_error_count, self.ws_drop_next, self.ws_duplicate_next,
                  self.ws_reorder_next)
        if any(c < 0 for c in counts):
            raise ValueError("fault counts must be >= 0")


FAULT_FIELDS = frozenset(a.name for a in attrs.fields(FaultPlan))


class FaultInjector:
    def __init__(self, seed: int = 0) -> None:
        self.plan = FaultPlan()
        self._rng = random.Random(seed)  # noqa: S311 - reproducible chaos, not cryptography
        self.counts: dict[str, int] = {"http_errors": 0, "ws_dropped": 0, "ws_duplicated": 0,
                                       "ws_reordered": 0}

    def set(self, **changes: Any) -> FaultPlan:
        unknown = set(changes) - FAULT_FIELDS
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        self.plan = attrs.evolve(self.plan, **changes)
        return self.plan

    def clear(self) -> None:
        self.plan = FaultPlan()

    def take_http_error(self) -> int | None:
        if self.plan.http_error_count <= 0:
            return None
        self.plan.http_error_count -= 1
        self.counts["http_errors"] += 1
        return self.plan.http_error_status

    def _take(self, counter: str, rate: float) -> bool:
        remaining: int = getattr(self.plan, counter)
        if remaining > 0:
            setattr(self.plan, counter, remaining - 1)
            return True
        return rate > 0 and self._rng.random() < rate

    def ws_filter(self) -> WsFaultFilter:
        return WsFaultFilter(self)


class WsFaultFilter:
    """Per-connection frame mangling (a held frame belongs to one connection)."""

    def __init__(self, injector: FaultInjector) -> None:
        self._inj = injector
        self._held: str | None = None

    def apply(self, text: str) -> list[str]:
        inj = self._inj
        plan = inj.plan
        if inj._take("ws_drop_next", plan.ws_drop_rate):
            inj.counts["ws_dropped"] += 1
            return []
        out = [text]
        if inj._take("ws_duplicate_next", plan.ws_duplicate_rate):
            inj.counts["ws_duplicated"] += 1
            out.append(text)
        if self._held is None and inj._take("ws_reorder_next", plan.ws_reorder_rate):
            inj.counts["ws_reordered"] += 1
            self._held = text
            return out[1:]
        if self._held is not None:
            out.append(self._held)
            self._held = None
        return out
