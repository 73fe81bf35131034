"""A hypothesis state machine: the order tracker against a model venue (tests/tracker_venue.py).

The model venue keeps the truth per cloid (legs, fills, statuses) the way Hyperliquid does:
modify is cancel-and-replace under the same cloid, a rejected replacement leaves the old leg
cancelled, modifies and cancels address the cloid and hit whatever leg is live when they arrive.
Between the tracker and the venue everything can go wrong:

* requests wait in a venue inbox and arrive in any order (a cancel races a modify), late (after
  their ``expiresAfter``: refused) or never; their answers are delivered, lost, or replaced by a
  non-definitive `RequestFailed` (5xx, timeout); a lost outcome may later be settled by a
  `NonceInvalidated` (the nonce spent on a noop);
* stream frames (order updates, fills) are delivered in any order, duplicated or lost — a lost
  fill is still at the venue, only a query returns it;
* query answers reflect the venue when they are delivered, and can be lost; fills come in pages;
* time passes (deadlines, expiries, periodic reconciliation) and the tracker crashes and
  recovers from its journal (optionally from a snapshot) at any point.

Invariants after every step: filled <= amount and never decreases; terminal states absorb;
every event is one row of the lifecycle table and the fill events of an order sum to its filled
amount; the journal alone rebuilds the live state; no event sequence is published twice; the
tracker never books more than the venue filled; and a terminal state always agrees with the
venue (the mapping in docs/order-lifecycle.md). After a crash, the events the replay rebuilds
past any point equal those first emitted. The `venue_answers` rule checks liveness: while the
venue answers queries, every order agrees with the venue within
`TrackerConfig.resolution_bound_s` of model time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors.order_tracking import lifecycle
from actors.order_tracking.core import OrderTrackerCore
from actors.order_tracking.stage import TrackerConfig
from messages import (
    CancelOrder,
    ClientOrderId,
    ModifyOrder,
    OrderAnomalyDetected,
    OrderEvent,
    OrderFilled,
    OrderSide,
    OrderState,
    OrderType,
    RequestKind,
    SubmitOrder,
)
from messages.tracking import (
    ReconcileRequested,
    RequestSent,
    SignCancels,
    SignModifies,
    SignOrders,
    TrackerRecovered,
    TrackerTick,
)
from messages.venue import NonceInvalidated, RequestFailed
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
    """A reconciliation request; the venue answers it when it is delivered."""

    request: ReconcileRequested


@attrs.define
class Frame:
    """A user-stream frame (may be duplicated)."""

    message: object


class TrackerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.config = TrackerConfig(
            retention_s=10**6, submit_timeout_s=5, cancel_timeout_s=5, modify_timeout_s=5,
            fill_wait_s=2, submit_expiry_s=20, not_found_grace_s=1, unknown_requery_s=3,
            reconcile_interval_s=10, fills_page_size=3,
        )
        self.journal = ListJournal()
        self.core = OrderTrackerCore(self.config, self.journal)
        self.now = T0
        self.venue = ModelVenue(page_size=self.config.fills_page_size)
        self.submitted: list[ClientOrderId] = []
        self.inbox: list[Request] = []
        self.unsettled: list[tuple[Request, bool]] = []
        """Requests whose outcome the tracker never heard (and whether they executed)."""
        self.buffer: list[Any] = []
        self.events: dict[ClientOrderId, list[OrderEvent]] = {}
        self.emitted: list[OrderEvent] = []
        self.last: dict[ClientOrderId, tuple[S, Decimal]] = {}
        self.snapshot: tuple[bytes, int, int] | None = None
        self.sign_fate = "sent"
        self.answering = False
        self.nonce = 0

    # --- plumbing ------------------------------------------------------------------------
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
                if self.answering:
                    self._answer(request)
                else:
                    self.buffer.append(Query(request))

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
            if self.sign_fate == "refused":
                self._handle(RequestFailed(
                    kind=RequestKind.SUBMIT, client_order_ids=(order.client_order_id,),
                    reason="could not be sent before its expiry", definitive=True,
                    ts_init=self.now))
                continue
            assert order.price is not None
            self._send(Request(kind=RequestKind.SUBMIT, cloid=order.client_order_id,
                               nonce=self._next_nonce(),
                               expires_ms=self._expiry(request.expires_after_ms),
                               amount=order.amount, price=order.price))

    def _send(self, request: Request) -> None:
        self.inbox.append(request)
        self._handle(RequestSent(kind=request.kind, client_order_ids=(request.cloid,),
                                 nonce=request.nonce, expires_after_ms=request.expires_ms,
                                 ts_init=self.now))

    def _answer(self, request: ReconcileRequested) -> None:
        """The venue answers a query as it is now."""
        answers: list[object] = [self.venue.status(c, self.now)
                                 for c in request.client_order_ids]
        if request.open_orders:
            answers.append(self.venue.open_orders(self.now))
        if request.fills_since_ms is not None:
            answers.append(self.venue.fills_page(request.fills_since_ms, request.fills_query,
                                                 self.now))
        for answer in answers:
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

    # --- rules: the strategy and the venue ----------------------------------------------
    @rule(data=st.data(), amount=st.sampled_from(["1", "2", "3"]),
          sign=st.sampled_from(["sent", "sent", "sent", "unsent", "refused"]))
    def submit(self, data: st.DataObject, amount: str, sign: str) -> None:
        cloid = ClientOrderId.derive("machine", len(self.submitted))
        self.submitted.append(cloid)
        self.sign_fate = sign
        try:
            self._handle(SubmitOrder(client_order_id=cloid, trading_pair="BTC-USD",
                                     side=OrderSide.BUY, order_type=OrderType.LIMIT,
                                     amount=Decimal(amount), price=Decimal("100")))
        finally:
            self.sign_fate = "sent"
        self._scramble(data, self._arrive(data, cloid), crash=False)

    @precondition(lambda self: bool(self.submitted))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        live = self._tracked_live()
        cloid = data.draw(st.sampled_from(live or self.submitted))
        self._handle(CancelOrder(client_order_id=cloid))
        self._scramble(data, self._arrive(data, cloid))

    @precondition(lambda self: bool(self._tracked_live()))
    @rule(data=st.data(), price=st.sampled_from(["99", "101", "102"]),
          amount=st.sampled_from([None, None, "2", "4"]))
    def modify(self, data: st.DataObject, price: str, amount: str | None) -> None:
        """A modify — maybe raced by a cancel and by fills on the leg it replaces."""
        cloid = data.draw(st.sampled_from(self._tracked_live()))
        self._handle(ModifyOrder(client_order_id=cloid, price=Decimal(price),
                                 amount=None if amount is None else Decimal(amount)))
        if data.draw(st.booleans()):
            self._handle(CancelOrder(client_order_id=cloid))
        items: list[Any] = []
        order = self.venue.orders.get(cloid)
        if order is not None and order.latest.live and data.draw(st.booleans()):
            items += [Frame(f) for f in self.venue.fill(order, "0.5", self.now)]
        items += self._arrive(data, cloid)
        self._scramble(data, items)

    @precondition(lambda self: bool(self.inbox))
    @rule(data=st.data())
    def venue_process(self, data: st.DataObject) -> None:
        """A request that was on its way arrives (late: maybe after its expiry)."""
        request = self.inbox.pop(data.draw(st.integers(0, len(self.inbox) - 1)))
        answer, frames = self._apply(request, data.draw(st.sampled_from("aabcd")))
        self._scramble(data, [*(Frame(f) for f in frames), (request, answer)])

    @precondition(lambda self: bool(self.inbox))
    @rule(data=st.data(), report=st.booleans())
    def request_lost(self, data: st.DataObject, report: bool) -> None:
        """A request never reaches the venue (execution may report a timeout)."""
        request = self.inbox.pop(data.draw(st.integers(0, len(self.inbox) - 1)))
        if report:
            self.buffer.append(RequestFailed(
                kind=request.kind, client_order_ids=(request.cloid,), reason="timeout",
                definitive=False, ts_init=self.now))
        self.unsettled.append((request, False))

    @precondition(lambda self: bool(self.unsettled))
    @rule(data=st.data())
    def nonce_invalidated(self, data: st.DataObject) -> None:
        """Execution spent the nonce of a request whose outcome was lost on a noop."""
        request, executed = self.unsettled.pop(data.draw(st.integers(0, len(self.unsettled) - 1)))
        self._handle(NonceInvalidated(kind=request.kind, client_order_ids=(request.cloid,),
                                      nonce=request.nonce, executed=executed, ts_init=self.now))

    @precondition(lambda self: bool(self.venue.live()))
    @rule(data=st.data(), what=st.sampled_from(["0.5", "1", "all", "marginCanceled",
                                                "scheduledCancel"]))
    def venue_acts(self, data: st.DataObject, what: str) -> None:
        """The venue fills or cancels a live order on its own."""
        order = data.draw(st.sampled_from(self.venue.live()))
        if what[0].isdigit() or what == "all":
            frames = self.venue.fill(order, what, self.now)
        else:
            frames = self.venue.venue_cancel(order, what, self.now)
        self._scramble(data, [Frame(f) for f in frames])

    @precondition(lambda self: bool(self.buffer))
    @rule(data=st.data(), how=st.sampled_from(["oldest", "oldest", "any", "dup", "lose"]))
    def network(self, data: st.DataObject, how: str) -> None:
        """Something that was delayed arrives (or is lost for good)."""
        index = 0 if how == "oldest" else data.draw(st.integers(0, len(self.buffer) - 1))
        item = self.buffer[index]
        if not (how == "dup" and isinstance(item, Frame)):
            self.buffer.pop(index)
        if how != "lose":
            self._deliver(item)

    @rule(seconds=st.sampled_from([0.5, 2, 6, 25]))
    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1e9)
        self._handle(TrackerTick(ts_init=self.now))

    @rule(data=st.data())
    def crash_and_recover(self, data: st.DataObject) -> None:
        self._crash(data)

    def _crash(self, data: st.DataObject) -> None:
        """The tracker dies; its next incarnation recovers the journal (and rebuilds the
        events the dead one may not have logged: the event log's `reemit_after`)."""
        use_snapshot = data.draw(st.booleans())
        if use_snapshot and data.draw(st.booleans()):
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

    @rule(data=st.data(), lossy=st.booleans())
    def venue_answers(self, data: st.DataObject, lossy: bool) -> None:
        """Liveness: from now on the venue answers every query (the stream may still lose
        frames); within the stated bound every order must agree with the venue."""
        while self.inbox:
            request = self.inbox.pop(data.draw(st.integers(0, len(self.inbox) - 1)))
            answer, frames = self._apply(request, data.draw(st.sampled_from("abcd")))
            self.buffer.extend(Frame(f) for f in frames)
            if data.draw(st.booleans()):
                self.buffer.append(answer)
        self.answering = True
        try:
            end = self.now + int(self._bound() * 1e9)
            while self.now < end:
                while self.buffer:
                    item = self.buffer.pop(0 if not lossy else
                                           data.draw(st.integers(0, len(self.buffer) - 1)))
                    if lossy and isinstance(item, Frame) and data.draw(st.booleans()):
                        continue  # lost
                    self._deliver(item)
                while self.inbox:
                    request = self.inbox.pop(0)
                    answer, frames = self._apply(request, "a")
                    self.buffer.extend(Frame(f) for f in frames)
                    self.buffer.append(answer)
                self.now += TICK_NS
                self._handle(TrackerTick(ts_init=self.now))
        finally:
            self.answering = False
        for cloid in self.submitted:
            self._assert_agrees(cloid, live_too=True)

    def _bound(self) -> float:
        bound = self.config.resolution_bound_s
        assert bound is not None
        return bound

    def _assert_agrees(self, cloid: ClientOrderId, *, live_too: bool) -> None:
        view = self.core.get(cloid)
        assert view is not None
        truth = self.venue.orders.get(cloid)
        if truth is None:
            assert view.state is S.FAILED, (cloid, view.state, "never placed")
            assert view.filled_amount == 0
            return
        expected = truth.expected_state()
        assert view.state is expected, (cloid, view.state, expected, truth)
        if not live_too:
            return
        assert view.filled_amount == truth.filled, (cloid, view, truth)
        if not expected.is_terminal:
            assert view.exchange_order_id == truth.latest.oid, (cloid, view, truth)
            assert view.amount == truth.amount, (cloid, view, truth)
            assert view.price == truth.latest.price, (cloid, view, truth)

    # --- invariants ----------------------------------------------------------------------
    @invariant()
    def a_crash_now_would_recover_this_state(self) -> None:
        """Crash after any prefix: the journal alone rebuilds exactly the live state."""
        recovered = OrderTrackerCore(self.config)
        recovered.restore(None, self.journal.records)
        assert recovered.state_digest() == self.core.state_digest()

    @invariant()
    def terminal_states_agree_with_the_venue(self) -> None:
        """A final state is the venue's: never CANCELLED for a filled order, never FAILED for
        one that rested, never "never placed" while its request can still execute."""
        for cloid in self.submitted:
            view = self.core.get(cloid)
            assert view is not None
            truth = self.venue.orders.get(cloid)
            assert view.filled_amount <= (truth.filled if truth is not None else 0)
            if not view.state.is_terminal:
                continue
            if truth is None:
                assert not any(r.kind is RequestKind.SUBMIT and r.cloid == cloid
                               and (r.expires_ms is None or r.expires_ms >= self.now_ms)
                               for r in self.inbox), (cloid, "failed while it could be placed")
            self._assert_agrees(cloid, live_too=False)

    @invariant()
    def order_invariants(self) -> None:
        assert set(self.core.orders) == set(self.submitted)
        for cloid in self.submitted:
            view = self.core.get(cloid)
            assert view is not None
            assert view.filled_amount <= view.amount
            previous = self.last.get(cloid)
            if previous is not None:
                prev_state, prev_filled = previous
                assert view.filled_amount >= prev_filled
                if prev_state.is_terminal:
                    assert view.state is prev_state
            self.last[cloid] = (view.state, view.filled_amount)
            events = self.events.get(cloid, [])
            fills = sum((e.fill_amount for e in events if isinstance(e, OrderFilled)),
                        Decimal(0))
            assert fills == view.filled_amount
            state: S | None = None
            for event in events:
                if isinstance(event, OrderAnomalyDetected):
                    assert event.order_state is state
                    continue
                assert _is_table_row(state, event), (state, type(event).__name__,
                                                     event.order_state)
                state = event.order_state
            assert state is view.state


def _is_table_row(state: S | None, event: OrderEvent) -> bool:
    for (source, _trigger), (target, event_cls) in lifecycle.TABLE.items():
        if source is state and event_cls is type(event):
            if target == lifecycle.RESTORE:
                if event.order_state in lifecycle.RESTORABLE:
                    return True
            elif target is event.order_state:
                return True
    return False


TrackerMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=50, deadline=None
)
test_tracker_machine = TrackerMachine.TestCase
