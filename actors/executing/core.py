"""`ExecutionCore`: strategy commands in, venue requests out, venue answers back as evidence.

* Commands never come here: strategies' commands pass the risk gate (`actors.gating`), then
  the tracker, which asks the signer; execution sends what the signer signed.
* Pacing (`actors.executing.pacing`): the signer signs only with credit execution grants from
  the venue's IP weight budget, so a signed action is sent the moment it arrives here — its
  nonce fresh, its expiry counted from then. When the budget is spent the signer coalesces what
  waits (and tells the gate, which refuses new orders when that backlog would outlive them).
* Signed requests are sent over the WS ``post`` channel when it is up (and under the venue's
  in-flight cap), else over HTTP; the tracker hears `RequestSent` when the bytes leave.
* Answers are parsed into tracker evidence. A request that got no answer in time, or a 5xx, is
  reported as a non-definitive `RequestFailed` (the tracker reconciles) and its nonce is spent
  on a ``noop`` (`InvalidateNonce`): the venue's answer to the noop proves within one round trip
  whether the request executed or never will (`NonceInvalidated`), instead of waiting for its
  expiry. A 429 is not a failure: the same bytes are sent again once the budget allows (the
  venue did nothing and the nonce is unused), unless the action would expire first. When the WS
  channel drops, requests in flight on it are resent over HTTP byte for byte — safe, because
  the venue refuses a reused nonce, and a "duplicate nonce" answer to a resend is read as
  "outcome unknown", not failure.
* Reconciliation requests from the tracker become ``/info`` queries whose answers come back as
  evidence.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import attrs
import orjson

from actors.executing.pacing import Pacer, PacingConfig
from messages.account import RateLimitReported
from messages.connection import ConnectionStateChanged, ResponseReceived
from messages.enums import RequestKind
from messages.execution import (
    DrainQueue,
    RefreshRateLimit,
    RenewDeadman,
    RequestExpired,
    SignedAction,
)
from messages.gate import SignerBacklog
from messages.ids import ClientOrderId
from messages.signing import InvalidateNonce, ScheduleCancel, SendCredit
from messages.tracking import (
    FillsQuery,
    ReconcileRequested,
    RequestSent,
)
from messages.venue import NonceInvalidated, RequestFailed
from venues.hyperliquid import payloads, requests
from venues.hyperliquid.payloads import CoinMapper, PayloadError
from venues.hyperliquid.payloads.exchange import DefaultResponse, ExchangeError

log = logging.getLogger(__name__)

_COALESCED = ("openOrders", "userFillsByTime", "userRateLimit")
"""Bulk queries of which one waiting copy is enough (none has a requester to answer)."""
_ACTION_KINDS = (RequestKind.SUBMIT, RequestKind.CANCEL, RequestKind.MODIFY,
                 RequestKind.CANCEL_ALL)
_SIGNED_KINDS = (*_ACTION_KINDS, RequestKind.SCHEDULE_CANCEL, RequestKind.INVALIDATE)
DUPLICATE_NONCE = "duplicate nonce"
NONCE_TOO_LOW = "nonce too low"


@attrs.frozen(kw_only=True)
class ExecutionConfig:
    """Execution's configuration (the runtime's ``[execution]`` section is this class, and
    ``[execution.pacing]`` its `PacingConfig`)."""

    use_ws_post: bool = True
    """Send over the WS ``post`` channel while it is up (HTTP otherwise)."""
    request_timeout_s: float = 10.0
    deadman_s: float | None = None
    """Keep a dead-man switch this far in the future (None: off; the venue needs >= 5 s)."""
    deadman_renew_s: float = 15.0
    pacing: PacingConfig = attrs.field(factory=PacingConfig)
    invalidate_unknown: bool = True
    """Spend the nonce of a request whose outcome is unknown on a noop (see the module doc)."""
    invalidate_attempts: int = 6
    """Sends of one invalidating noop before giving up (its request's expiry then decides)."""
    invalidate_pause_s: float = 0.25
    """Pause before the n-th resend of an unanswered noop: n times this."""
    retry_margin_s: float = 1.0
    """A request refused with 429 is sent again only if it still has this long to live."""
    rate_limit_refresh_s: float = 60.0
    """How often the address budget (userRateLimit) is re-read; trading volume raises it."""


@attrs.define
class Ports:
    """Where execution's outputs go (the actor wires handles and transports in)."""

    tracker: Callable[[object], None]
    signer: Callable[[object], None]
    events: Callable[[object], None]
    http: Callable[[int, str, bytes], None]
    ws: Callable[[int, str, bytes], bool]
    ws_connected: Callable[[], bool]
    later: Callable[[float, object], None]
    reply: Callable[[str, object], None] = lambda path, message: None
    """Tell the child at ``path`` (answers to Send* requests)."""


@attrs.define
class _InFlight:
    request_id: int
    kind: RequestKind
    cloids: tuple[ClientOrderId, ...]
    path: str
    body: bytes
    transport: str
    sent_ns: int
    info_type: str | None = None
    context: ClientOrderId | None = None
    resent: bool = False
    nonce: int = 0
    expires_after_ms: int | None = None
    reply_to: str | None = None
    invalidates: RequestKind | None = None
    attempts: int = 0
    fills_query: FillsQuery | None = None


class ExecutionCore:
    def __init__(
        self, config: ExecutionConfig, ports: Ports,
        now_ns: Callable[[], int], coins: CoinMapper | None = None,
        monotonic_ns: Callable[[], int] | None = None, *, account: str,
    ) -> None:
        self.config = config
        self.account = account
        """The account whose orders these are (the master address in agent-wallet mode, the
        vault when trading for one): what queries ask about."""
        self.ports = ports
        self._now_ns = now_ns
        """Wall time: events' ts_init, expiries (the venue's clock is wall time)."""
        self._mono = monotonic_ns or now_ns
        """Monotonic time: budgets, pauses and wake-ups (a wall clock that steps back would
        stall refills and latch a wake-up)."""
        self.coins = coins or CoinMapper()
        self.pacer = Pacer(config.pacing, self._mono())
        self.inflight: dict[int, _InFlight] = {}
        self._expired: OrderedDict[int, _InFlight] = OrderedDict()
        self._queue: deque[tuple[int, _InFlight]] = deque()
        """Requests waiting for weight: queries, and actions the venue refused with 429."""
        self._queued_status: set[ClientOrderId] = set()
        self._delayed: list[tuple[int, _InFlight]] = []
        """Noops to send again once their pause has passed (due time, entry)."""
        self._drain_at_ns: int | None = None
        """When the next DrainQueue is due, monotonic (None: none scheduled)."""
        self._invalidating: OrderedDict[int, None] = OrderedDict()
        """Nonces already being invalidated."""
        self._hold_since: int | None = None
        """Since when credit has been held back for the query at the head of the queue."""
        self._query_id = 0
        self.stats: dict[str, int] = {"sent_ws": 0, "sent_http": 0, "resent": 0,
                                      "queued": 0, "answers": 0, "expired": 0, "granted": 0,
                                      "invalidations": 0, "retried_429": 0, "coalesced": 0}

    def start(self) -> None:
        """A new incarnation: the signer's credit is whatever this one grants from now on."""
        granted = self.pacer.grantable(self._mono())
        self.stats["granted"] += granted
        self.ports.signer(SendCredit(actions=granted, reset=True,
                                     headroom=self.pacer.headroom(self._mono()),
                                     ts_init=self._now_ns()))
        self._schedule_drain()

    # --- signed requests -----------------------------------------------------------------
    def signed(self, action: SignedAction) -> None:
        """An action the signer signed with credit it was granted: it leaves now."""
        now = self._now_ns()
        entry = _InFlight(request_id=action.request_id, kind=action.kind,
                          cloids=action.client_order_ids, path="/exchange", body=action.body,
                          transport="", sent_ns=0, nonce=action.nonce,
                          expires_after_ms=action.expires_after_ms,
                          invalidates=action.invalidates)
        self.pacer.action_signed(requests.exchange_weight(action.weight), self._mono())
        self._send(entry, now)
        self._top_up()

    def signer_backlog(self, backlog: SignerBacklog) -> None:
        self.pacer.signer_reported(backlog)
        if backlog.started:
            self._top_up(reset=True)

    def _top_up(self, *, reset: bool = False) -> None:
        mono = self._mono()
        granted = 0 if self._query_due(mono) else self.pacer.grantable(mono)
        if granted or reset:
            self.stats["granted"] += granted
            self.ports.signer(SendCredit(actions=granted, reset=reset,
                                         headroom=self.pacer.headroom(mono),
                                         ts_init=self._now_ns()))
        self._schedule_drain()

    def _query_due(self, mono: int) -> bool:
        """A query waits whose own share of the budget can pay for it: let the IP budget fill
        up for it rather than hand every token to the signer (queries would never get the
        20 weight an openOrders costs while orders flow) — but for no longer than that weight
        takes to refill, so a queue of queries cannot starve cancels and orders either."""
        if not self._queue:
            self._hold_since = None
            return False
        weight, entry = self._queue[0]
        if entry.path == "/exchange" or self.pacer.query_weights.tokens_at(mono) < weight:
            self._hold_since = None
            return False
        if self._hold_since is None:
            self._hold_since = mono
        hold_ns = int(weight / self.pacer.weights.rate_per_ns) + 50_000_000
        if mono - self._hold_since <= hold_ns:
            return True
        self._hold_since = None  # held long enough: the signer's turn, then the next hold
        return False

    def _schedule_drain(self) -> None:
        """Wake up when the budget can pay for what waits (the earliest of: the first queued
        request, credit for a starved signer). A wake-up already due sooner is kept."""
        now = self._mono()
        waits: list[float] = []
        if self._queue:
            weight, entry = self._queue[0]
            waits.append(self.pacer.weights.wait_s(weight, now) if entry.path == "/exchange"
                         else self.pacer.query_wait_s(weight, now))
        starved = self.pacer.starved_wait_s(now)
        if starved is not None:
            waits.append(starved)
        if self._delayed:
            waits.append(max(0.0, (min(at for at, _ in self._delayed) - now) / 1e9))
        if not waits:
            return
        delay = max(0.01, min(waits))
        at = now + int(delay * 1e9)
        if self._drain_at_ns is not None and now <= self._drain_at_ns <= at:
            return  # a wake-up is due sooner (one already past is not trusted: reschedule)
        self._drain_at_ns = at
        self.ports.later(delay, DrainQueue(ts_init=now))

    def drain(self) -> None:
        now, mono = self._now_ns(), self._mono()
        # Whichever wake-up this is (an early timer, one superseded by a sooner one), what is
        # still due is scheduled afresh below: a wake-up is never assumed to be coming.
        self._drain_at_ns = None
        if self._delayed:
            due = [e for at, e in self._delayed if at <= mono]
            self._delayed = [(at, e) for at, e in self._delayed if at > mono]
            self._queue.extendleft((1, e) for e in reversed(due))
        while self._queue:
            weight, entry = self._queue[0]
            if entry.path == "/exchange":
                if not self.pacer.weights.try_take(weight, mono):
                    break
            elif not self.pacer.take_query(weight, mono):
                break
            self._queue.popleft()
            if entry.context is not None and entry.info_type == "orderStatus":
                self._queued_status.discard(entry.context)
            if entry.path == "/exchange" and not self._still_alive(entry, now):
                self._give_up_429(entry, now)
                continue
            self._send(entry, now)
        self._top_up()

    def _send(self, entry: _InFlight, now: int) -> None:
        if entry.request_id in self.inflight:
            raise ValueError(f"request {entry.request_id} is already in flight")
        kind = "action" if entry.path == "/exchange" else "info"
        entry.sent_ns = now
        if (self.ports.ws_connected() and self.pacer.use_ws()
                and self.ports.ws(entry.request_id, kind, entry.body)):
            entry.transport = "ws"
            self.pacer.ws_inflight += 1
            self.stats["sent_ws"] += 1
        else:
            entry.transport = "http"
            self.ports.http(entry.request_id, entry.path, entry.body)
            self.stats["sent_http"] += 1
        self.inflight[entry.request_id] = entry
        if entry.path == "/exchange":
            self.pacer.inflight_actions += 1
        if entry.kind in _ACTION_KINDS and entry.cloids and entry.attempts == 0:
            self.ports.tracker(RequestSent(kind=entry.kind, client_order_ids=entry.cloids,
                                           nonce=entry.nonce,
                                           expires_after_ms=entry.expires_after_ms,
                                           ts_init=now))
        self.ports.later(self.config.request_timeout_s,
                         RequestExpired(request_id=entry.request_id, ts_init=now))

    def _done(self, entry: _InFlight) -> None:
        """``entry`` left the in-flight set (answered, expired or given up)."""
        if entry.transport == "ws":
            self.pacer.ws_inflight = max(0, self.pacer.ws_inflight - 1)
            entry.transport = "ws-done"
        if entry.path == "/exchange" and entry.sent_ns:
            self.pacer.inflight_actions = max(0, self.pacer.inflight_actions - 1)
            entry.sent_ns = 0
        self._top_up()

    def _still_alive(self, entry: _InFlight, now: int) -> bool:
        if entry.expires_after_ms is None:
            return True
        margin_ms = int(self.config.retry_margin_s * 1000)
        return entry.expires_after_ms - now // 1_000_000 > margin_ms

    def _give_up_429(self, entry: _InFlight, now: int) -> None:
        if entry.kind in _ACTION_KINDS and entry.cloids:
            # Refused with 429 until too close to its expiry: the venue never acted on these
            # bytes — unless a copy went another way before (a resend after a dropped WS).
            self.ports.tracker(RequestFailed(
                kind=entry.kind, client_order_ids=entry.cloids,
                reason="rate limited by the venue (HTTP 429) until its expiry",
                definitive=not entry.resent, ts_init=now))

    # --- network events ------------------------------------------------------------------
    def connection_changed(self, message: ConnectionStateChanged) -> None:
        if message.connected:
            return
        for entry in [e for e in self.inflight.values() if e.transport == "ws"]:
            # The answer is lost with the connection: resend the identical bytes over HTTP.
            self.pacer.ws_inflight = max(0, self.pacer.ws_inflight - 1)
            entry.transport = "http"
            entry.resent = True
            self.stats["resent"] += 1
            self.ports.http(entry.request_id, entry.path, entry.body)

    def expired(self, message: RequestExpired) -> None:
        entry = self.inflight.pop(message.request_id, None)
        if entry is None:
            return
        self._done(entry)
        self.stats["expired"] += 1
        self._expired[entry.request_id] = entry
        while len(self._expired) > 10_000:
            self._expired.popitem(last=False)
        now = self._now_ns()
        if entry.kind is RequestKind.INVALIDATE:
            self._retry_invalidation(entry, now)
            return
        if entry.kind in _ACTION_KINDS and entry.cloids:
            self.ports.tracker(RequestFailed(
                kind=entry.kind, client_order_ids=entry.cloids,
                reason=f"no answer within {self.config.request_timeout_s}s", definitive=False,
                ts_init=now))
            self._invalidate(entry, now)

    def response(self, message: ResponseReceived) -> None:
        entry = self.inflight.pop(message.request_id, None)
        late = False
        if message.status == 429:
            # Before `_done` grants credit from a budget the venue says is spent.
            self.pacer.rate_limited(self._mono())
        if entry is None:
            entry = self._expired.pop(message.request_id, None)
            late = True
        else:
            self._done(entry)
        if entry is None:
            log.debug("answer for unknown request %d", message.request_id)
            return
        self.stats["answers"] += 1
        now = self._now_ns()
        if message.status == 429 and entry.path == "/exchange" and not late:
            self._retry_429(entry, now)
            return
        failure = self._transport_failure(entry, message, now)
        if failure is not None:
            if entry.kind is RequestKind.INVALIDATE:
                if not late:
                    self._retry_invalidation(entry, now)
                return
            if entry.kind in _ACTION_KINDS and entry.cloids and not (late and
                                                                     not failure.definitive):
                self.ports.tracker(failure)
                if not failure.definitive:
                    self._invalidate(entry, now)
            return
        try:
            payload = orjson.loads(message.body)
        except orjson.JSONDecodeError:
            self._malformed(entry, "the venue's answer is not JSON", now)
            return
        try:
            self._interpret(entry, payload, now)
        except PayloadError as exc:
            self._malformed(entry, str(exc), now)

    def _retry_429(self, entry: _InFlight, now: int) -> None:
        """The venue refused the request before acting on it (its rate limit): the nonce is
        unused, so the same bytes can go again once the budget has refilled."""
        self.stats["retried_429"] += 1
        log.warning("request %d (%s) rate limited by the venue (429); sending it again when the "
                    "budget allows", entry.request_id, entry.kind.value)
        if not self._still_alive(entry, now):
            self._give_up_429(entry, now)
            return
        entry.attempts += 1
        entry.transport = ""
        self._queue.appendleft((requests.exchange_weight(max(1, len(entry.cloids))), entry))
        self._schedule_drain()

    def _transport_failure(
        self, entry: _InFlight, message: ResponseReceived, now: int
    ) -> RequestFailed | None:
        status = message.status
        if status == 200:
            return None
        if status == 429:
            # Definitive only if no copy of it could have reached the venue another way.
            reason, definitive = "rate limited by the venue (HTTP 429)", not entry.resent
        elif status == 0:
            reason = f"transport error: {message.error}"
            definitive = not message.written and not entry.resent
        elif 400 <= status < 500:
            reason, definitive = f"HTTP {status}: {message.body[:200]!r}", True
        else:
            reason = f"HTTP {status}: {message.error or message.body[:200]!r}"
            definitive = False
        log.warning("request %d (%s) failed: %s", entry.request_id, entry.kind.value, reason)
        return RequestFailed(kind=entry.kind, client_order_ids=entry.cloids, reason=reason,
                             definitive=definitive, ts_init=now)

    def _malformed(self, entry: _InFlight, reason: str, now: int) -> None:
        log.error("request %d: unusable answer: %s", entry.request_id, reason)
        if entry.kind in _ACTION_KINDS and entry.cloids:
            # We cannot tell what the venue did: reconcile rather than guess.
            self.ports.tracker(RequestFailed(kind=entry.kind, client_order_ids=entry.cloids,
                                             reason=f"unusable answer: {reason}",
                                             definitive=False, ts_init=now))
            self._invalidate(entry, now)

    # --- invalidating requests of unknown outcome ----------------------------------------
    def _invalidate(self, entry: _InFlight, now: int) -> None:
        if not self.config.invalidate_unknown or entry.kind not in _ACTION_KINDS:
            return
        if entry.nonce in self._invalidating:
            return  # one noop per nonce (a late unusable answer must not ask for a second)
        self._invalidating[entry.nonce] = None
        while len(self._invalidating) > 10_000:
            self._invalidating.popitem(last=False)
        self.stats["invalidations"] += 1
        self.ports.signer(InvalidateNonce(nonce=entry.nonce, kind=entry.kind,
                                          client_order_ids=entry.cloids, ts_init=now))

    def _retry_invalidation(self, entry: _InFlight, now: int) -> None:
        """The noop itself got no usable answer: send the same signed noop again (it can act
        at most once), after a growing pause (a 5xx burst lasts a while), a bounded number of
        times."""
        entry.attempts += 1
        if entry.attempts >= self.config.invalidate_attempts:
            log.warning("could not invalidate nonce %d after %d attempts; its request's expiry "
                        "will decide", entry.nonce, entry.attempts)
            return
        entry.transport = ""
        pause_ns = int(self.config.invalidate_pause_s * entry.attempts * 1e9)
        self._delayed.append((self._mono() + pause_ns, entry))
        self._schedule_drain()

    def _invalidated(self, entry: _InFlight, payload: Any, now: int) -> None:
        resp = payloads.parse_exchange_response(payload)
        executed: bool | None
        if isinstance(resp, DefaultResponse):
            executed = False
        elif isinstance(resp, ExchangeError) and DUPLICATE_NONCE in resp.message:
            # A noop sent more than once may have met its own first copy: then the request
            # cannot execute any more, but whether it had is unknown.
            executed = True if entry.attempts == 0 and not entry.resent else None
        elif isinstance(resp, ExchangeError) and NONCE_TOO_LOW in resp.message:
            executed = None
        else:
            log.warning("invalidating noop for nonce %d answered %s; its request's expiry will "
                        "decide", entry.nonce, type(resp).__name__)
            return
        kind = entry.invalidates or RequestKind.SUBMIT
        self.ports.tracker(NonceInvalidated(kind=kind, client_order_ids=entry.cloids,
                                            nonce=entry.nonce, executed=executed, ts_init=now))

    def _interpret(self, entry: _InFlight, payload: Any, now: int) -> None:
        kind = entry.kind
        answers: Any
        if kind is RequestKind.INVALIDATE:
            self._invalidated(entry, payload, now)
            return
        if kind is RequestKind.SUBMIT:
            answers = payloads.parse_order_response(payload, entry.cloids, now)
        elif kind in (RequestKind.CANCEL, RequestKind.CANCEL_ALL):
            answers = payloads.parse_cancel_response(payload, entry.cloids, now)
        elif kind is RequestKind.MODIFY:
            answers = payloads.parse_modify_response(payload, entry.cloids, now)
        elif kind is RequestKind.SCHEDULE_CANCEL:
            failed = payloads.default_answer(payloads.parse_exchange_response(payload),
                                             RequestKind.SCHEDULE_CANCEL, now)
            if failed is not None:
                log.warning("dead-man switch not set: %s", failed.reason)
                self.ports.events(failed)
            return
        else:
            self._interpret_query(entry, payload, now)
            return
        if isinstance(answers, RequestFailed):
            if entry.resent and DUPLICATE_NONCE in answers.reason:
                # Our resend hit the nonce the first copy used: the first copy reached the
                # venue, and only the venue's order status can say what it did.
                # Not a rejection of ours: say what it proves, not the venue's words.
                answers = attrs.evolve(answers, definitive=False, reason=(
                    "the answer was lost with the connection and the identical resend found "
                    "its nonce used: the first copy reached the venue"))
            self.ports.tracker(answers)
            return
        for answer in answers:
            if hasattr(answer, "client_order_id"):
                self.ports.tracker(answer)

    # --- reconciliation ------------------------------------------------------------------
    def reconcile(self, request: ReconcileRequested) -> None:
        account = self.account
        for cloid in request.client_order_ids:
            if cloid in self._queued_status:
                continue  # already waiting for weight: one answer serves both requests
            self._query(requests.order_status(account, cloid), "orderStatus", cloid)
        if request.open_orders:
            self._query(requests.open_orders(account), "openOrders", None)
        if request.fills_since_ms is not None:
            self._query(requests.user_fills_by_time(account, request.fills_since_ms),
                        "userFillsByTime", None, fills_query=request.fills_query)

    def account_state(self, reply_to: str) -> None:
        self._query(requests.clearinghouse_state(self.account), "clearinghouseState",
                    None, reply_to=reply_to)

    def query_rate_limit(self, message: RefreshRateLimit | None = None) -> None:
        self._query(requests.user_rate_limit(self.account), "userRateLimit", None)
        self.ports.later(self.config.rate_limit_refresh_s,
                         RefreshRateLimit(ts_init=self._now_ns()))

    def _query(self, body: dict[str, Any], info_type: str, cloid: ClientOrderId | None,
               *, reply_to: str | None = None, fills_query: FillsQuery | None = None) -> None:
        self._query_id += 1
        entry = _InFlight(request_id=self._query_id, kind=RequestKind.QUERY, cloids=(),
                          path="/info", body=orjson.dumps(body), transport="", sent_ns=0,
                          info_type=info_type, context=cloid, reply_to=reply_to,
                          fills_query=fills_query)
        weight = requests.info_weight(info_type)
        if self._queue or not self.pacer.take_query(weight, self._mono()):
            if info_type in _COALESCED and self._coalesce(entry):
                return
            self.stats["queued"] += 1
            if info_type == "orderStatus" and cloid is not None:
                self._queued_status.add(cloid)
                # Ahead of the bulk queries that wait (fills pages, open orders): one order's
                # status must not wait behind a fills history being paged through (a soak saw
                # orders stay UNKNOWN for minutes behind pages of 120 weight each).
                at = next((i for i, (_, e) in enumerate(self._queue)
                           if e.path != "/exchange" and e.info_type != "orderStatus"),
                          len(self._queue))
                self._queue.insert(at, (weight, entry))
            else:
                self._queue.append((weight, entry))
            self._schedule_drain()
            return
        self._send(entry, self._now_ns())

    def _coalesce(self, entry: _InFlight) -> bool:
        """The same query already waits: it is sent later than both were asked for, so its
        answer serves both (a fills answer then proves the later request)."""
        for _, queued in self._queue:
            if queued.info_type == entry.info_type and queued.body == entry.body:
                if entry.fills_query is not None:
                    queued.fills_query = entry.fills_query
                self.stats["coalesced"] += 1
                return True
        return False

    def _interpret_query(self, entry: _InFlight, payload: Any, now: int) -> None:
        info = entry.info_type
        if info == "orderStatus":
            result = payloads.parse_order_status(payload, now, client_order_id=entry.context,
                                                 coins=self.coins)
            evidence = result.report
            if evidence is not None:
                self.ports.tracker(evidence)
        elif info == "openOrders":
            self.ports.tracker(payloads.parse_open_orders(payload, now, coins=self.coins).report)
        elif info == "userFillsByTime":
            fills = payloads.parse_user_fills(payload, now, coins=self.coins,
                                              name="userFillsByTime")
            # The venue charges 1 more weight per 20 fills returned (PROTOCOL §3).
            extra = len(fills.report.fills) // requests.ITEMS_PER_EXTRA_WEIGHT
            if extra:
                mono = self._mono()
                self.pacer.weights.force_take(extra, mono)
                self.pacer.query_weights.force_take(extra, mono)
            # The tracker learns which page of which query this answers (paging, and proof
            # that every fill from the query's origin is booked).
            self.ports.tracker(attrs.evolve(fills.report, query=entry.fills_query))
        elif info == "clearinghouseState" and entry.reply_to is not None:
            state = payloads.parse_clearinghouse_state(payload, now, coins=self.coins).report
            self.ports.reply(entry.reply_to, state)
        elif info == "userRateLimit":
            limit: RateLimitReported = payloads.parse_user_rate_limit(payload, now).report
            self.ports.events(limit)  # the gate keeps the address's budget

    # --- dead-man switch -----------------------------------------------------------------
    def renew_deadman(self, message: RenewDeadman) -> None:
        if self.config.deadman_s is None:
            return
        now_ms = self._now_ns() // 1_000_000
        self.ports.signer(ScheduleCancel(time_ms=now_ms + int(self.config.deadman_s * 1000),
                                         ts_init=self._now_ns()))
        self.ports.later(self.config.deadman_renew_s, RenewDeadman(ts_init=self._now_ns()))

    def clear_deadman(self) -> None:
        if self.config.deadman_s is not None:
            self.ports.signer(ScheduleCancel(time_ms=None, ts_init=self._now_ns()))
