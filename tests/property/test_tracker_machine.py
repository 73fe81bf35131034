"""A hypothesis state machine: the order tracker against a model venue (tests/tracker_venue.py).

The model venue keeps the truth per cloid (legs, fills, statuses) the way Hyperliquid does:
modify is cancel-and-replace under the same cloid, a rejected replacement leaves the old leg
cancelled, modifies and cancels address the cloid and hit whatever leg is live when they arrive.
Between the tracker and the venue everything can go wrong:

* orders may wait unsigned in the signer and be signed late, or be lost with it when it crashes
  (what it had not signed is gone, by design);
* requests wait in a venue inbox and arrive in any order (a cancel races a modify), late (after
  their ``expiresAfter``: refused) or never; their answers are delivered, lost, or replaced by a
  non-definitive `RequestFailed` (5xx, timeout); a lost outcome may later be settled by a
  `NonceInvalidated` (the nonce spent on a noop);
* stream frames (order updates, fills) are delivered in any order, duplicated or lost — a lost
  fill is still at the venue, only a query returns it;
* status queries wait in execution's queue (first in, first out, one per cloid) for the venue's
  query budget and are answered as the venue is then; open-order and fill answers reflect the
  venue when they are delivered; any answer can be lost; fills come in pages;
* time passes (deadlines, expiries, periodic reconciliation) and the tracker crashes and
  recovers from its journal (optionally from a snapshot) at any point.

Invariants after every step: filled <= amount and never decreases; terminal states absorb;
every event is one row of the lifecycle table and the fill events of an order sum to its filled
amount; the journal alone rebuilds the live state; no event sequence is published twice; the
tracker never books more than the venue filled; and a terminal state always agrees with the
venue (the mapping in docs/order-lifecycle.md). After a crash, the events the replay rebuilds
past any point equal those first emitted. The `venue_answers` rule checks liveness: while the
venue answers queries — status queries at the rate its query budget allows, also under a load of
orders with the tracker and the signer crashing — every order agrees with the venue within
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
STATUS_PER_ROUND = 1
"""Status queries the venue answers per 0.5 s round in the liveness phase: its query budget
(execution sends ~3.5 ``orderStatus`` a second, 2 weight each of the 7 weight/s it keeps for
queries)."""
LOAD_ROUNDS = 20
"""Rounds of load at the start of a loaded liveness phase (10 s): orders keep coming and wait a
round in the signer, the tracker restarts every `LOAD_TRACKER_CRASH_EVERY` rounds and the signer
every `LOAD_SIGNER_CRASH_EVERY` (losing what it had not signed) — what a soak does at 200
orders/s with an actor crashing every 5 s, scaled to the machine."""
LOAD_ORDERS = 6
LOAD_TRACKER_CRASH_EVERY = 2
LOAD_SIGNER_CRASH_EVERY = 8


class TrackerMachine(TrackerWorld, RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.start_world(TrackerConfig(
            retention_s=10**6, submit_timeout_s=5, cancel_timeout_s=5, modify_timeout_s=5,
            fill_wait_s=2, submit_expiry_s=20, not_found_grace_s=1, unknown_requery_s=3,
            reconcile_interval_s=10, fills_page_size=3,
        ))
        self.last: dict[ClientOrderId, tuple[S, Decimal]] = {}
        self.replayed = OrderTrackerCore(self.config)
        self.replayed_upto = 0
        self.loaded = False

    # --- rules: the strategy and the venue ----------------------------------------------
    @rule(data=st.data(), amount=st.sampled_from(["1", "2", "3"]),
          sign=st.sampled_from(["sent", "sent", "sent", "unsent", "refused", "held"]))
    def submit(self, data: st.DataObject, amount: str, sign: str) -> None:
        cloid = self._submit(amount, sign)
        self._scramble(data, self._arrive(data, cloid), crash=False)

    def _submit(self, amount: str, sign: str) -> ClientOrderId:
        cloid = ClientOrderId.derive("machine", len(self.submitted))
        self.submitted.append(cloid)
        self.sign_fate = sign
        try:
            self._handle(SubmitOrder(client_order_id=cloid, trading_pair="BTC-USD",
                                     side=OrderSide.BUY, order_type=OrderType.LIMIT,
                                     amount=Decimal(amount), price=Decimal("100")))
        finally:
            self.sign_fate = "sent"
        return cloid

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data())
    def signer_signs(self, data: st.DataObject) -> None:
        """The signer signs what waited (for credit, or lingering to coalesce)."""
        self._sign_held(data.draw(st.integers(1, len(self.held))))

    @precondition(lambda self: bool(self.held))
    @rule()
    def signer_crashes(self) -> None:
        self._signer_crash()

    @precondition(lambda self: bool(self.status_queue))
    @rule()
    def venue_answers_a_status(self) -> None:
        """The query budget lets the oldest waiting status query go; its answer is on its way."""
        self.buffer.extend(self._serve_status(1))

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
          cancel_every=st.sampled_from([None, None, TICK_NS, 3 * 10**9]),
          load=st.sampled_from([False, False, True]))
    def venue_answers(self, data: st.DataObject, lossy: bool, cancel_every: int | None,
                      load: bool) -> None:
        """Liveness: from now on the venue answers every query — status queries from the head
        of execution's queue, `STATUS_PER_ROUND` a round (its query budget) — and the stream may
        still lose frames; within the stated bound every order agrees with the venue.

        Also while a cancel-all is sent every tick or every 3 s, as a clean stop does (each one
        turned an UNKNOWN order the venue never had back into PENDING_CANCEL, where its proof
        of never placed did not count: it never ended), and after a load (``load``): orders
        keep coming and wait a round in the signer, the tracker restarts every second and the
        signer now and then, losing what it had not signed; the cancel-alls start when the load
        ends. A tracker that asks the venue about orders whose outcome is still on its way to
        it (in the signer, in its mailbox) spends the budget on answers that come when those
        orders have long ended, ahead of the queries that can prove a lost order never placed
        (a soak ended with two such orders UNKNOWN: their proof waited behind hundreds of
        those queries until the stop)."""
        while self.inbox:
            request = self.inbox.pop(data.draw(st.integers(0, len(self.inbox) - 1)))
            answer, frames = self._apply(request, data.draw(st.sampled_from("abcd")))
            self.buffer.extend(Frame(f) for f in frames)
            if data.draw(st.booleans()):
                self.buffer.append(answer)
        self.answering = True
        load = load and not self.loaded  # one load a run: the journal it leaves is long
        self.loaded = self.loaded or load
        try:
            load_rounds = LOAD_ROUNDS if load else 0
            end = self.now + load_rounds * TICK_NS + int(self._bound() * 1e9)
            next_cancel = self.now
            round_no = 0
            while self.now < end:
                stopping = round_no >= load_rounds  # a stop halts new orders, then cancels
                if cancel_every is not None and stopping and self.now >= next_cancel:
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
                self._sign_held()  # what waited a round in the signer leaves
                if round_no < load_rounds:
                    self._load_round(data, round_no)
                while self.inbox:
                    request = self.inbox.pop(0)
                    answer, frames = self._apply(request, "a")
                    self.buffer.extend(Frame(f) for f in frames)
                    self.buffer.append(answer)
                self.buffer.extend(self._serve_status(STATUS_PER_ROUND))
                self.now += TICK_NS
                self._handle(TrackerTick(ts_init=self.now))
                round_no += 1
        finally:
            self.answering = False
        for cloid in self.submitted:
            self._assert_agrees(cloid, live_too=True)

    def _load_round(self, data: st.DataObject, round_no: int) -> None:
        """One round of load: new orders wait in the signer; the signer crashes (losing them)
        and the tracker restarts (finding them, and the last round's, not yet reported sent or
        answered) at their cadence."""
        for _ in range(LOAD_ORDERS):
            self._submit("1", "held")
        if round_no % LOAD_SIGNER_CRASH_EVERY == LOAD_SIGNER_CRASH_EVERY - 1:
            self._signer_crash()
        if round_no % LOAD_TRACKER_CRASH_EVERY == LOAD_TRACKER_CRASH_EVERY - 1:
            self._crash(data, fresh_snapshot=True)

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
        """Crash after any prefix: the journal alone rebuilds exactly the live state. (Replayed
        incrementally: a core that has replayed a prefix, fed the records after it, is the
        replay of the whole journal.)"""
        records = self.journal.records
        self.replayed.restore(None, records[self.replayed_upto:])
        self.replayed_upto = len(records)
        assert self.replayed.state_digest() == self.core.state_digest()

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


_ROWS: dict[tuple[S | None, type], set[object]] = {}
for (_source, _trigger), (_target, _event_cls) in lifecycle.TABLE.items():
    _ROWS.setdefault((_source, _event_cls), set()).add(_target)


def _is_table_row(state: S | None, event: OrderEvent) -> bool:
    targets = _ROWS.get((state, type(event)), set())
    if lifecycle.RESTORE in targets and event.order_state in lifecycle.RESTORABLE:
        return True
    return event.order_state in targets


TrackerMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=50, deadline=None
)
test_tracker_machine = TrackerMachine.TestCase
