"""The world the order tracker's state machine runs in: the tracker core, the model venue
(tests/tracker_venue.py) and the network between them (tests/property/test_tracker_machine.py).

Requests the tracker asks for are signed at once (`RequestSent`) — or wait unsigned in the
signer (`held`: for credit, or lingering to coalesce) until it signs them or crashes, which
loses them by design — and wait in the venue's inbox until a rule lets the venue act on them;
answers, stream frames and query answers wait in a buffer the rules deliver from, in any order,
late, duplicated or never. `_scramble` replays a burst of venue activity the way the tracker may
see it.

Status queries go the way execution sends them (actors/executing/core.py, `reconcile`): one
``orderStatus`` per cloid, waiting in a first-in first-out queue for the venue's query budget,
a cloid already waiting not queued again. The venue answers them from the head of that queue
(`status_queue`), as it is when it answers — a query asked long ago about an order that has
ended since still costs its turn. Open-order and fill queries are answered on their own.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st

from actors.order_tracking.config import TrackerConfig
from actors.order_tracking.core import OrderTrackerCore
from messages import ClientOrderId, OrderEvent, OrderState, RequestKind, SubmitOrder
from messages.gate import SignerBacklog
from messages.signing import SignCancels, SignModifies, SignOrders
from messages.tracking import ReconcileRequested, RequestSent, TrackerRecovered, TrackerTick
from messages.venue import RequestFailed
from tests.tracker_support import T0, ListJournal
from tests.tracker_venue import ModelVenue

S = OrderState
SIGN_WINDOW_MS = 8_000
"""The signer's expiry window: expiresAfter = min(sign time + window, the tracker's bound)."""
TICK_NS = 500_000_000


@attrs.define
class Request:
    """A signed request on its way to the venue."""

    kind: RequestKind
    cloid: ClientOrderId
    nonce: int
    expires_ms: int | None
    amount: Decimal = Decimal(0)
    price: Decimal = Decimal(0)


@attrs.define
class Query:
    """A reconciliation request (open orders, fills); the venue answers it when it is
    delivered."""

    request: ReconcileRequested


@attrs.define
class Held:
    """An order the signer holds unsigned; ``bound_ms`` is the tracker's expiry bound."""

    order: SubmitOrder
    bound_ms: int | None


@attrs.define
class Frame:
    """A user-stream frame (may be duplicated)."""

    message: object


