"""The venue's two request budgets, as it counts them (PROTOCOL §14).

* IP weight: 1200 per minute, refilled continuously; ``/exchange`` costs 1 + floor(n/40), most
  ``/info`` requests 2 or 20. Requests that would overdraw wait in execution's queue.
* Address budget: 10,000 requests plus one per USDC traded, each order or cancel counting one;
  cancels may go further (min(cap + 100,000, 2 × cap)). Read from ``userRateLimit``.
"""

from __future__ import annotations

from messages.account import RateLimitReported


class WeightBudget:
    def __init__(self, now_ns: int, per_minute: float = 1200.0,
                 capacity: float | None = None) -> None:
        self.capacity = per_minute if capacity is None else capacity
        self.rate_per_ns = per_minute / 60e9
        self.tokens = self.capacity
        self.last_ns = now_ns

    def _refill(self, now_ns: int) -> None:
        if now_ns > self.last_ns:
            refill = (now_ns - self.last_ns) * self.rate_per_ns
            self.tokens = min(self.capacity, self.tokens + refill)
            self.last_ns = now_ns

    def try_take(self, weight: int, now_ns: int) -> bool:
        self._refill(now_ns)
        if self.tokens >= weight:
            self.tokens -= weight
            return True
        return False

    def wait_s(self, weight: int, now_ns: int) -> float:
        self._refill(now_ns)
        missing = weight - self.tokens
        return 0.0 if missing <= 0 else missing / (self.rate_per_ns * 1e9)

    def tokens_at(self, now_ns: int) -> float:
        self._refill(now_ns)
        return self.tokens

    def force_take(self, weight: int, now_ns: int) -> None:
        """Pay ``weight`` even if it overdraws (what was sent was sent; the debt delays what
        comes next)."""
        self._refill(now_ns)
        self.tokens -= weight

    def exhaust(self, now_ns: int) -> None:
        """The venue said 429: assume the budget is spent."""
        self._refill(now_ns)
        self.tokens = min(self.tokens, 0.0)


class AddressBudget:
    INITIAL = 10_000
    CANCEL_EXTRA = 100_000

    def __init__(self) -> None:
        self.cap = self.INITIAL
        self.used = 0
        self.known = False

    def update(self, report: RateLimitReported) -> None:
        self.cap = report.requests_cap
        self.used = report.requests_used
        self.known = True

    def charge(self, n: int) -> None:
        self.used += n

    def can_order(self, n: int = 1) -> bool:
        # The venue refuses once the count reaches its cap: every recorded refusal reads
        # "(cap > cap - 1)", e.g. "(14295 > 14294)" for a cap of 14295.
        return self.used + n < self.cap

    def can_cancel(self, n: int = 1) -> bool:
        return self.used + n < min(self.cap + self.CANCEL_EXTRA, 2 * self.cap)
