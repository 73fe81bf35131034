"""`Pacer`: how much execution may send, and how much the signer may sign, right now.

The venue's limits (PROTOCOL §14) are counted here, the way the venue counts them, so the
runtime never earns a rejection it could have avoided:

* **IP weight**, 1200 per minute, refilled continuously (`WeightBudget`). Every request pays
  its weight when it is admitted, whichever transport carries it (the venue counts REST
  requests; counting WS ``post`` requests too keeps the WS message rate — at most one message
  per unit of weight plus pings — well under the venue's 2000 messages per minute).
* **Signer credit.** The signer signs only with credit: one credit is one action of weight 1
  (≤ 39 orders or cancels), paid for from the IP weight when granted. Execution keeps the
  signer's credit topped up to ``credit_target`` while the budget allows, so a lone order is
  signed and sent without waiting for a round trip; when the budget is spent the signer holds
  its work unsigned and coalesces it into the next actions it may sign.
* **In flight.** At most ``max_inflight_actions`` actions are in flight or granted at once,
  and at most ``ws_max_inflight`` requests ride the WS ``post`` channel at once (the venue allows
  100 simultaneous posts per IP); beyond that, requests go over HTTP.
* **A sustained share for actions** (``action_share``, half the minute's weight, with a burst
  of ``action_burst``): under sustained load the signer coalesces more into each action instead
  of spending the whole budget, so at 200 submits/s (each cancelled once open) actions carry
  ~39 entries and the budget keeps headroom.
* **Queries** (``/info``) also pay IP weight, but through a second bucket of their own
  (``query_share`` of the minute's budget), so reconciliation keeps working under a flood of
  orders and a flood of queries cannot starve cancels. Beyond their share they may borrow IP
  weight nobody uses, down to a reserve of ``action_burst``.
* **Back-pressure** is the risk gate's (`actors.gating.pressure`): the signer tells it what
  waits for credit, and it refuses new orders when that backlog would outlive them.
"""

from __future__ import annotations

import attrs

from messages.gate import SignerBacklog
from venues.hyperliquid.ratelimit import WeightBudget

BATCH = 39
"""Entries per action of weight 1 (the signer's batches)."""


@attrs.frozen(kw_only=True)
class PacingConfig:
    ip_weight_per_minute: float = 1200.0
    query_share: float = 0.35
    """Fraction of the minute's weight that queries may use (they share the IP budget too)."""
    action_share: float = 0.5
    """Fraction of the minute's weight that signed actions may use in a sustained way; a burst
    may use up to ``action_burst`` at once. Under load the signer then coalesces twice as much
    into each action (up to 39 entries) instead of spending the whole budget — headroom for
    queries, for another process on the same IP and for the moment load rises further."""
    action_burst: int = 60
    """Actions that may leave back to back before the sustained share applies."""
    credit_target: int = 4
    """Actions the signer may sign ahead of execution's next decision."""
    max_inflight_actions: int = 64
    ws_max_inflight: int = 90
    """The venue allows 100 simultaneous ``post`` requests per IP; leave room for other users of
    the same address (a second process, a tool)."""

    def __attrs_post_init__(self) -> None:
        if self.ip_weight_per_minute <= 0 or not 0 < self.query_share <= 1:
            raise ValueError("ip_weight_per_minute must be > 0 and query_share in (0, 1]")
        if not 0 < self.action_share <= 1 or self.action_burst < 1:
            raise ValueError("action_share must be in (0, 1] and action_burst >= 1")
        if self.credit_target < 1 or self.max_inflight_actions < self.credit_target:
            raise ValueError("credit_target must be >= 1 and <= max_inflight_actions")
        if self.ws_max_inflight < 1:
            raise ValueError("ws_max_inflight must be positive")


class Pacer:
    def __init__(self, config: PacingConfig, now_ns: int) -> None:
        self.config = config
        self.weights = WeightBudget(now_ns, config.ip_weight_per_minute)
        self.query_weights = WeightBudget(now_ns,
                                          config.ip_weight_per_minute * config.query_share)
        self.action_weights = WeightBudget(now_ns,
                                           config.ip_weight_per_minute * config.action_share,
                                           capacity=config.action_burst)
        self.outstanding = 0
        """Credit granted to the signer and not yet come back as a signed action."""
        self.inflight_actions = 0
        self.ws_inflight = 0

    # --- credit ----------------------------------------------------------------------------
    def grantable(self, now_ns: int) -> int:
        """Take weight for as much credit as the signer lacks (and the budget allows)."""
        cfg = self.config
        room = min(cfg.credit_target - self.outstanding,
                   cfg.max_inflight_actions - self.inflight_actions - self.outstanding)
        granted = 0
        while (granted < room and self.action_weights.tokens_at(now_ns) >= 1
               and self.weights.try_take(1, now_ns)):
            self.action_weights.force_take(1, now_ns)
            granted += 1
        self.outstanding += granted
        return granted

    def headroom(self, now_ns: int) -> int:
        """Actions the budget could pay for at once beyond the credit granted (the risk gate's
        back-pressure counts them: a burst of 1,000 orders needs 26 actions, and 60 leave at
        once after a quiet spell)."""
        return max(0, int(min(self.action_weights.tokens_at(now_ns),
                              self.weights.tokens_at(now_ns), self.config.action_burst)))

    def starved_wait_s(self, now_ns: int) -> float | None:
        """When to try granting again, if the signer lacks credit only for want of weight."""
        cfg = self.config
        if self.outstanding >= cfg.credit_target:
            return None
        if self.inflight_actions + self.outstanding >= cfg.max_inflight_actions:
            return None  # an answer will free a slot and try again
        return max(self.weights.wait_s(1, now_ns), self.action_weights.wait_s(1, now_ns))

    def action_signed(self, weight: int, now_ns: int) -> None:
        """The signer spent one credit on an action of ``weight`` (> 1 only for a batch of 40
        or more, which the signer does not build; the excess is paid now)."""
        self.outstanding = max(0, self.outstanding - 1)
        if weight > 1:
            self.weights.force_take(weight - 1, now_ns)

    def signer_reported(self, backlog: SignerBacklog) -> None:
        if backlog.started:
            # A new signer incarnation holds no credit; what was granted to the old one is gone.
            self.outstanding = 0

    # --- sending -----------------------------------------------------------------------------
    def take_query(self, weight: int, now_ns: int) -> bool:
        """Admit a query of ``weight``: from its own share (if the IP budget allows it), or else
        from IP weight that nothing else is using — what the IP budget holds above a reserve of
        ``action_burst``, so a burst of orders and cancels still finds its weight. A quiet
        order path lends queries its share: after a restart under load the status queries
        that settle uncertain orders go ~3× faster than the query share alone would allow."""
        if self.query_weights.tokens_at(now_ns) >= weight:
            if not self.weights.try_take(weight, now_ns):
                return False
            self.query_weights.force_take(weight, now_ns)
            return True
        if self.weights.tokens_at(now_ns) - weight >= self.config.action_burst:
            self.weights.force_take(weight, now_ns)
            return True
        return False

    def query_wait_s(self, weight: int, now_ns: int) -> float:
        own = max(self.query_weights.wait_s(weight, now_ns), self.weights.wait_s(weight, now_ns))
        return min(own, self.weights.wait_s(weight + self.config.action_burst, now_ns))

    def use_ws(self) -> bool:
        return self.ws_inflight < self.config.ws_max_inflight

    def rate_limited(self, now_ns: int) -> None:
        """The venue answered 429: its budget is spent whatever ours says."""
        self.weights.exhaust(now_ns)
