"""The order tracker's configuration: timeouts, expiries, reconciliation, retention, the open-order
cap. The runtime's ``[tracker]`` section is this class (docs/configuration.md)."""

from __future__ import annotations

from typing import Literal

import attrs


@attrs.frozen(kw_only=True)
class TrackerConfig:
    submit_timeout_s: float = 10.0
    """SUBMITTED with no answer for this long → UNKNOWN (reconcile)."""
    cancel_timeout_s: float = 10.0
    """PENDING_CANCEL with no answer for this long → UNKNOWN (reconcile)."""
    modify_timeout_s: float = 10.0
    submit_expiry_s: float | None = 30.0
    """Orders are sent with expiresAfter = tracked time + this; None disables it (then "never
    placed" is inferred from repeated not-found answers, which is weaker)."""
    not_found_grace_s: float = 2.0
    """How far past expiresAfter a not-found answer proves the order was never placed."""
    not_found_limit: int = 5
    """Without an expiry: not-found answers needed (and `lost_min_age_s`) to give up."""
    lost_min_age_s: float = 60.0
    unknown_requery_s: float = 3.0
    fill_wait_s: float = 3.0
    """How long to wait for fills the venue has reported before querying them."""
    fill_wait_attempts: int = 3
    retention_s: float = 600.0
    """Terminal orders stay in memory (queries, late fills) this long; they stay journaled."""
    retention_max_orders: int = 20_000
    """At most this many terminal orders stay in memory (the oldest-ended leave first): at
    200 orders/s, 600 s would be 120,000 orders — memory, snapshot size and restart time grow
    with them (a soak's restarts took tens of seconds)."""
    open_orders_grace_s: float = 5.0
    """Orders sent this recently may be missing from an open-orders snapshot; don't query."""
    external_orders: Literal["adopt", "cancel"] = "adopt"
    fill_key_window: int = 100_000
    """Fill keys of evicted orders remembered for deduplication."""
    unmatched_fill_limit: int = 10_000
    unmatched_fill_ttl_s: float = 120.0
    fills_lookback_s: float = 5.0
    """Margin subtracted from the last seen fill time (or an order's own time) when querying
    fills."""
    fills_page_size: int = 2000
    """Fills per ``userFillsByTime`` answer (PROTOCOL §3.9): a full page asks for the next."""
    reconcile_interval_s: float | None = 30.0
    """While running, reconcile this often (open orders, fills since the last seen, status of
    uncertain orders): a user stream that stops delivering cannot hide fills for long. None:
    only after recovery and reconnects."""
    max_open_orders: int = 1000
    """Non-terminal orders allowed (the venue's default cap, PROTOCOL §14); a SubmitOrder beyond
    it fails at once and is never sent."""

    def __attrs_post_init__(self) -> None:
        if self.reconcile_interval_s is not None and self.reconcile_interval_s <= 0:
            raise ValueError("reconcile_interval_s must be > 0")
        if not 1 <= self.max_open_orders <= 5000:
            raise ValueError("max_open_orders must be in 1..5000 (the venue's cap)")
        if self.external_orders not in ("adopt", "cancel"):
            raise ValueError("external_orders must be 'adopt' or 'cancel'")

    def ns(self, seconds: float) -> int:
        return int(seconds * 1e9)

    @property
    def resolution_bound_s(self) -> float | None:
        """How long an order can disagree with the venue while the venue answers queries
        (docs/order-lifecycle.md, "Resolution bound"); None when expiries or periodic
        reconciliation are off (then there is no bound)."""
        if self.submit_expiry_s is None or self.reconcile_interval_s is None:
            return None
        return (max(self.reconcile_interval_s, self.submit_expiry_s + self.not_found_grace_s)
                + self.unknown_requery_s + self.fill_wait_s + 1.0)