class TrackerWorld:
    """Plumbing for the state machine (a mixin: the machine holds the rules and checks)."""

    config: TrackerConfig
    journal: ListJournal
    core: OrderTrackerCore
    now: int
    venue: ModelVenue
    submitted: list[ClientOrderId]
    inbox: list[Request]
    unsettled: list[tuple[Request, bool]]
    """Requests whose outcome the tracker never heard (and whether they executed)."""
    buffer: list[Any]
    events: dict[ClientOrderId, list[OrderEvent]]
    emitted: list[OrderEvent]
    snapshot: tuple[bytes, int, int] | None
    sign_fate: str
    answering: bool
    nonce: int
    held: list[Held]
    """Orders waiting unsigned in the signer, oldest first."""
    status_queue: dict[ClientOrderId, None]
    """Execution's status queries waiting for the venue's query budget, oldest first."""

    def start_world(self, config: TrackerConfig) -> None:
        self.config = config
        self.journal = ListJournal()
        self.core = OrderTrackerCore(self.config, self.journal)
        self.now = T0
        self.venue = ModelVenue(page_size=self.config.fills_page_size)
        self.submitted = []
        self.inbox = []
        self.unsettled = []
        self.buffer = []
        self.events = {}
        self.emitted = []
        self.snapshot = None
        self.sign_fate = "sent"
        self.answering = False
        self.nonce = 0
        self.held = []
        self.status_queue = {}

    @property
    def now_ms(self) -> int:
        return self.now // 1_000_000

    def _handle(self, message: object) -> None:
        self.now += 1_000_000
        out = self.core.handle(message, self.now)
        for event in out.events:
            assert isinstance(event, OrderEvent)
            assert not self.emitted or event.sequence > self.emitted[-1].sequence, (
                "event sequence published twice or out of order")
            self.emitted.append(event)
            self.events.setdefault(event.client_order_id, []).append(event)
        for request in out.outbox:
            if isinstance(request, SignOrders):
                self._sign_orders(request)
            elif isinstance(request, SignCancels):
                for target in request.targets:
                    self._send(Request(kind=RequestKind.CANCEL, cloid=target.client_order_id,
                                       nonce=self._next_nonce(), expires_ms=None))
            elif isinstance(request, SignModifies):
                expires = self._expiry(request.expires_after_ms)
                for m in request.targets:
                    assert m.order.price is not None
                    self._send(Request(kind=RequestKind.MODIFY, cloid=m.client_order_id,
                                       nonce=self._next_nonce(), expires_ms=expires,
                                       amount=m.order.amount, price=m.order.price))
            elif isinstance(request, ReconcileRequested):
                for cloid in request.client_order_ids:
                    # Execution: one query per cloid waits for the budget; a cloid already
                    # waiting is not queued again (its answer serves both requests).
                    self.status_queue.setdefault(cloid, None)
                bulk = attrs.evolve(request, client_order_ids=())
                if not bulk.open_orders and bulk.fills_since_ms is None:
                    continue
                if self.answering:
                    # Answered as the venue is now, heard a round trip later: whatever the
                    # tracker does meanwhile (a cancel-all) comes before the answer.
                    self.buffer.extend(self._answers(bulk))
                else:
                    self.buffer.append(Query(bulk))

    def _next_nonce(self) -> int:
        self.nonce += 1
        return self.nonce

    def _expiry(self, bound: int | None) -> int:
        window = self.now_ms + SIGN_WINDOW_MS
        return window if bound is None else min(window, bound)

    def _sign_orders(self, request: SignOrders) -> None:
        for order in request.orders:
            if self.sign_fate == "unsent":
                continue  # execution died before the order left the process
            if self.sign_fate == "held":
                self.held.append(Held(order=order, bound_ms=request.expires_after_ms))
                continue
            if self.sign_fate == "refused":
                self._refuse(order)
                continue
            self._sign(order, request.expires_after_ms)

    def _sign(self, order: SubmitOrder, bound_ms: int | None) -> None:
        assert order.price is not None
        self._send(Request(kind=RequestKind.SUBMIT, cloid=order.client_order_id,
                           nonce=self._next_nonce(), expires_ms=self._expiry(bound_ms),
                           amount=order.amount, price=order.price))

    def _refuse(self, order: SubmitOrder) -> None:
        self._handle(RequestFailed(
            kind=RequestKind.SUBMIT, client_order_ids=(order.client_order_id,),
            reason="could not be sent before its expiry", definitive=True, ts_init=self.now))

    def _sign_held(self, count: int | None = None) -> None:
        """The signer signs what waits (the oldest ``count``; all by default): sent, or refused
        once the tracker's bound has passed."""
        held = self.held if count is None else self.held[:count]
        self.held = self.held[len(held):]
        for item in held:
            if item.bound_ms is not None and self.now_ms > item.bound_ms:
                self._refuse(item.order)
            else:
                self._sign(item.order, item.bound_ms)

    def _signer_crash(self) -> None:
        """What waits unsigned is lost with the signer (by design): the tracker never hears of
        it again and must prove it never placed by its expiry. The new incarnation says it
        started, and the tracker sends its pending cancels again (copies of cancels that did
        leave reach the venue too)."""
        self.held = []
        self._handle(SignerBacklog(orders=0, cancels=0, modifies=0, oldest_age_ns=0, credit=0,
                                   started=True, ts_init=self.now))

    def _serve_status(self, count: int) -> list[object]:
        """The venue answers the ``count`` oldest waiting status queries, as it is now."""
        cloids = list(self.status_queue)[:count]
        for cloid in cloids:
            del self.status_queue[cloid]
        return [self.venue.status(cloid, self.now) for cloid in cloids]

    def _send(self, request: Request) -> None:
        self.inbox.append(request)
        self._handle(RequestSent(kind=request.kind, client_order_ids=(request.cloid,),
                                 nonce=request.nonce, expires_after_ms=request.expires_ms,
                                 ts_init=self.now))

    def _answers(self, request: ReconcileRequested) -> list[object]:
        """The venue's answers to a query, as it is now."""
        answers: list[object] = [self.venue.status(c, self.now)
                                 for c in request.client_order_ids]
        if request.open_orders:
            answers.append(self.venue.open_orders(self.now))
        if request.fills_since_ms is not None:
            answers.append(self.venue.fills_page(request.fills_since_ms, request.fills_query,
                                                 self.now))
        return answers

    def _answer(self, request: ReconcileRequested) -> None:
        for answer in self._answers(request):
            self._handle(answer)

    def _deliver(self, item: Any) -> None:
        if isinstance(item, Query):
            self._answer(item.request)
        elif isinstance(item, Frame):
            self._handle(item.message)
        else:
            self._handle(item)

    def _apply(self, request: Request, fate: str) -> tuple[object, list[object]]:
        """The venue acts on a request: its answer and the frames its stream pushes."""
        if request.expires_ms is not None and self.now_ms > request.expires_ms:
            return RequestFailed(kind=request.kind, client_order_ids=(request.cloid,),
                                 reason="Action already expired", definitive=True,
                                 ts_init=self.now), []
        if request.kind is RequestKind.SUBMIT:
            return self.venue.submit(request.cloid, request.amount, request.price,
                                     {"a": "rest", "b": "reject", "c": "fill", "d": "rest"}[fate],
                                     self.now)
        if request.kind is RequestKind.CANCEL:
            return self.venue.cancel(request.cloid, self.now)
        return self.venue.modify(request.cloid, request.amount, request.price,
                                 {"a": "replace", "b": "reject", "c": "fill", "d": "invalid"}[fate],
                                 self.now)

    def _scramble(self, data: st.DataObject, items: list[Any], *, crash: bool = True) -> None:
        """What a burst of venue activity looks like to the tracker: its answers and frames in
        any order, each delivered, delivered late (left in the buffer), lost, duplicated (a
        frame) or replaced by a 5xx (an answer), with time passing (timeouts) and the tracker
        crashing anywhere in between."""
        ops: list[Any] = list(items)
        ops += ["advance"] * data.draw(st.integers(0, 2))
        if crash and data.draw(st.integers(0, 3)) == 0:
            ops.append("crash")
        for op in data.draw(st.permutations(ops)):
            if op == "advance":
                self.now += int(data.draw(st.sampled_from([2, 6])) * 1e9)
                self._handle(TrackerTick(ts_init=self.now))
            elif op == "crash":
                self._crash(data)
            elif isinstance(op, tuple):
                request, answer = op
                fate = data.draw(st.sampled_from(["deliver", "deliver", "later", "lose", "fail"]))
                if fate == "deliver":
                    self._handle(answer)
                elif fate == "later":
                    self.buffer.append(answer)
                else:
                    if fate == "fail":
                        self._handle(RequestFailed(
                            kind=request.kind, client_order_ids=(request.cloid,),
                            reason="HTTP 502", definitive=False, ts_init=self.now))
                    executed = not (isinstance(answer, RequestFailed) and answer.definitive)
                    self.unsettled.append((request, executed))
            else:
                fate = data.draw(st.sampled_from(["deliver", "deliver", "later", "lose", "dup"]))
                if fate in ("deliver", "dup"):
                    self._handle(op.message)
                if fate in ("later", "dup"):
                    self.buffer.append(op)

    def _arrive(self, data: st.DataObject, cloid: ClientOrderId) -> list[Any]:
        """The requests about ``cloid`` reach the venue in any order (or stay on their way);
        returns the (request, answer) pairs and the frames they produced."""
        mine = [r for r in self.inbox if r.cloid == cloid]
        for r in mine:
            self.inbox.remove(r)
        items: list[Any] = []
        for request in data.draw(st.permutations(mine)):
            if not data.draw(st.integers(0, 4)):
                self.inbox.append(request)  # still on its way
                continue
            answer, frames = self._apply(request, data.draw(st.sampled_from("aabcd")))
            items.extend(Frame(f) for f in frames)
            items.append((request, answer))
        return items

    def _tracked_live(self) -> list[ClientOrderId]:
        return [c for c in self.submitted if (v := self.core.get(c)) is not None
                and v.state in (S.OPEN, S.PARTIALLY_FILLED)]

    def _crash(self, data: st.DataObject, *, fresh_snapshot: bool = False) -> None:
        """The tracker dies; its next incarnation recovers the journal (and rebuilds the
        events the dead one may not have logged: the event log's `reemit_after`). With
        ``fresh_snapshot`` it had just written a snapshot (a quick restart under load)."""
        use_snapshot = fresh_snapshot or data.draw(st.booleans())
        if fresh_snapshot or (use_snapshot and data.draw(st.booleans())):
            self.snapshot = (self.core.snapshot(), len(self.journal.records),
                             self.core.sequence)
        floor = 0
        if use_snapshot and self.snapshot is not None:
            floor = self.snapshot[2]
        after = data.draw(st.integers(floor, max(floor, self.core.sequence)))
        recovered = OrderTrackerCore(self.config, self.journal)
        if use_snapshot and self.snapshot is not None:
            blob, mark, _seq = self.snapshot
            recovered.restore(blob, self.journal.records[mark:], reemit_after=after)
        else:
            recovered.restore(None, self.journal.records, reemit_after=after)
        assert recovered.state_digest() == self.core.state_digest()
        assert recovered.recovered_events == [e for e in self.emitted if e.sequence > after]
        self.core = recovered
        self._handle(TrackerRecovered(ts_init=self.now))
