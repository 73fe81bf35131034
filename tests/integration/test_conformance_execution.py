"""Conformance: `ExecutionCore` end to end against the simulator with the real transports.

The core runs on the test thread, as it runs inside its actor: the transports deliver into a
queue that `Harness.pump` drains into the core's handlers (``later`` timers go through a
`ManualClock` the test advances). The test plays the order tracker and the signer actor: it
turns what execution tells the tracker into `SignOrders` / `SignCancels` / `SignModifies` for
`SignerCore` and feeds the signed actions back to ``ExecutionCore.signed``.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import attrs
import pytest

from actors.executing.core import ExecutionConfig, ExecutionCore, Ports
from actors.execution import ws_url_of
from actors.gating.core import GateConfig, GateCore, GatePorts
from clock import ManualClock
from messages import (
    CancelAnswered,
    CancelOrder,
    ClientOrderId,
    FillsReported,
    ModifyAnswered,
    ModifyOrder,
    OpenOrdersReported,
    OrderNotFoundReported,
    OrderSide,
    OrderStatusReported,
    OrderType,
    RequestFailed,
    SubmitAnswered,
    SubmitOrder,
    SubmitOutcome,
    TimeInForce,
    VenueOrderStatus,
)
from messages.connection import ConnectionStateChanged, ResponseReceived
from messages.enums import RequestKind
from messages.execution import DrainQueue, RenewDeadman, RequestExpired, SignedAction
from messages.signing import (
    ModifyTarget,
    ScheduleCancel,
    SendCredit,
    SignCancels,
    SignModifies,
    SignOrders,
)
from messages.tracking import ReconcileRequested, RequestSent
from tests.conformance_support import TIMEOUT, VenueRig, cancel_target, passive_price
from tests.helpers import eventually
from venues.hyperliquid.transport import HttpTransport, WsPostTransport
from venues.simulator import DEMO_ADDRESS, RunningSimulator

BUY, SELL = OrderSide.BUY, OrderSide.SELL
REQUEST_TIMEOUT_S = 5.0


class Harness:
    """Execution's core with real transports; the test thread is its actor."""

    def __init__(self, sim: RunningSimulator, *, connect_ws: bool = True,
                 deadman_s: float | None = None) -> None:
        self.sim = sim
        self.rig = VenueRig(sim, seed="conformance-execution", connect_ws=False)
        clock = self.rig.clock
        self.inbox: queue.Queue[object] = queue.Queue()
        self.timers = ManualClock()
        self.http = HttpTransport(sim.base_url, self.inbox.put, clock.time_ns,
                                  timeout_s=REQUEST_TIMEOUT_S)
        self.ws = WsPostTransport(ws_url_of(sim.base_url), self.inbox.put, clock.time_ns,
                                  timeout_s=REQUEST_TIMEOUT_S, name="execution-post")
        if connect_ws:
            self.ws.connect()
        self.tracker: list[object] = []
        self.to_signer: list[object] = []
        """What execution asked the signer to sign (its credit grants are counted apart)."""
        self.credit = 0
        self.events: list[object] = []
        ports = Ports(
            tracker=self.tracker.append, signer=self._to_signer,
            events=self.events.append, http=self.http.post, ws=self.ws.post,
            ws_connected=lambda: self.ws.connected, later=self._later,
        )
        self.core = ExecutionCore(
            ExecutionConfig(request_timeout_s=REQUEST_TIMEOUT_S, deadman_s=deadman_s),
            ports, clock.time_ns, account=DEMO_ADDRESS)
        self.gate = GateCore(GateConfig(), self.rig.normalizer("ETH-USD"),
                             GatePorts(tracker=self.tracker.append, events=self.events.append),
                             clock.time_ns, clock.time_ns)
        """Strategies' commands pass the risk gate first (gate → tracker → signer →
        execution)."""
        self.handled: list[object] = []

    def _to_signer(self, message: object) -> None:
        if isinstance(message, SendCredit):
            self.credit = message.actions if message.reset else self.credit + message.actions
        else:
            self.to_signer.append(message)

    def _later(self, delay_s: float, message: object) -> None:
        self.timers.call_later(delay_s, lambda: self.inbox.put(message))

    def close(self) -> None:
        self.ws.close()
        self.http.close()
        self.rig.close()

    def dispatch(self, message: object) -> None:
        """What the execution actor does with its network and timer messages."""
        self.handled.append(message)
        if isinstance(message, ResponseReceived):
            self.core.response(message)
        elif isinstance(message, ConnectionStateChanged):
            self.core.connection_changed(message)
        elif isinstance(message, RequestExpired):
            self.core.expired(message)
        elif isinstance(message, DrainQueue):
            self.core.drain()
        elif isinstance(message, RenewDeadman):
            self.core.renew_deadman(message)
        else:
            raise TypeError(f"unexpected {message!r}")

    def pump(self, until: Callable[[], object], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not until():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{what}: not within {TIMEOUT}s; tracker={self.tracker}")
            try:
                message = self.inbox.get(timeout=remaining)
            except queue.Empty:
                continue
            self.dispatch(message)

    # --- the tracker's and the signer's part -------------------------------------------------

    def sign(
        self, message: SignOrders | SignCancels | SignModifies | ScheduleCancel
    ) -> list[SignedAction]:
        out = self.rig.sign(message)
        assert all(isinstance(a, SignedAction) for a in out), out
        return [a for a in out if isinstance(a, SignedAction)]

    def about(self, cloid: ClientOrderId, kind: type) -> list[object]:
        return [m for m in self.tracker if isinstance(m, kind)
                and (getattr(m, "client_order_id", None) == cloid
                     or cloid in getattr(m, "client_order_ids", ()))]

    def submit(self, order: SubmitOrder) -> SubmitOrder:
        """Strategy → gate → (tracker) → signer → execution: the order is sent."""
        before = len(self.tracker)
        self.gate.submit(order)
        normalized = self.tracker[before]
        assert isinstance(normalized, SubmitOrder), normalized
        (action,) = self.sign(SignOrders(orders=(normalized,),
                                         expires_after_ms=self.rig.sim_ms() + 30_000, ts_init=0))
        self.core.signed(action)
        sent = self.tracker[before + 1]
        assert isinstance(sent, RequestSent)
        assert sent == RequestSent(kind=RequestKind.SUBMIT,
                                   client_order_ids=(order.client_order_id,), nonce=action.nonce,
                                   expires_after_ms=action.expires_after_ms, ts_init=sent.ts_init)
        return normalized

    def answer(self, cloid: ClientOrderId, kind: type) -> object:
        self.pump(lambda: self.about(cloid, kind), f"{kind.__name__} for {cloid}")
        (found,) = self.about(cloid, kind)
        return found


@pytest.fixture
def harness(sim: RunningSimulator) -> Iterator[Harness]:
    h = Harness(sim)
    try:
        yield h
    finally:
        h.close()


def _buy_below(h: Harness, fraction: str = "0.003") -> SubmitOrder:
    """An unrounded resting buy (execution rounds it)."""
    book = h.rig.book("ETH-USD")
    price = passive_price(h.rig, book, BUY, fraction) + Decimal("0.0123")
    return SubmitOrder(client_order_id=h.rig.cloid(), trading_pair="ETH-USD", side=BUY,
                       order_type=OrderType.LIMIT, amount=Decimal("0.012345"), price=price,
                       strategy_id="conformance")


def _failures(h: Harness, cloid: ClientOrderId) -> list[RequestFailed]:
    return [m for m in h.about(cloid, RequestFailed) if isinstance(m, RequestFailed)]


def test_submit_cancel_and_reconcile_over_the_ws_post_channel(harness: Harness) -> None:
    h = harness
    start = h.rig.sim_ms()
    order = _buy_below(h)
    normalized = h.submit(order)
    assert normalized.amount == Decimal("0.0123")  # rounded down to szDecimals 4
    assert normalized.price == h.rig.markets.by_pair("ETH-USD").round_price(
        order.price, is_buy=True, aggressive=False)  # type: ignore[arg-type]
    answer = h.answer(order.client_order_id, SubmitAnswered)
    assert [type(m) for m in h.tracker] == [SubmitOrder, RequestSent, SubmitAnswered]
    assert isinstance(answer, SubmitAnswered)
    assert answer.outcome is SubmitOutcome.RESTING
    venue = h.rig.venue_order(order.client_order_id)
    assert answer.exchange_order_id == venue.oid
    assert (venue.limit_px, venue.orig_sz) == (normalized.price, normalized.amount)
    assert h.core.stats["sent_ws"] == 1
    assert h.core.stats["sent_http"] == 0
    assert [m.transport for m in h.handled if isinstance(m, ResponseReceived)] == ["ws"]

    command = CancelOrder(client_order_id=order.client_order_id, strategy_id="conformance")
    h.gate.cancel(command)
    assert h.tracker[-1] == command  # the tracker knows the order and asks the signer
    (cancel,) = h.sign(SignCancels(targets=(cancel_target(normalized),), ts_init=0))
    h.core.signed(cancel)
    assert isinstance(h.tracker[-1], RequestSent)
    assert h.tracker[-1].kind is RequestKind.CANCEL
    cancelled = h.answer(order.client_order_id, CancelAnswered)
    assert cancelled == CancelAnswered(client_order_id=order.client_order_id, success=True,
                                       error="", ts_init=cancelled.ts_init)  # type: ignore[attr-defined]

    unknown = ClientOrderId.derive("never-sent", 7)
    h.core.reconcile(ReconcileRequested(client_order_ids=(order.client_order_id, unknown),
                                        open_orders=True, fills_since_ms=start, reason="test",
                                        ts_init=0))
    h.pump(lambda: h.about(unknown, OrderNotFoundReported)
           and h.about(order.client_order_id, OrderStatusReported)
           and any(isinstance(m, OpenOrdersReported) for m in h.tracker)
           and any(isinstance(m, FillsReported) for m in h.tracker), "reconciliation")
    (status,) = h.about(order.client_order_id, OrderStatusReported)
    assert isinstance(status, OrderStatusReported)
    assert (status.status, status.raw_status, status.exchange_order_id) == (
        VenueOrderStatus.CANCELLED, "canceled", venue.oid)
    (open_orders,) = [m for m in h.tracker if isinstance(m, OpenOrdersReported)]
    assert open_orders.orders == ()
    (fills,) = [m for m in h.tracker if isinstance(m, FillsReported)]
    assert fills.is_snapshot
    assert fills.fills == ()
    assert h.core.stats["sent_http"] == 0  # queries went over the WS post channel too
    assert h.core.inflight == {}


def test_http_path_when_the_ws_channel_is_down_fill_and_modify(sim: RunningSimulator) -> None:
    h = Harness(sim, connect_ws=False)
    try:
        book = h.rig.book("ETH-USD")
        take = SubmitOrder(client_order_id=h.rig.cloid(), trading_pair="ETH-USD", side=BUY,
                           order_type=OrderType.MARKET, amount=Decimal("0.01"),
                           strategy_id="conformance")
        h.submit(take)
        filled = h.answer(take.client_order_id, SubmitAnswered)
        assert isinstance(filled, SubmitAnswered)
        assert filled.outcome is SubmitOutcome.FILLED
        assert (filled.filled_amount, filled.average_price) == (Decimal("0.01"),
                                                                book.asks[0].price)

        order = _buy_below(h)
        normalized = h.submit(order)
        rested = h.answer(order.client_order_id, SubmitAnswered)
        assert isinstance(rested, SubmitAnswered)
        assert rested.outcome is SubmitOutcome.RESTING

        assert normalized.price is not None
        wanted = normalized.price - Decimal("1.23")
        h.gate.modify(ModifyOrder(client_order_id=order.client_order_id, price=wanted,
                                  strategy_id="conformance"))
        modify = h.tracker[-1]
        assert isinstance(modify, ModifyOrder)
        assert modify.price == h.rig.markets.by_pair("ETH-USD").round_price(
            wanted, is_buy=True, aggressive=False)
        assert modify.price != wanted
        target = ModifyTarget(client_order_id=order.client_order_id,
                              exchange_order_id=rested.exchange_order_id,
                              order=attrs.evolve(normalized, price=modify.price))
        (action,) = h.sign(SignModifies(targets=(target,), ts_init=0))
        h.core.signed(action)
        modified = h.answer(order.client_order_id, ModifyAnswered)
        assert isinstance(modified, ModifyAnswered)
        assert modified.outcome is SubmitOutcome.RESTING
        assert modified.exchange_order_id not in (None, rested.exchange_order_id)
        venue = h.rig.venue_order(order.client_order_id)
        assert (venue.oid, venue.limit_px) == (modified.exchange_order_id, modify.price)
        assert h.core.stats["sent_ws"] == 0
        assert h.core.stats["sent_http"] == 3
        assert {m.transport for m in h.handled if isinstance(m, ResponseReceived)} == {"http"}
    finally:
        h.close()


def test_ws_drop_after_the_venue_acted_resend_is_not_definitive(harness: Harness) -> None:
    """The venue placed the order but its answer is lost with the connection: the HTTP resend
    of the same bytes is refused as a duplicate nonce, which must not fail the order."""
    h = harness
    h.sim.set_faults(ws_drop_next=1)  # the post answer never leaves the venue
    order = _buy_below(h)
    h.submit(order)
    eventually(lambda: h.sim.call(lambda core: core.engine.reg.find(
        DEMO_ADDRESS, order.client_order_id)) is not None, timeout=TIMEOUT)
    assert h.inbox.empty()  # the answer was lost: the request is in flight
    assert h.sim.drop_ws_connections() == 1
    h.pump(lambda: h.about(order.client_order_id, RequestFailed)
           or h.about(order.client_order_id, SubmitAnswered), "an answer to the resend")
    assert h.core.stats["resent"] == 1
    assert any(isinstance(m, ConnectionStateChanged) and not m.connected for m in h.handled)
    (failure,) = _failures(h, order.client_order_id)
    assert not failure.definitive
    assert "identical resend found its nonce used" in failure.reason
    assert h.about(order.client_order_id, SubmitAnswered) == []

    # Reconciliation (over HTTP now) finds the order the venue placed.
    h.core.reconcile(ReconcileRequested(client_order_ids=(order.client_order_id,),
                                        open_orders=False, fills_since_ms=None, reason="test",
                                        ts_init=0))
    status = h.answer(order.client_order_id, OrderStatusReported)
    assert isinstance(status, OrderStatusReported)
    assert status.status is VenueOrderStatus.OPEN
    assert status.exchange_order_id == h.rig.venue_order(order.client_order_id).oid


def test_ws_drop_while_the_request_is_in_flight_never_fails_a_placed_order(
    harness: Harness,
) -> None:
    """The venue is stalled while the post is in flight, the connection drops, the HTTP resend
    waits too; whichever copy the venue runs, the tracker hears the real answer or a
    non-definitive failure — never a definitive failure of the order it placed."""
    h = harness
    order = _buy_below(h)
    h.sim.stall()
    try:
        h.submit(order)
        assert h.sim.drop_ws_connections() == 1
        h.pump(lambda: h.core.stats["resent"] == 1, "the HTTP resend")
    finally:
        h.sim.unstall()
    h.pump(lambda: h.about(order.client_order_id, RequestFailed)
           or h.about(order.client_order_id, SubmitAnswered), "the resend's answer")
    venue = h.rig.venue_order(order.client_order_id)
    assert h.sim.call(lambda core: core.engine.reg.is_live(venue))
    for failure in _failures(h, order.client_order_id):
        assert not failure.definitive, failure
        assert "duplicate nonce" in failure.reason
    for answer in h.about(order.client_order_id, SubmitAnswered):
        assert isinstance(answer, SubmitAnswered)
        assert answer.outcome is SubmitOutcome.RESTING
        assert answer.exchange_order_id == venue.oid


def test_an_unanswered_request_expires_as_not_definitive(harness: Harness) -> None:
    h = harness
    h.sim.set_faults(ws_drop_next=1)
    order = SubmitOrder(client_order_id=h.rig.cloid(), trading_pair="ETH-USD", side=SELL,
                        order_type=OrderType.LIMIT_MAKER, amount=Decimal("0.01"),
                        price=passive_price(h.rig, h.rig.book("ETH-USD"), SELL, "0.004"),
                        time_in_force=TimeInForce.ALO, strategy_id="conformance")
    h.submit(order)
    eventually(lambda: h.sim.call(lambda core: core.engine.reg.find(
        DEMO_ADDRESS, order.client_order_id)) is not None, timeout=TIMEOUT)
    assert h.timers.advance(REQUEST_TIMEOUT_S) == 1  # execution's deadline for the request
    h.pump(lambda: h.about(order.client_order_id, RequestFailed), "the expiry")
    (failure,) = _failures(h, order.client_order_id)
    assert not failure.definitive
    assert failure.reason == f"no answer within {REQUEST_TIMEOUT_S}s"
    assert h.core.stats["expired"] == 1
    assert h.rig.venue_order(order.client_order_id).tif == "Alo"


def test_dead_man_switch_is_set_renewed_cleared_and_refusals_reported(
    sim: RunningSimulator,
) -> None:
    h = Harness(sim, deadman_s=10.0)
    try:
        def deadline() -> int | None:
            return h.sim.call(lambda core: core.engine.scheduled.deadline(DEMO_ADDRESS))

        def relay(instruction: object) -> None:
            """The signer actor's part: sign what execution asked and hand it back."""
            assert isinstance(instruction, ScheduleCancel)
            (action,) = h.sign(instruction)
            assert action.kind is RequestKind.SCHEDULE_CANCEL
            h.core.signed(action)
            h.pump(lambda: not h.core.inflight, "the scheduleCancel answer")

        h.core.renew_deadman(RenewDeadman(ts_init=0))
        (first,) = h.to_signer
        assert isinstance(first, ScheduleCancel)
        assert first.time_ms is not None
        relay(first)
        assert deadline() == first.time_ms
        assert h.events == []

        h.timers.advance(15.0)  # execution's renewal timer
        h.pump(lambda: len(h.to_signer) == 2, "the renewal")
        renewal = h.to_signer[1]
        assert isinstance(renewal, ScheduleCancel)
        assert renewal.time_ms is not None
        assert renewal.time_ms >= first.time_ms
        relay(renewal)
        assert deadline() == renewal.time_ms

        h.core.clear_deadman()
        cleared = h.to_signer[2]
        assert isinstance(cleared, ScheduleCancel)
        assert cleared.time_ms is None
        relay(cleared)
        assert deadline() is None
        assert h.events == []

        relay(ScheduleCancel(time_ms=h.rig.sim_ms() + 1_000, ts_init=0))  # too early
        (refused,) = h.events
        assert isinstance(refused, RequestFailed)
        assert refused.kind is RequestKind.SCHEDULE_CANCEL
        assert refused.definitive
        assert refused.reason == (
            "Scheduled cancel time too early, must be at least 5 seconds from now.")
        assert deadline() is None
    finally:
        h.close()
