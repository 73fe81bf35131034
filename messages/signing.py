"""What the signer receives: the orders, cancels and modifies to sign from the order tracker
(`SignOrders`, `SignCancels`, `SignModifies`), credit and nonce work from execution, and its own
batch flush.
"""

from __future__ import annotations

import attrs

from messages.commands import SubmitOrder
from messages.enums import RequestKind
from messages.ids import ClientOrderId, ExchangeOrderId


@attrs.frozen(kw_only=True)
class SendCredit:
    """Execution lets the signer sign ``actions`` more venue actions (execution → signer).

    The signer signs only when it holds credit, so every action is signed when the venue's
    rate budget admits it and sent at once: its nonce is fresh and its ``expiresAfter`` is
    counted from the moment it leaves, never from a wait in a queue. An action costs one credit
    (it carries at most 39 orders or cancels: weight 1, PROTOCOL §14). ``reset`` replaces the
    signer's credit instead of adding to it (a new execution incarnation does not know what its
    predecessor granted).
    """

    actions: int
    reset: bool = False
    headroom: int = 0
    """Actions the budget could pay for at once beyond this grant (its burst left): the signer
    passes it on in `SignerBacklog`, so the risk gate knows a burst of orders leaves at once."""
    ts_init: int


@attrs.frozen(kw_only=True)
class InvalidateNonce:
    """Spend the nonce of a request whose outcome is unknown on a ``noop`` (execution → signer),
    so the request can never execute later (PROTOCOL §13): the venue's answer to the noop says
    whether the request had executed ("duplicate nonce") or never will (the noop succeeded)."""

    nonce: int
    kind: RequestKind
    client_order_ids: tuple[ClientOrderId, ...]
    ts_init: int


@attrs.frozen(kw_only=True)
class ScheduleCancel:
    """Set (``time_ms``) or clear (``None``) the venue's dead-man switch (execution → signer)."""

    time_ms: int | None
    ts_init: int


@attrs.frozen(kw_only=True)
class FlushBatch:
    """The signer's note to itself: everything queued before this is one batch."""

    ts_init: int


@attrs.frozen(kw_only=True)
class CancelTarget:
    """What the signer needs to cancel one order."""

    client_order_id: ClientOrderId
    trading_pair: str
    exchange_order_id: ExchangeOrderId | None
    by_exchange_id: bool
    """Cancel by ``exchange_order_id`` (external orders without our cloid)."""


@attrs.frozen(kw_only=True)
class SignCancels:
    """Tracker → signer: cancel these orders (one batched action)."""

    targets: tuple[CancelTarget, ...]
    ts_init: int


@attrs.frozen(kw_only=True)
class SignOrders:
    """Tracker → signer: place these tracked orders (one batched action).

    ``expires_after_ms`` is an upper bound: the action must expire no later than this venue
    time. The signer signs when the rate budget admits the request, with ``expiresAfter`` =
    min(sign time + its window, this bound), and reports the exact value in `RequestSent` (or
    refuses with a definitive `RequestFailed` when the bound is too close). Once the bound has
    passed, "the venue does not know this cloid" proves the order was never placed, whether or
    not the tracker heard the exact value.
    """

    orders: tuple[SubmitOrder, ...]
    expires_after_ms: int | None
    ts_init: int


@attrs.frozen(kw_only=True)
class ModifyTarget:
    client_order_id: ClientOrderId
    exchange_order_id: ExchangeOrderId | None
    order: SubmitOrder
    """The replacement the venue places (modify is cancel-and-replace): the new price, and as
    ``amount`` the replacement's own size — the order's new total minus what has filled."""


@attrs.frozen(kw_only=True)
class SignModifies:
    targets: tuple[ModifyTarget, ...]
    ts_init: int
    expires_after_ms: int | None = None
    """Upper bound for the action's ``expiresAfter`` (as in `SignOrders`): once the venue's
    clock is past it, a modify that has not executed never will."""
