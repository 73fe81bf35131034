"""`SignerCore`: turns sign requests into signed venue requests when the rate budget admits them.

Requests wait here, unsigned, until execution grants credit (`SendCredit`): one credit is one
action of weight 1 (at most ``max_batch`` = 39 orders or cancels, PROTOCOL §14). A flush signs
as many actions as the credit pays for, coalescing everything that waits: under load the
actions grow instead of the queue, and every action is signed just before it is sent, so its
nonce is the newest and its ``expiresAfter`` counts from the moment it leaves. (Signing first
and queueing the signed bytes let nonces fall out of the venue's window and expiries pass while
requests waited — the load cliff of issue 10.)

Coalescing under sustained load: an action that is not full (fewer than ``max_batch`` entries of
its kind) is signed only on a token of the *eager* budget (``eager_per_minute``, a burst of
``eager_burst``); without one it waits for the next token, for its action to fill, or until its
oldest entry has waited ``linger_s`` (a bound, rarely reached), whichever comes first. A quiet
market's orders leave at once (the burst); under sustained load partial actions spend the eager
rate and no more, so the actions carry many entries instead of spending the whole budget on
small ones (the IP budget is shared with queries, other processes on the IP and the next
burst): at 100 entries a second and 4 tokens a second, 25 entries per unit of weight.

Priority when credit is short: nonce invalidations (they resolve unknown outcomes), the dead-man
switch, then cancels, modifies and new orders by age — the oldest waiting entry goes first,
cancels with a head start (they free margin and stop risk, but a stream of cancels must not
starve new orders); post-only (ALO) orders are batched apart because the venue prioritises
ALO-only batches.
An order is signed with ``expiresAfter = min(now + expiry window, its bound)`` where the bound
comes from the tracker (`SignOrders.expires_after_ms`); an order whose bound is too close to
sign is refused with a definitive `RequestFailed` (it was never sent). Anything that cannot be
turned into an action becomes a definitive `RequestFailed` too.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import orjson

from actors.signing.config import MAX_WEIGHT_ONE_BATCH
from actors.signing.nonce import NonceSource
from messages.commands import SubmitOrder
from messages.enums import RequestKind
from messages.execution import SignedAction
from messages.gate import SignerBacklog
from messages.ids import ClientOrderId
from messages.signing import (
    CancelTarget,
    InvalidateNonce,
    ModifyTarget,
    ScheduleCancel,
    SignCancels,
    SignModifies,
    SignOrders,
)
from messages.venue import RequestFailed
from venues.hyperliquid import actions, wire
from venues.hyperliquid.markets import MarketRegistry
from venues.hyperliquid.ratelimit import WeightBudget
from venues.hyperliquid.signing import L1Signer

log = logging.getLogger(__name__)


INVALIDATION_ID_BASE = 1 << 62
"""Request ids of invalidating noops: their nonce plus this (an action's own id is its nonce)."""

SignRequest = SignOrders | SignCancels | SignModifies | ScheduleCancel | InvalidateNonce
Output = SignedAction | RequestFailed


@attrs.define
class _Waiting:
    order: SubmitOrder
    bound_ms: int | None
    """The latest ``expiresAfter`` the tracker allows (None: no bound)."""
    added_ns: int


class SignerCore:
    def __init__(
        self,
        signer: L1Signer,
        markets: MarketRegistry,
        nonces: NonceSource,
        now_ns: Callable[[], int],
        *,
        vault_address: str | None = None,
        max_batch: int = MAX_WEIGHT_ONE_BATCH,
        expires_after_s: float | None = None,
        min_expiry_margin_s: float | None = 1.0,
        credit: int | None = None,
        cancel_head_start_s: float = 0.5,
        eager_per_minute: float | None = None,
        eager_burst: int = 60,
        linger_s: float = 0.1,
    ) -> None:
        if not 1 <= max_batch <= MAX_WEIGHT_ONE_BATCH:
            raise ValueError(f"max_batch must be in 1..{MAX_WEIGHT_ONE_BATCH}, got {max_batch}")
        self._signer = signer
        self._markets = markets
        self._nonces = nonces
        self._now_ns = now_ns
        self._vault = None if vault_address is None else wire.check_address(vault_address)
        self._max_batch = max_batch
        self._window_ms = None if expires_after_s is None else int(expires_after_s * 1000)
        self._margin_ms = None if min_expiry_margin_s is None else int(min_expiry_margin_s * 1000)
        """Orders whose bound leaves less than this are refused; None signs whatever it is
        given (tools that test the venue's own expiry check)."""
        self.credit = credit
        """Actions this core may still sign; None = unlimited (tests, tools)."""
        self.headroom = 0
        """What execution's budget could pay for at once beyond the credit (its last word)."""
        self._cancel_head_start_ns = int(cancel_head_start_s * 1e9)
        self._eager: WeightBudget | None = None
        """Partial actions signed at once (None: all of them, no coalescing delay)."""
        if eager_per_minute is not None:
            self._eager = WeightBudget(now_ns(), eager_per_minute, capacity=eager_burst)
            # An incarnation starts with a second's worth, not the whole burst: a signer that
            # crashes every few seconds must not spend a burst of small actions each time.
            self._eager.tokens = min(self._eager.capacity, max(1.0, eager_per_minute / 60))
        self._linger_ns = int(linger_s * 1e9)
        self.linger_until_ns: int | None = None
        """Set by a flush that left entries lingering with credit in hand: flush again then."""
        self._orders: deque[_Waiting] = deque()
        self._cancels: list[tuple[CancelTarget, int]] = []
        self._modifies: list[tuple[ModifyTarget, int, int | None]] = []
        """(target, added ns, the tracker's bound for its expiresAfter)."""
        self._schedule: list[ScheduleCancel] = []
        self._invalidations: list[InvalidateNonce] = []

    @property
    def address(self) -> str:
        return self._signer.address

    @property
    def pending(self) -> int:
        return (len(self._orders) + len(self._cancels) + len(self._modifies) + len(self._schedule)
                + len(self._invalidations))

    def add(self, message: SignRequest) -> None:
        if isinstance(message, SignOrders):
            now = self._now_ns()
            bound = message.expires_after_ms
            self._orders.extend(_Waiting(o, bound, now) for o in message.orders)
        elif isinstance(message, SignCancels):
            now = self._now_ns()
            # One cancel per order in the queue: the tracker sends again the cancels a crashed
            # predecessor may have held, and those still in the mailbox arrive here too.
            waiting = {t.client_order_id for t, _ in self._cancels}
            for target in message.targets:
                if target.client_order_id not in waiting:
                    waiting.add(target.client_order_id)
                    self._cancels.append((target, now))
        elif isinstance(message, SignModifies):
            now = self._now_ns()
            self._modifies.extend((t, now, message.expires_after_ms) for t in message.targets)
        elif isinstance(message, InvalidateNonce):
            self._invalidations.append(message)
        else:
            self._schedule.append(message)

    def grant(self, actions_: int, *, reset: bool = False, headroom: int = 0) -> None:
        self.headroom = headroom
        if reset or self.credit is None:
            self.credit = max(0, actions_)
        else:
            self.credit += actions_

    def backlog(self, *, started: bool = False) -> SignerBacklog:
        now = self._now_ns()
        oldest = now - self._orders[0].added_ns if self._orders else 0
        return SignerBacklog(orders=len(self._orders), cancels=len(self._cancels),
                             modifies=len(self._modifies), oldest_age_ns=oldest,
                             credit=self.credit or 0, headroom=self.headroom, started=started,
                             ts_init=now)

    # --- flushing --------------------------------------------------------------------------
    def _can_sign(self) -> bool:
        return self.credit is None or self.credit > 0

    def _spend(self) -> None:
        if self.credit is not None:
            self.credit -= 1

    def flush(self) -> list[Output]:
        """Sign what the credit pays for, one action at a time, most urgent first; the rest
        keeps waiting."""
        out: list[Output] = []
        self.linger_until_ns = None
        if (len(self._orders) == 1 and self._can_sign() and not (
                self._cancels or self._modifies or self._schedule or self._invalidations)
                and (self._eager is None or self._eager.try_take(1, self._now_ns()))):
            # The lone order of a quiet market: nothing to sort or batch.
            self._sign_orders([self._orders.popleft()], out)
            return out
        self._drop_unbuildable_cancels(out)
        while self._can_sign():
            if self._invalidations:
                self._spend()
                out.append(self._sign_noop(self._invalidations.pop(0)))
            elif self._schedule:
                latest = self._schedule[-1]  # only the last instruction matters
                self._schedule = []
                self._spend()
                out.append(self._sign(RequestKind.SCHEDULE_CANCEL,
                                      wire.schedule_cancel_action(latest.time_ms), (), None))
            else:
                kind = self._next_kind()
                if kind is None:
                    break
                if kind is RequestKind.CANCEL:
                    self._sign_cancels(out)
                elif kind is RequestKind.MODIFY:
                    self._sign_modifies(out)
                else:
                    self._sign_order_chunk(out)
        return out

    def _next_kind(self) -> RequestKind | None:
        """Cancels, modifies and orders share the credit by age (oldest first), cancels with a
        head start: they free margin and stop risk, but must not starve new orders. A kind
        whose action would not be full goes only on an eager token, or once it has lingered."""
        heads: list[tuple[int, RequestKind, int, int]] = []
        """(priority time, kind, entries waiting, oldest added)."""
        if self._cancels:
            added = self._cancels[0][1]
            heads.append((added - self._cancel_head_start_ns, RequestKind.CANCEL,
                          len(self._cancels), added))
        if self._modifies:
            added = self._modifies[0][1]
            heads.append((added, RequestKind.MODIFY, len(self._modifies), added))
        if self._orders:
            added = self._orders[0].added_ns
            heads.append((added, RequestKind.SUBMIT, len(self._orders), added))
        if not heads:
            return None
        heads.sort(key=lambda h: h[0])
        if self._eager is None:
            return heads[0][1]
        now = self._now_ns()
        for _, kind, waiting, added in heads:
            if waiting >= self._max_batch or now - added >= self._linger_ns:
                return kind
        if self._eager.try_take(1, now):
            # An eager token goes to the kind that has waited longest, head start aside: under
            # sustained load the kinds take turns, so neither waits for its linger time.
            return min(heads, key=lambda h: h[3])[1]
        token_ns = now + int(self._eager.wait_s(1, now) * 1e9)
        self.linger_until_ns = min(min(h[3] for h in heads) + self._linger_ns, token_ns)
        return None

    def _drop_unbuildable_cancels(self, out: list[Output]) -> None:
        # One unbuildable target (a coin listed after start-up…) must not block the others.
        kept: list[tuple[CancelTarget, int]] = []
        for target, added in self._cancels:
            error = actions.cancel_target_error(target, self._markets)
            if error is None:
                kept.append((target, added))
            else:
                out.append(self._failed(RequestKind.CANCEL, [target], error))
        self._cancels = kept

    def _sign_cancels(self, out: list[Output]) -> None:
        # By-cloid (ours) and by-oid (external) cancels are different actions: one action takes
        # up to a batch of the oldest cancel's kind, so every action costs exactly one credit.
        by_oid = self._cancels[0][0].by_exchange_id
        chunk: list[CancelTarget] = []
        kept: list[tuple[CancelTarget, int]] = []
        for target, added in self._cancels:
            if len(chunk) < self._max_batch and target.by_exchange_id is by_oid:
                chunk.append(target)
            else:
                kept.append((target, added))
        self._cancels = kept
        ((action, targets),) = actions.cancel_actions(chunk, self._markets)
        self._spend()
        out.append(self._sign(RequestKind.CANCEL, action,
                              tuple(t.client_order_id for t in targets), None))

    def _sign_modifies(self, out: list[Output]) -> None:
        waiting, self._modifies = (self._modifies[:self._max_batch],
                                   self._modifies[self._max_batch:])
        now_ms = self._now_ns() // 1_000_000
        chunk: list[ModifyTarget] = []
        late: list[ModifyTarget] = []
        bounds: list[int] = []
        for target, _added, bound in waiting:
            if (bound is not None and self._margin_ms is not None
                    and bound - now_ms < self._margin_ms):
                late.append(target)
                continue
            chunk.append(target)
            if bound is not None:
                bounds.append(bound)
        if late:
            out.append(self._failed(RequestKind.MODIFY, late,
                                    "not sent: it could no longer expire in time"))
        if not chunk:
            return
        try:
            action = actions.modify_action(chunk, self._markets)
        except ValueError as exc:
            out.append(self._failed(RequestKind.MODIFY, chunk, str(exc)))
            return
        # Like an order's: counted from now, never past the tracker's bound, so "the venue
        # still shows the old leg after expiry" proves the modify never executed.
        expires: int | None = min(bounds) if bounds else None
        if self._window_ms is not None:
            window = now_ms + self._window_ms
            expires = window if expires is None else min(expires, window)
        self._spend()
        out.append(self._sign(RequestKind.MODIFY, action,
                              tuple(t.client_order_id for t in chunk), expires))

    def _sign_order_chunk(self, out: list[Output]) -> None:
        # The oldest waiting order decides which group goes next (arrival order); post-only
        # orders are batched apart.
        post_only = actions.is_post_only(self._orders[0].order)
        chunk: list[_Waiting] = []
        kept: deque[_Waiting] = deque()
        for waiting in self._orders:
            if len(chunk) < self._max_batch and actions.is_post_only(
                    waiting.order) is post_only:
                chunk.append(waiting)
            else:
                kept.append(waiting)
        self._orders = kept
        self._sign_orders(chunk, out)

    def _sign_orders(self, chunk: Sequence[_Waiting], out: list[Output]) -> None:
        now_ms = self._now_ns() // 1_000_000
        live: list[_Waiting] = []
        late: list[_Waiting] = []
        for waiting in chunk:
            bound = waiting.bound_ms
            too_close = (bound is not None and self._margin_ms is not None
                         and bound - now_ms < self._margin_ms)
            (late if too_close else live).append(waiting)
        if late:
            waited = (self._now_ns() - min(w.added_ns for w in late)) / 1e9
            out.append(RequestFailed(
                kind=RequestKind.SUBMIT, client_order_ids=tuple(w.order.client_order_id
                                                                for w in late),
                reason=f"not sent: waited {waited:.1f}s for the venue's rate budget and could "
                       "no longer expire in time", definitive=True, ts_init=self._now_ns()))
        if not live:
            return
        cloids = tuple(w.order.client_order_id for w in live)
        try:
            action = actions.place_action([w.order for w in live], self._markets)
        except ValueError as exc:
            out.append(RequestFailed(kind=RequestKind.SUBMIT, client_order_ids=cloids,
                                     reason=f"could not build the order action: {exc}",
                                     definitive=True, ts_init=self._now_ns()))
            return
        bounds = [w.bound_ms for w in live if w.bound_ms is not None]
        expires: int | None = min(bounds) if bounds else None
        if self._window_ms is not None:
            window = now_ms + self._window_ms
            expires = window if expires is None else min(expires, window)
        self._spend()
        out.append(self._sign(RequestKind.SUBMIT, action, cloids, expires))

    def _sign(
        self, kind: RequestKind, action: dict[str, Any], cloids: tuple[ClientOrderId, ...],
        expires_after_ms: int | None,
    ) -> SignedAction:
        nonce = self._nonces.next()
        if expires_after_ms is None and self._window_ms is not None:
            expires_after_ms = nonce + self._window_ms
        signature = self._signer.sign_action(action, nonce, self._vault, expires_after_ms)
        body = orjson.dumps(wire.exchange_request(
            action, nonce, signature, vault_address=self._vault, expires_after=expires_after_ms,
        ))
        return SignedAction(
            request_id=nonce, kind=kind, client_order_ids=cloids, body=body, nonce=nonce,
            expires_after_ms=expires_after_ms, weight=max(1, len(cloids)),
            ts_init=self._now_ns(),
        )

    def _sign_noop(self, request: InvalidateNonce) -> SignedAction:
        """A ``noop`` with the unknown request's own nonce: if it lands, that request can never
        execute; if the venue says "duplicate nonce", the request had executed."""
        action = wire.noop_action()
        nonce = request.nonce
        signature = self._signer.sign_action(action, nonce, self._vault, None)
        body = orjson.dumps(wire.exchange_request(action, nonce, signature,
                                                  vault_address=self._vault, expires_after=None))
        # The request id must differ from the original request's (which is its nonce) and stay
        # an unsigned integer (it is the WS post id).
        return SignedAction(
            request_id=INVALIDATION_ID_BASE + nonce, kind=RequestKind.INVALIDATE,
            client_order_ids=request.client_order_ids, body=body, nonce=nonce,
            expires_after_ms=None, weight=1, ts_init=self._now_ns(), invalidates=request.kind,
        )

    def _failed(
        self, kind: RequestKind, targets: Sequence[CancelTarget] | Sequence[ModifyTarget],
        reason: str,
    ) -> RequestFailed:
        return RequestFailed(kind=kind,
                             client_order_ids=tuple(t.client_order_id for t in targets),
                             reason=f"could not build the action: {reason}", definitive=True,
                             ts_init=self._now_ns())
