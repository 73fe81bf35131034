"""The signer actor: holds the key, owns the nonce, signs venue actions. No network I/O.

Accepts: SignOrders, SignCancels, SignModifies (from the order tracker), ScheduleCancel (from
  execution), and its own FlushBatch.
Emits: SignedAction to execution; RequestFailed (definitive: nothing was sent) to the tracker for
  requests that cannot be turned into an action.
Batching: each request is added to the core; if more requests are already queued, the actor
  tells itself FlushBatch, so everything in the mailbox by then leaves as one action; if none
  is queued it signs at once (a lone order does not wait for a batch).
Fails: a crash loses only the unflushed batch — those orders are tracked (PENDING_CREATE) and the
  tracker resolves them (expiry + venue status) — and never reuses a nonce: the nonce ceiling is
  persisted before it is used and a restarted signer starts above it. The key is never logged,
  never in a message, never in a repr.
"""

from __future__ import annotations

import logging
from pathlib import Path

import attrs

from actors.signing.core import SignerCore
from actors.signing.nonce import NonceSource, NonceStore
from messages.execution import FlushBatch, ScheduleCancel, SignedAction
from messages.tracking import SignCancels, SignModifies, SignOrders
from messages.venue import RequestFailed
from supervision.actor import SupervisedActor
from supervision.handle import Handle
from supervision.spec import ChildContext
from venues.hyperliquid.keys import SecretKey
from venues.hyperliquid.markets import MarketRegistry
from venues.hyperliquid.signing import L1Signer

log = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class SignerSettings:
    key: SecretKey = attrs.field(repr=False)
    is_mainnet: bool
    markets: MarketRegistry = attrs.field(repr=False)
    nonce_path: Path
    vault_address: str | None = None
    expires_after_s: float | None = None
    """Default expiresAfter for actions the tracker did not give one (cancels, modifies)."""
    max_batch: int = 40
    execution: str = "execution"
    tracker: str = "order_tracker"


class Signer(SupervisedActor):
    def __init__(self, ctx: ChildContext, *, settings: SignerSettings) -> None:
        super().__init__(ctx)
        self.settings = settings
        self.core: SignerCore | None = None
        self._execution: Handle | None = None
        self._tracker: Handle | None = None
        self._flush_pending = False

    def on_started(self) -> None:
        s = self.settings
        self._execution = self.ctx.lookup(s.execution)
        self._tracker = self.ctx.lookup(s.tracker)
        clock = self.clock
        nonces = NonceSource(lambda: clock.time_ns() // 1_000_000,
                             NonceStore(s.nonce_path, check=self.fence.check))
        self.core = SignerCore(
            L1Signer(s.key, is_mainnet=s.is_mainnet), s.markets, nonces, clock.time_ns,
            vault_address=s.vault_address, max_batch=s.max_batch,
            expires_after_s=s.expires_after_s,
        )
        log.info("%s: signing as %s for %s (%s)", self.child_id, self.core.address,
                 s.vault_address or "its own account", "mainnet" if s.is_mainnet else "testnet")

    def handle(self, message: object) -> None:
        core = self.core
        assert core is not None
        if isinstance(message, FlushBatch):
            self._flush_pending = False
            self._flush(core)
            return
        if not isinstance(message, SignOrders | SignCancels | SignModifies | ScheduleCancel):
            raise TypeError(f"the signer does not handle {type(message).__name__}")
        core.add(message)
        if self._flush_pending:
            return
        if self.self_handle.pending() == 0:
            self._flush(core)  # nothing else queued: nothing to batch with, sign now
            return
        self._flush_pending = True
        self.self_handle.tell(FlushBatch(ts_init=self.clock.time_ns()))

    def _flush(self, core: SignerCore) -> None:
        execution, tracker = self._execution, self._tracker
        assert execution is not None
        assert tracker is not None
        for result in core.flush():
            if isinstance(result, SignedAction):
                execution.tell(result)
            elif isinstance(result, RequestFailed):
                tracker.tell(result)
