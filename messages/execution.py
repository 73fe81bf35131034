"""Messages between the signer, execution and the network threads execution owns."""

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
class SignerBacklog:
    """What waits in the signer for credit (signer → execution): drives back-pressure at the
    gate. Sent by a new signer incarnation (``started``: it holds no credit), when work is left
    waiting after a flush, and when the backlog has drained."""

    orders: int
    cancels: int
    modifies: int
    oldest_age_ns: int
    """How long the oldest waiting order has waited (0 when none waits)."""
    credit: int
    started: bool = False
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
class ResponseReceived:
    """A network thread's answer to a request execution sent (network thread → execution).

    ``status`` is the HTTP status (0 when the request failed before an answer: ``error`` says
    why); for WS ``post`` answers it is 200 and ``body`` is the post response payload.
    """

    request_id: int
    transport: str
    status: int
    body: bytes
    error: str
    written: bool
    """Whether the request's bytes were written before the failure (if written, it may have
    executed; if not, the venue certainly never saw it)."""
    ts_init: int


@attrs.frozen(kw_only=True)
class RequestExpired:
    """Execution's own deadline for a request passed with no answer (timer → execution)."""

    request_id: int
    ts_init: int


@attrs.frozen(kw_only=True)
class ConnectionStateChanged:
    """A network thread's connection opened or closed (network thread → its actor)."""

    connection: str
    connected: bool
    reason: str
    ts_init: int


@attrs.frozen(kw_only=True)
class FrameReceived:
    """One raw WebSocket frame (reader thread → stream actor); parsed in the actor."""

    connection: str
    connection_id: int
    data: bytes
    ts_init: int


@attrs.frozen(kw_only=True)
class FrameHandlingFailed:
    """A stream's reader thread failed to handle a frame it handles itself (a bug): the stream
    actor raises it, so the incarnation crashes and is restarted like any failed handler."""

    connection: str
    error: str
    ts_init: int


@attrs.frozen(kw_only=True)
class SetTradingState:
    """Operator or risk switch: ``halted`` refuses new orders (cancels still go through)."""

    halted: bool
    reason: str
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
class FlushBatch:
    """The signer's note to itself: everything queued before this is one batch."""

    ts_init: int


@attrs.frozen(kw_only=True)
class Reconnect:
    """Timer tick: try to (re)open a connection (back-off comes from a supervision policy)."""

    connection: str
    attempt: int
    ts_init: int


@attrs.frozen(kw_only=True)
class SendPing:
    """Timer tick: keep a connection alive before the venue's idle timeout."""

    connection: str
    ts_init: int


@attrs.frozen(kw_only=True)
class SendAccountState:
    """Ask execution, without blocking, to tell ``reply_to`` (a tree path) the account's state
    (positions, margin) as the venue reports it (an `AccountStateReported`)."""

    reply_to: str
