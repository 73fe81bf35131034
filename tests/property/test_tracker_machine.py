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

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors.order_tracking import lifecycle
from actors.order_tracking.config import TrackerConfig
from actors.order_tracking.core import OrderTrackerCore
from messages import (
    CancelAll,
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
from messages.tracking import TrackerTick
from messages.venue import NonceInvalidated, RequestFailed
from tests.tracker_network import TICK_NS, Frame, TrackerWorld

S = OrderState


class TrackerMachine(TrackerWorld, RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.start_world(TrackerConfig(
            retention_s=10**6, submit_timeout_s=5, cancel_timeout_s=5, modify_timeout_s=5,
            fill_wait_s=2, submit_expiry_s=20, not_found_grace_s=1, unknown_requery_s=3,
            reconcile_interval_s=10, fills_page_size=3,
        ))
        self.last: dict[ClientOrderId, tuple[S, Decimal]] = {}

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

    @rule(data=st.data(), lossy=st.booleans(),
          cancel_every=st.sampled_from([None, None, TICK_NS, 3 * 10**9]))
    def venue_answers(self, data: st.DataObject, lossy: bool, cancel_every: int | None) -> None:
        """Liveness: from now on the venue answers every query (the stream may still lose
        frames); within the stated bound every order must agree with the venue — also while a
        cancel-all is sent every tick or every 3 s, as a clean stop does (each one turned an
        UNKNOWN order the venue never had back into PENDING_CANCEL, where its proof of never
        placed did not count: it never ended)."""
        while self.inbox:
            request = self.inbox.pop(data.draw(st.integers(0, len(self.inbox) - 1)))
            answer, frames = self._apply(request, data.draw(st.sampled_from("abcd")))
            self.buffer.extend(Frame(f) for f in frames)
            if data.draw(st.booleans()):
                self.buffer.append(answer)
        self.answering = True
        try:
            end = self.now + int(self._bound() * 1e9)
            next_cancel = self.now
            while self.now < end:
                if cancel_every is not None and self.now >= next_cancel:
                    # Before the answers of the last round are delivered: a status answer
                    # may meet an order a cancel has just made PENDING_CANCEL again.
                    self._handle(CancelAll())
                    next_cancel = self.now + cancel_every
                # What is on its way now arrives this round; answers to what it triggers
                # arrive next round (a round trip later).
                arriving, self.buffer = self.buffer, []
                while arriving:
                    item = arriving.pop(0 if not lossy else
                                        data.draw(st.integers(0, len(arriving) - 1)))
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
        assert self.core.live_count == sum(
            not r.state.is_terminal for r in self.core.orders.values())
        # The tick's index: the live orders in the committed order, and every finished one
        # reachable through the retention heap.
        assert self.core.index.live_in_order() == [
            c for c, r in self.core.orders.items() if not r.state.is_terminal]
        heap = {(k, c) for k, c in self.core.index._finished}
        assert all(((r.terminal_ns or 0), c) in heap
                   for c, r in self.core.orders.items() if r.state.is_terminal)
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
