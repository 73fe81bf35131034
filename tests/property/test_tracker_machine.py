"""A hypothesis state machine: the order tracker against a model venue.

The model venue keeps the truth (what was placed, filled, cancelled, rejected). Everything it
says reaches the tracker through a delivery buffer that the machine drains in random order,
sometimes delivering a fact twice, while time advances (timeouts), reconciliation requests are
answered from the venue's truth, and the tracker crashes and recovers from its journal.

Invariants after every step: filled <= amount; filled never decreases; terminal states absorb;
each event is one row of the lifecycle table; the fill events of an order sum to its filled
amount; the tracked orders are exactly the submitted ones; the journal recovers the same state;
no event sequence number is ever published twice. A `settle` rule delivers everything, answers
reconciliation from the venue's truth, and checks that the tracker converged to that truth.
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
    CancelAnswered,
    CancelOrder,
    ClientOrderId,
    EvidenceSource,
    OrderAnomalyDetected,
    OrderEvent,
    OrderFilled,
    OrderNotFoundReported,
    OrderSide,
    OrderState,
    OrderType,
    RequestKind,
    SubmitAnswered,
    SubmitOrder,
    SubmitOutcome,
    VenueOrderStatus,
)
from messages.ids import ExchangeOrderId
from messages.tracking import (
    ReconcileRequested,
    RequestSent,
    SignCancels,
    TrackerRecovered,
    TrackerTick,
)
from messages.venue import FillsReported
from tests.tracker_support import T0, ListJournal, fill_report, status_report

S = OrderState
VS = VenueOrderStatus
CANCEL_ERROR = "Order was never placed, already canceled, or filled."


@attrs.define
class VenueOrder:
    cloid: ClientOrderId
    oid: int
    amount: Decimal
    filled: Decimal = Decimal(0)
    state: str = "resting"  # resting | filled | cancelled | rejected
    fills: list[tuple[int, Decimal]] = attrs.field(factory=list)
    cancel_reason: str = "canceled"


class TrackerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.config = TrackerConfig(retention_s=10**6, submit_timeout_s=5, cancel_timeout_s=5,
                                    fill_wait_s=2, submit_expiry_s=20, not_found_grace_s=1)
        self.journal = ListJournal()
        self.core = OrderTrackerCore(self.config, self.journal)
        self.now = T0
        self.venue: dict[ClientOrderId, VenueOrder] = {}
        self.submitted: list[ClientOrderId] = []
        self.buffer: list[Any] = []
        self.events: dict[ClientOrderId, list[OrderEvent]] = {}
        self.published: set[int] = set()
        self.last: dict[ClientOrderId, tuple[S, Decimal]] = {}
        self.next_oid = 1000
        self.next_tid = 1
        self.snapshot: tuple[bytes, int] | None = None

    # --- plumbing ------------------------------------------------------------------------
    def _handle(self, message: object) -> None:
        self.now += 1_000_000
        out = self.core.handle(message, self.now)
        for event in out.events:
            assert isinstance(event, OrderEvent)
            assert event.sequence not in self.published, "event published twice"
            self.published.add(event.sequence)
            self.events.setdefault(event.client_order_id, []).append(event)
        for request in out.outbox:
            if isinstance(request, SignCancels):
                self._venue_cancel_request(request)
            elif isinstance(request, ReconcileRequested):
                self._answer_reconcile(request)

    def _status(self, order: VenueOrder, source: EvidenceSource) -> Any:
        status = {"resting": VS.OPEN, "filled": VS.FILLED, "cancelled": VS.CANCELLED,
                  "rejected": VS.REJECTED}[order.state]
        raw = order.cancel_reason if order.state == "cancelled" else status.value.lower()
        remaining = order.amount - order.filled if order.state != "rejected" else order.amount
        return status_report(order.cloid, order.oid, status, raw, str(order.amount),
                             str(remaining), source, self.now)

    def _fills_of(self, order: VenueOrder) -> list[Any]:
        return [fill_report(order.cloid, order.oid, tid, str(amount), OrderSide.BUY, self.now)
                for tid, amount in order.fills]

    def _venue_cancel_request(self, request: SignCancels) -> None:
        for target in request.targets:
            order = self.venue.get(target.client_order_id)
            self._handle(RequestSent(kind=RequestKind.CANCEL,
                                     client_order_ids=(target.client_order_id,), nonce=0,
                                     expires_after_ms=None, ts_init=self.now))
            if order is not None and order.state == "resting":
                order.state = "cancelled"
                self.buffer.append(CancelAnswered(client_order_id=order.cloid, success=True,
                                                  error="", ts_init=self.now))
                self.buffer.append(self._status(order, EvidenceSource.STREAM))
            else:
                self.buffer.append(CancelAnswered(client_order_id=target.client_order_id,
                                                  success=False, error=CANCEL_ERROR,
                                                  ts_init=self.now))

    def _answer_reconcile(self, request: ReconcileRequested) -> None:
        for cloid in request.client_order_ids:
            order = self.venue.get(cloid)
            if order is None:
                self.buffer.append(OrderNotFoundReported(client_order_id=cloid,
                                                         ts_init=self.now))
            else:
                self.buffer.append(self._status(order, EvidenceSource.QUERY))
        if request.fills_since_ms is not None:
            fills = [f for o in self.venue.values() for f in self._fills_of(o)]
            self.buffer.append(FillsReported(fills=tuple(fills), is_snapshot=False,
                                             ts_init=self.now))

    def _live_venue(self) -> list[VenueOrder]:
        return [o for o in self.venue.values() if o.state == "resting"]

    # --- rules ---------------------------------------------------------------------------
    @rule(amount=st.sampled_from(["1", "2", "3"]), placed=st.sampled_from(["rest", "reject",
                                                                           "unsent"]))
    def submit(self, amount: str, placed: str) -> None:
        cloid = ClientOrderId.derive("machine", len(self.submitted))
        self.submitted.append(cloid)
        self._handle(SubmitOrder(client_order_id=cloid, trading_pair="BTC-USD",
                                 side=OrderSide.BUY, order_type=OrderType.LIMIT,
                                 amount=Decimal(amount), price=Decimal("100")))
        if placed == "unsent":
            return  # execution died before the order left the process
        self._handle(RequestSent(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), nonce=1,
                                 expires_after_ms=None, ts_init=self.now))
        self.next_oid += 1
        order = VenueOrder(cloid=cloid, oid=self.next_oid, amount=Decimal(amount))
        self.venue[cloid] = order
        if placed == "reject":
            order.state = "rejected"
            self.buffer.append(SubmitAnswered(
                client_order_id=cloid, outcome=SubmitOutcome.REJECTED, exchange_order_id=None,
                filled_amount=None, average_price=None, error="Price must be divisible by tick",
                ts_init=self.now))
        else:
            self.buffer.append(SubmitAnswered(
                client_order_id=cloid, outcome=SubmitOutcome.RESTING,
                exchange_order_id=ExchangeOrderId(order.oid), filled_amount=None,
                average_price=None, error="", ts_init=self.now))
            self.buffer.append(self._status(order, EvidenceSource.STREAM))

    @precondition(lambda self: bool(self._live_venue()))
    @rule(data=st.data(), part=st.sampled_from(["0.5", "1", "all"]))
    def venue_fill(self, data: st.DataObject, part: str) -> None:
        order = data.draw(st.sampled_from(self._live_venue()))
        remaining = order.amount - order.filled
        size = remaining if part == "all" else min(Decimal(part), remaining)
        self.next_tid += 1
        order.fills.append((self.next_tid, size))
        order.filled += size
        self.buffer.append(fill_report(order.cloid, order.oid, self.next_tid, str(size),
                                       OrderSide.BUY, self.now))
        if order.filled == order.amount:
            order.state = "filled"
            self.buffer.append(self._status(order, EvidenceSource.STREAM))

    @precondition(lambda self: bool(self._live_venue()))
    @rule(data=st.data(), reason=st.sampled_from(["marginCanceled", "reduceOnlyCanceled",
                                                  "scheduledCancel"]))
    def venue_cancel(self, data: st.DataObject, reason: str) -> None:
        order = data.draw(st.sampled_from(self._live_venue()))
        order.state = "cancelled"
        order.cancel_reason = reason
        self.buffer.append(self._status(order, EvidenceSource.STREAM))

    @precondition(lambda self: bool(self.submitted))
    @rule(data=st.data())
    def our_cancel(self, data: st.DataObject) -> None:
        cloid = data.draw(st.sampled_from(self.submitted))
        self._handle(CancelOrder(client_order_id=cloid))

    @precondition(lambda self: bool(self.buffer))
    @rule(data=st.data(), duplicate=st.booleans())
    def deliver(self, data: st.DataObject, duplicate: bool) -> None:
        index = data.draw(st.integers(0, len(self.buffer) - 1))
        message = self.buffer[index] if duplicate else self.buffer.pop(index)
        self._handle(message)

    @rule(seconds=st.sampled_from([0.5, 3, 6, 25]))
    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1e9)
        self._handle(TrackerTick(ts_init=self.now))

    @rule(use_snapshot=st.booleans())
    def crash_and_recover(self, use_snapshot: bool) -> None:
        if use_snapshot:
            self.snapshot = (self.core.snapshot(), len(self.journal.records))
        recovered = OrderTrackerCore(self.config, self.journal)
        if self.snapshot is not None and use_snapshot:
            blob, mark = self.snapshot
            recovered.restore(blob, self.journal.records[mark:])
        else:
            recovered.restore(None, self.journal.records)
        assert recovered.state_digest() == self.core.state_digest()
        self.core = recovered
        self._handle(TrackerRecovered(ts_init=self.now))

    @rule(data=st.data())
    def settle(self, data: st.DataObject) -> None:
        """Deliver everything, reconcile from the venue's truth, and check convergence."""
        # Long enough for every deadline, expiry and fill wait to pass (bounded rounds).
        for _round in range(15):
            while self.buffer:
                index = data.draw(st.integers(0, len(self.buffer) - 1))
                self._handle(self.buffer.pop(index))
            self.now += int(6 * 1e9)
            self._handle(TrackerTick(ts_init=self.now))
        for cloid in self.submitted:
            view = self.core.get(cloid)
            assert view is not None
            truth = self.venue.get(cloid)
            if truth is None:
                assert view.state is S.FAILED, (cloid, view.state)
                continue
            assert view.filled_amount == truth.filled, (cloid, view, truth)
            expected = {
                "filled": {S.FILLED},
                "cancelled": {S.CANCELLED},
                "rejected": {S.FAILED},
                "resting": {S.OPEN} if truth.filled == 0 else {S.PARTIALLY_FILLED},
            }[truth.state]
            assert view.state in expected, (cloid, view.state, truth.state)

    # --- invariants ----------------------------------------------------------------------
    @invariant()
    def a_crash_now_would_recover_this_state(self) -> None:
        """Crash after any prefix: the journal alone rebuilds exactly the live state."""
        recovered = OrderTrackerCore(self.config)
        recovered.restore(None, self.journal.records)
        assert recovered.state_digest() == self.core.state_digest()

    @invariant()
    def order_invariants(self) -> None:
        tracked = {c for c in self.core.orders}
        assert tracked == set(self.submitted)
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
