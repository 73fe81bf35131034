"""`SignerCore`: turns sign requests into signed venue requests, batching what arrives together.

The actor adds every request it receives, then flushes once its mailbox has moved past them
(a flush message it sends itself), so orders that arrive together leave as one action. Orders
go in batches of at most ``max_batch``; post-only (ALO) orders are batched apart because the
venue prioritises ALO-only batches. Anything that cannot be turned into an action becomes a
definitive `RequestFailed` for the tracker — it was never sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from actors.signing.nonce import NonceSource
from messages.commands import SubmitOrder
from messages.enums import RequestKind
from messages.execution import ScheduleCancel, SignedAction
from messages.ids import ClientOrderId
from messages.tracking import CancelTarget, ModifyTarget, SignCancels, SignModifies, SignOrders
from messages.venue import RequestFailed
from venues.hyperliquid import actions, wire
from venues.hyperliquid.markets import MarketRegistry
from venues.hyperliquid.signing import L1Signer

log = logging.getLogger(__name__)


class SignerCore:
    def __init__(
        self,
        signer: L1Signer,
        markets: MarketRegistry,
        nonces: NonceSource,
        now_ns: Callable[[], int],
        *,
        vault_address: str | None = None,
        max_batch: int = 40,
        expires_after_s: float | None = None,
    ) -> None:
        self._signer = signer
        self._markets = markets
        self._nonces = nonces
        self._now_ns = now_ns
        self._vault = None if vault_address is None else wire.check_address(vault_address)
        self._max_batch = max_batch
        self._default_expiry_ms = None if expires_after_s is None else int(expires_after_s * 1000)
        self._orders: list[tuple[SubmitOrder, int | None]] = []
        self._cancels: list[CancelTarget] = []
        self._modifies: list[ModifyTarget] = []
        self._schedule: list[ScheduleCancel] = []

    @property
    def address(self) -> str:
        return self._signer.address

    @property
    def pending(self) -> int:
        return len(self._orders) + len(self._cancels) + len(self._modifies) + len(self._schedule)

    def add(self, message: SignOrders | SignCancels | SignModifies | ScheduleCancel) -> None:
        if isinstance(message, SignOrders):
            self._orders.extend((o, message.expires_after_ms) for o in message.orders)
        elif isinstance(message, SignCancels):
            self._cancels.extend(message.targets)
        elif isinstance(message, SignModifies):
            self._modifies.extend(message.targets)
        else:
            self._schedule.append(message)

    def flush(self) -> list[SignedAction | RequestFailed]:
        """Sign everything added so far. Cancels go first: they free margin and stop risk."""
        orders = self._orders
        if len(orders) == 1 and not (self._cancels or self._modifies or self._schedule):
            # The lone order of a quiet market: nothing to sort or batch.
            self._orders = []
            return [self._sign_orders(orders)]
        out: list[SignedAction | RequestFailed] = []
        cancels, self._cancels = self._cancels, []
        buildable: list[CancelTarget] = []
        for target in cancels:
            # One unbuildable target (a coin listed after start-up…) must not block the others.
            error = actions.cancel_target_error(target, self._markets)
            if error is None:
                buildable.append(target)
            else:
                out.append(self._failed(RequestKind.CANCEL, [target], error))
        for chunk in _chunks(buildable, self._max_batch):
            for action, targets in actions.cancel_actions(chunk, self._markets):
                out.append(self._sign(RequestKind.CANCEL, action,
                                      tuple(t.client_order_id for t in targets), None))
        modifies, self._modifies = self._modifies, []
        for mchunk in _chunks(modifies, self._max_batch):
            try:
                action = actions.modify_action(mchunk, self._markets)
            except ValueError as exc:
                out.append(self._failed(RequestKind.MODIFY, mchunk, str(exc)))
                continue
            out.append(self._sign(RequestKind.MODIFY, action,
                                  tuple(t.client_order_id for t in mchunk), None))
        orders, self._orders = self._orders, []
        post_only = [o for o in orders if actions.is_post_only(o[0])]
        others = [o for o in orders if not actions.is_post_only(o[0])]
        for group in (others, post_only):
            for ochunk in _chunks(group, self._max_batch):
                out.append(self._sign_orders(ochunk))
        schedules, self._schedule = self._schedule, []
        if schedules:
            latest = schedules[-1]  # only the last instruction matters
            out.append(self._sign(RequestKind.SCHEDULE_CANCEL,
                                  wire.schedule_cancel_action(latest.time_ms), (), None))
        return out

    def _sign_orders(self, chunk: Sequence[tuple[SubmitOrder, int | None]]) -> (
        SignedAction | RequestFailed
    ):
        cloids = tuple(o.client_order_id for o, _ in chunk)
        try:
            action = actions.place_action([o for o, _ in chunk], self._markets)
        except ValueError as exc:
            return RequestFailed(kind=RequestKind.SUBMIT, client_order_ids=cloids,
                                 reason=f"could not build the order action: {exc}",
                                 definitive=True, ts_init=self._now_ns())
        expiries = [e for _, e in chunk if e is not None]
        expires = min(expiries) if expiries else None
        return self._sign(RequestKind.SUBMIT, action, cloids, expires)

    def _sign(
        self, kind: RequestKind, action: dict[str, Any], cloids: tuple[ClientOrderId, ...],
        expires_after_ms: int | None,
    ) -> SignedAction:
        nonce = self._nonces.next()
        if expires_after_ms is None and self._default_expiry_ms is not None:
            expires_after_ms = nonce + self._default_expiry_ms
        signature = self._signer.sign_action(action, nonce, self._vault, expires_after_ms)
        body = orjson.dumps(wire.exchange_request(
            action, nonce, signature, vault_address=self._vault, expires_after=expires_after_ms,
        ))
        return SignedAction(
            request_id=nonce, kind=kind, client_order_ids=cloids, body=body, nonce=nonce,
            expires_after_ms=expires_after_ms, weight=max(1, len(cloids)),
            ts_init=self._now_ns(),
        )

    def _failed(
        self, kind: RequestKind, targets: Sequence[CancelTarget] | Sequence[ModifyTarget],
        reason: str,
    ) -> RequestFailed:
        return RequestFailed(kind=kind,
                             client_order_ids=tuple(t.client_order_id for t in targets),
                             reason=f"could not build the action: {reason}", definitive=True,
                             ts_init=self._now_ns())


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
