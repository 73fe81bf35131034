"""The signer's configuration (the runtime's ``[signer]`` section is this class)."""

from __future__ import annotations

import attrs

MAX_WEIGHT_ONE_BATCH = 39
"""The venue weighs an action ``1 + floor(n / 40)``: 39 entries is the largest batch of weight 1."""


@attrs.frozen(kw_only=True)
class SignerConfig:
    expires_after_s: float | None = 10.0
    """An action expires this long after it is signed (orders: or earlier, at the bound the
    tracker gave); it is signed when the rate budget lets it leave, so this only has to outlast
    the trip to the venue. None: no ``expiresAfter``."""
    max_batch: int = MAX_WEIGHT_ONE_BATCH
    """Entries per action (at most 39, the largest batch of weight 1)."""
    eager_share: float = 0.2
    """Fraction of the minute's IP weight that actions which are not full may spend (a burst
    of ``eager_burst`` leaves at once after a quiet spell; a new incarnation starts with one
    second's worth): under sustained load partial actions are paced to this share — about
    0.25 s between two actions of a kind at the default — and fill up meanwhile."""
    eager_burst: int = 60
    linger_s: float = 0.5
    """The longest a partial action waits for a token or to fill; 0 signs every action at
    once (lowest latency, most weight: the budget binds from ~10 orders+cancels a second)."""

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.max_batch <= MAX_WEIGHT_ONE_BATCH:
            raise ValueError(f"max_batch must be in 1..{MAX_WEIGHT_ONE_BATCH}")
        if not 0 < self.eager_share <= 1 or not 0 <= self.linger_s <= 5 or self.eager_burst < 1:
            raise ValueError("eager_share must be in (0, 1], linger_s in [0, 5] and "
                             "eager_burst >= 1")
        if self.expires_after_s is not None and self.expires_after_s <= 0:
            raise ValueError("expires_after_s must be > 0")

    def eager_per_minute(self, ip_weight_per_minute: float) -> float | None:
        """Partial actions a minute, from the IP budget (None with ``linger_s = 0``: every
        action leaves at once)."""
        return None if not self.linger_s else ip_weight_per_minute * self.eager_share
