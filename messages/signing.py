"""What the signer receives: credit and nonce work from execution, and its own batch flush.

The signer's orders themselves come from the order tracker (`messages.tracking`).
"""

from __future__ import annotations

import attrs

from messages.enums import RequestKind
from messages.ids import ClientOrderId


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
