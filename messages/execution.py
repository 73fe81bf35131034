"""What execution receives: signed requests (signer), the account-state query, and its own
timers. Its network threads' answers are `messages.connection`; the signer's backlog report,
which execution also gets when a signer starts, is `messages.gate`."""

from __future__ import annotations

import attrs

from messages.enums import RequestKind
from messages.ids import ClientOrderId


@attrs.frozen(kw_only=True)
class SignedAction:
    """A signed venue request, ready to send (signer → execution).

    ``body`` is the exact request body (JSON bytes) — signatures are in it, keys never are.
    ``client_order_ids`` are in the order of the action's entries, so positional answers map
    back to orders. ``weight`` is how many orders/cancels it carries (rate-limit accounting).
    """

    request_id: int
    kind: RequestKind
    client_order_ids: tuple[ClientOrderId, ...]
    body: bytes
    nonce: int
    expires_after_ms: int | None
    weight: int
    ts_init: int
    invalidates: RequestKind | None = None
    """For an INVALIDATE action (a ``noop`` reusing ``nonce``): the kind of the request whose
    nonce it spends; ``client_order_ids`` are that request's orders."""


@attrs.frozen(kw_only=True)
class RequestExpired:
    """Execution's own deadline for a request passed with no answer (timer → execution)."""

    request_id: int
    ts_init: int


@attrs.frozen(kw_only=True)
class RenewDeadman:
    """Timer tick: renew the venue's dead-man switch while the runtime is healthy."""

    ts_init: int


@attrs.frozen(kw_only=True)
class DrainQueue:
    """Timer tick: send requests held back by the request-weight budget."""

    ts_init: int


@attrs.frozen(kw_only=True)
class RefreshRateLimit:
    """Timer tick: re-read the address's request budget (trading volume raises it)."""

    ts_init: int


@attrs.frozen(kw_only=True)
class SendAccountState:
    """Ask execution, without blocking, to tell ``reply_to`` (a tree path) the account's state
    (positions, margin) as the venue reports it (an `AccountStateReported`)."""

    reply_to: str
