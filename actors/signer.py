"""The signer actor: holds the key, owns the nonce, signs venue actions. No network I/O.

Accepts: SignOrders, SignCancels, SignModifies (from the order tracker); ScheduleCancel,
  SendCredit and InvalidateNonce (from execution); its own FlushBatch.
Emits: SignedAction to execution; SignerBacklog to execution (credit) and the risk gate
  (back-pressure) — when it starts, when work is left waiting for credit, when that backlog has
  drained — and, when it starts, to the tracker (which sends again the cancels a crashed
  predecessor may have held); RequestFailed (definitive: nothing was
  sent) to the tracker for requests that cannot be turned into an action or could no longer
  expire in time.
Peers: `SignerPeers` — the paths of execution, the tracker and the gate (none: no backlog
  reports for back-pressure), resolved to stable handles at start.
Pacing: requests wait unsigned until execution grants credit (one credit = one action of weight
  1, at most 39 orders or cancels); a flush signs what the credit pays for, coalescing what
  waits, so under load actions grow instead of queues, and every action is signed just before
  it is sent (fresh nonce, expiry counted from then). See actors/signing/core.py.
Batching: each request is added to the core; if more requests are already queued, the actor
  tells itself FlushBatch, so everything in the mailbox by then leaves as one action; if none
  is queued it signs at once (a lone order does not wait for a batch) — while the eager share
  allows; beyond it a partial action lingers until full or ``linger_s`` old, and the actor
  tells itself FlushBatch for that moment.
Fails: a crash loses the unsigned work — those orders are tracked (PENDING_CREATE) and the
  tracker resolves them (expiry + venue status) — and the credit it held (a new incarnation
  starts with none and says so). It never reuses a nonce, except on purpose in the noop that
  invalidates an unknown request: the nonce ceiling is persisted before it is used and a
  restarted signer starts above it. The key is never logged, never in a message, never in a
  repr.
"""

from __future__ import annotations

import logging
from pathlib import Path

import attrs

from actors import paths
from actors.signing.config import SignerConfig
from actors.signing.core import SignerCore
from actors.signing.nonce import NonceSource, NonceStore
from messages.execution import SignedAction
from messages.gate import SignerBacklog
from messages.signing import (
    FlushBatch,
    InvalidateNonce,
    ScheduleCancel,
    SendCredit,
    SignCancels,
    SignModifies,
    SignOrders,
)
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
    config: SignerConfig = attrs.field(factory=SignerConfig)
    ip_weight_per_minute: float = 1200.0
    """The IP budget the eager share is a share of (execution's pacing)."""


@attrs.frozen(kw_only=True)
class SignerPeers:
    """Paths of the actors the signer talks to (resolved to stable handles at start)."""

    execution: str = paths.EXECUTION
    """Receives the signed actions and the backlog (its credit)."""
    tracker: str = paths.ORDER_TRACKER
    """Receives RequestFailed for requests that could not be signed."""
    gate: str | None = paths.RISK_GATE
    """Told the backlog too, for back-pressure (None: no gate in this tree)."""


class Signer(SupervisedActor):
    def __init__(self, ctx: ChildContext, *, settings: SignerSettings,
                 peers: SignerPeers = SignerPeers()) -> None:
        super().__init__(ctx)
        self.settings = settings
        self.peers = peers
        self.core: SignerCore | None = None
        self._execution: Handle | None = None
        self._gate: Handle | None = None
        self._tracker: Handle | None = None
        self._flush_pending = False
        self._reported_backlog = False
        self._reported_orders = -1
        """Orders waiting at the last report since the last grant (-1: none since)."""
        self._linger_at: int | None = None
        """When the flush scheduled for lingering entries is due (wall ns)."""

    def on_started(self) -> None:
        s, peers = self.settings, self.peers
        self._execution = self.ctx.lookup(peers.execution)
        self._gate = None if peers.gate is None else self.ctx.lookup(peers.gate)
        self._tracker = self.ctx.lookup(peers.tracker)
        clock = self.clock
        nonces = NonceSource(lambda: clock.time_ns() // 1_000_000,
                             NonceStore(s.nonce_path, check=self.fence.check))
        self.core = SignerCore(
            L1Signer(s.key, is_mainnet=s.is_mainnet), s.markets, nonces, clock.time_ns,
            vault_address=s.vault_address, max_batch=s.config.max_batch,
            expires_after_s=s.config.expires_after_s, credit=0,
            eager_per_minute=s.config.eager_per_minute(s.ip_weight_per_minute),
            eager_burst=s.config.eager_burst, linger_s=s.config.linger_s,
        )
        log.info("%s: signing as %s for %s (%s)", self.child_id, self.core.address,
                 s.vault_address or "its own account", "mainnet" if s.is_mainnet else "testnet")
        # A new incarnation holds no credit: execution resets its account of it and grants.
        started = self.core.backlog(started=True)
        self._execution.tell(started)
        self._tell_backlog(started)
        # The tracker sends again the cancels a crashed predecessor may have held unsigned
        # (a cancel is idempotent at the venue; without this each waited for its 10 s
        # deadline, then for a status query).
        self._tracker.tell(started)

    def handle(self, message: object) -> None:
        core = self.core
        assert core is not None
        if isinstance(message, FlushBatch):
            self._flush_pending = False
            self._flush(core)
            return
        if isinstance(message, SendCredit):
            core.grant(message.actions, reset=message.reset, headroom=message.headroom)
            self._reported_orders = -1
            if not core.pending or self._flush_pending:
                return
        elif isinstance(message, SignOrders | SignCancels | SignModifies | ScheduleCancel
                        | InvalidateNonce):
            core.add(message)
        else:
            raise TypeError(f"the signer does not handle {type(message).__name__}")
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
        now = self.clock.time_ns()
        if self._linger_at is not None and now >= self._linger_at - 1_000_000:
            self._linger_at = None  # that wake-up is this flush (or as good as)
        for result in core.flush():
            if isinstance(result, SignedAction):
                execution.tell(result)
            elif isinstance(result, RequestFailed):
                tracker.tell(result)
        until = core.linger_until_ns
        if until is not None and (self._linger_at is None or until < self._linger_at):
            # Entries wait, with credit in hand, to fill their action: flush when the oldest
            # has lingered long enough (sooner if more arrive and fill it).
            self._linger_at = until
            clock = self.clock
            self.tell_later(max(0.001, (until - now) / 1e9),
                            lambda: FlushBatch(ts_init=clock.time_ns()))
        if core.pending and not core.credit:
            # Starved: tell the gate what waits (it refuses new orders when the backlog
            # would outlive them) — once per grant, and again every 100 more waiting orders
            # (execution extrapolates the age of the oldest one in between).
            backlog = core.backlog()
            if self._reported_orders < 0 or backlog.orders >= self._reported_orders + 100:
                self._tell_backlog(backlog)
                self._reported_backlog = True
                self._reported_orders = backlog.orders
        elif self._reported_backlog and not core.pending:
            self._tell_backlog(core.backlog())
            self._reported_backlog = False

    def _tell_backlog(self, backlog: SignerBacklog) -> None:
        if self._gate is not None:
            self._gate.tell(backlog)
