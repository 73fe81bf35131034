"""The order tracker against the reorderings and failures the venue produces."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.order_tracking.config import TrackerConfig
from actors.order_tracking.core import OrderTrackerCore
from messages import (
    CancelAll,
    ClientOrderId,
    EvidenceSource,
    ModifyAnswered,
    ModifyOrder,
    OpenOrdersReported,
    OrderAccepted,
    OrderAdopted,
    OrderAnomalyDetected,
    OrderCancelled,
    OrderCancelRejected,
    OrderFailed,
    OrderFilled,
    OrderModified,
    OrderNotFoundReported,
    OrderSide,
    OrderState,
    OrderStatusUnknown,
    RequestFailed,
    RequestKind,
    SubmitOutcome,
    TimeInForce,
    VenueOrderStatus,
)
from messages.ids import ExchangeOrderId
from messages.signing import SignCancels, SignModifies, SignOrders
from messages.tracking import (
    CommandRejected,
    FillUnmatched,
    GetOrder,
    OrderDenied,
    ReconcileRequested,
    TrackerRecovered,
)
from tests.tracker_support import PAIR, Harness, status_report
from tests.tracker_venue import MODIFY_DEAD

S = OrderState
VS = VenueOrderStatus


def _state(h: Harness, cloid: ClientOrderId) -> OrderState:
    order = h.core.get(cloid)
    assert order is not None
    return order.state


def _filled(h: Harness, cloid: ClientOrderId) -> Decimal:
    order = h.core.get(cloid)
    assert order is not None
    return order.filled_amount


def test_happy_path_track_before_submit() -> None:
    h = Harness()
    cloid = h.submit(1, sent=False)
    assert _state(h, cloid) is S.PENDING_CREATE
    assert len(h.journal.records) == 1  # journaled before anything was signed
    assert any(isinstance(o, SignOrders) for o in h.outbox)
    signs = [o for o in h.outbox if isinstance(o, SignOrders)]
    assert signs[0].expires_after_ms is not None
    h.sent(cloid)
    h.answer(cloid, oid=7)
    assert _state(h, cloid) is S.OPEN
    assert h.core.get(cloid).exchange_order_id == 7  # type: ignore[union-attr]
    h.fill(cloid, 7, 1, "0.25")
    assert _state(h, cloid) is S.PARTIALLY_FILLED
    h.fill(cloid, 7, 2, "0.75")
    assert _state(h, cloid) is S.FILLED
    types = [type(e).__name__ for e in h.order_events(cloid)]
    assert types == ["OrderTracked", "OrderSubmitted", "OrderAccepted", "OrderFilled",
                     "OrderFilled"]
    seqs = [e.sequence for e in h.order_events(cloid)]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)


def test_fill_before_ack_converges() -> None:
    a, b = Harness(), Harness()
    ca, cb = a.submit(1), b.submit(1)
    a.fill(ca, 9, 1, "1")
    a.answer(ca, SubmitOutcome.FILLED, oid=9, filled="1")
    b.answer(cb, SubmitOutcome.FILLED, oid=9, filled="1")
    assert _state(b, cb) is S.SUBMITTED or _state(b, cb) is S.OPEN  # waiting for the fill
    b.fill(cb, 9, 1, "1")
    for h, c in ((a, ca), (b, cb)):
        assert _state(h, c) is S.FILLED
        assert _filled(h, c) == 1


def test_ioc_partial_waits_for_its_fills_then_cancels() -> None:
    h = Harness()
    cloid = h.submit(1, amount="2", tif=TimeInForce.IOC)
    h.answer(cloid, SubmitOutcome.FILLED, oid=3, filled="0.5")
    assert not _state(h, cloid).is_terminal
    h.fill(cloid, 3, 11, "0.5")
    assert _state(h, cloid) is S.CANCELLED
    assert _filled(h, cloid) == Decimal("0.5")
    names = [type(e).__name__ for e in h.order_events(cloid)][-2:]
    assert names == ["OrderFilled", "OrderCancelled"]


def test_cancel_ack_after_fill_and_late_fill_after_cancel() -> None:
    h = Harness()
    cloid = h.submit(1, amount="2")
    h.answer(cloid, oid=5)
    h.fill(cloid, 5, 1, "0.5")
    h.cancel(cloid)
    assert _state(h, cloid) is S.PENDING_CANCEL
    assert any(isinstance(o, SignCancels) for o in h.outbox)
    h.cancel_answer(cloid)
    assert _state(h, cloid) is S.CANCELLED
    h.fill(cloid, 5, 2, "0.25")  # a fill that happened before the cancel, reported late
    assert _state(h, cloid) is S.CANCELLED
    assert _filled(h, cloid) == Decimal("0.75")
    late = h.order_events(cloid)[-1]
    assert isinstance(late, OrderFilled)
    assert late.late


def test_duplicate_fills_are_booked_once() -> None:
    h = Harness()
    cloid = h.submit(1, amount="2")
    for _ in range(3):
        h.fill(cloid, 5, 1, "0.5")
    assert _filled(h, cloid) == Decimal("0.5")
    assert sum(isinstance(e, OrderFilled) for e in h.order_events(cloid)) == 1


def test_overfill_is_an_anomaly_not_a_crash() -> None:
    h = Harness()
    cloid = h.submit(1, amount="1")
    h.fill(cloid, 5, 1, "0.8")
    h.fill(cloid, 5, 2, "0.5")
    assert _filled(h, cloid) == 1
    assert _state(h, cloid) is S.FILLED
    anomalies = [e for e in h.order_events(cloid) if isinstance(e, OrderAnomalyDetected)]
    assert anomalies
    assert "overfill" in anomalies[0].reason
    h.fill(cloid, 5, 3, "0.1")  # after FILLED: nothing fits
    assert _filled(h, cloid) == 1


def test_fill_for_the_wrong_side_is_not_booked() -> None:
    h = Harness()
    cloid = h.submit(1)
    h.fill(cloid, 5, 1, "0.5", side=OrderSide.SELL)
    assert _filled(h, cloid) == 0
    assert isinstance(h.order_events(cloid)[-1], OrderAnomalyDetected)


def test_rejection_fails_the_order() -> None:
    h = Harness()
    cloid = h.submit(1)
    h.answer(cloid, SubmitOutcome.REJECTED, error="Order must have minimum value of $10.")
    assert _state(h, cloid) is S.FAILED
    last = h.order_events(cloid)[-1]
    assert isinstance(last, OrderFailed)
    assert "minimum value" in last.reason


@pytest.mark.parametrize(
    "raw", ["canceled", "marginCanceled", "reduceOnlyCanceled", "scheduledCancel",
            "selfTradeCanceled", "siblingFilledCanceled", "liquidatedCanceled"],
)
def test_venue_cancels_end_the_order(raw: str) -> None:
    h = Harness()
    cloid = h.submit(1)
    h.answer(cloid, oid=5)
    h.status(cloid, 5, VS.CANCELLED, raw=raw, orig="1", remaining="1")
    assert _state(h, cloid) is S.CANCELLED
    last = h.order_events(cloid)[-1]
    assert isinstance(last, OrderCancelled)
    assert last.reason == raw


def test_cancelled_status_waits_for_reported_fills() -> None:
    h = Harness()
    cloid = h.submit(1, amount="2")
    h.answer(cloid, oid=5)
    h.status(cloid, 5, VS.CANCELLED, raw="canceled", orig="2", remaining="1.5")
    assert not _state(h, cloid).is_terminal  # venue filled 0.5 we have not seen yet
    h.fill(cloid, 5, 1, "0.5")
    assert _state(h, cloid) is S.CANCELLED
    assert _filled(h, cloid) == Decimal("0.5")


def test_missing_fills_are_queried_from_the_orders_own_time_until_they_arrive() -> None:
    cfg = TrackerConfig(fill_wait_s=1, fill_wait_attempts=2)
    h = Harness(cfg)
    cloid = h.submit(1)
    created_ms = h.core.orders[cloid].created_ns // 1_000_000
    h.answer(cloid, SubmitOutcome.FILLED, oid=5, filled="1")
    queries: list[ReconcileRequested] = []
    for _ in range(5):
        out = h.advance(1.1)
        queries += [o for o in out.outbox
                    if isinstance(o, ReconcileRequested) and o.fills_since_ms is not None]
    assert len(queries) >= 3  # it keeps asking past fill_wait_attempts (then less often)
    assert all(q.fills_since_ms == created_ms - 5_000 for q in queries)
    anomalies = [e for e in h.order_events(cloid) if isinstance(e, OrderAnomalyDetected)]
    assert len(anomalies) == 1  # reported once
    assert not _state(h, cloid).is_terminal  # never FILLED without its fills
    h.fill(cloid, 5, 1, "1")
    assert _state(h, cloid) is S.FILLED


def test_timeout_is_never_a_failure() -> None:
    h = Harness(TrackerConfig(submit_timeout_s=5))
    cloid = h.submit(1)
    out = h.advance(6)
    assert _state(h, cloid) is S.UNKNOWN
    assert isinstance(h.order_events(cloid)[-1], OrderStatusUnknown)
    requests = [o for o in out.outbox if isinstance(o, ReconcileRequested)]
    assert requests
    assert cloid in requests[0].client_order_ids
    h.status(cloid, 5, VS.OPEN, source=EvidenceSource.QUERY)
    assert _state(h, cloid) is S.OPEN


def test_unknown_order_not_found_after_expiry_is_never_placed() -> None:
    h = Harness(TrackerConfig(submit_timeout_s=5, submit_expiry_s=10, not_found_grace_s=1))
    cloid = h.submit(1)
    h.advance(6)
    h.send(OrderNotFoundReported(client_order_id=cloid, ts_init=h.now))
    assert _state(h, cloid) is S.UNKNOWN  # might still be in flight: not proof yet
    h.advance(6)
    h.send(OrderNotFoundReported(client_order_id=cloid, ts_init=h.now))
    assert _state(h, cloid) is S.FAILED
    assert "never placed" in h.order_events(cloid)[-1].reason  # type: ignore[attr-defined]


def test_not_found_without_expiry_needs_repeated_evidence() -> None:
    cfg = TrackerConfig(submit_expiry_s=None, not_found_limit=3, lost_min_age_s=10)
    h = Harness(cfg)
    cloid = h.submit(1)
    for _ in range(2):
        h.advance(6)
        h.send(OrderNotFoundReported(client_order_id=cloid, ts_init=h.now))
    assert not _state(h, cloid).is_terminal
    h.advance(6)
    h.send(OrderNotFoundReported(client_order_id=cloid, ts_init=h.now))
    assert _state(h, cloid) is S.FAILED


def test_request_failures() -> None:
    h = Harness()
    definitive = h.submit(1)
    h.send(RequestFailed(kind=RequestKind.SUBMIT, client_order_ids=(definitive,),
                         reason="L1 error: bad nonce", definitive=True, ts_init=h.now))
    assert _state(h, definitive) is S.FAILED
    unsure = h.submit(2)
    out = h.send(RequestFailed(kind=RequestKind.SUBMIT, client_order_ids=(unsure,),
                               reason="timeout", definitive=False, ts_init=h.now))
    assert _state(h, unsure) is S.UNKNOWN
    assert any(isinstance(o, ReconcileRequested) for o in out.outbox)


def test_cancel_refused_because_filled_resolves_through_status() -> None:
    h = Harness()
    cloid = h.submit(1)
    h.answer(cloid, oid=5)
    h.cancel(cloid)
    h.cancel_answer(cloid, success=False,
                    error="Order was never placed, already canceled, or filled.")
    assert _state(h, cloid) is S.UNKNOWN
    h.status(cloid, 5, VS.FILLED, raw="filled", orig="1", remaining="0",
             source=EvidenceSource.QUERY)
    h.fill(cloid, 5, 1, "1")
    assert _state(h, cloid) is S.FILLED


def test_cancel_rejected_restores_the_previous_state() -> None:
    h = Harness()
    cloid = h.submit(1, amount="2")
    h.answer(cloid, oid=5)
    h.cancel(cloid)
    h.fill(cloid, 5, 1, "0.5")
    assert _state(h, cloid) is S.PENDING_CANCEL
    h.cancel_answer(cloid, success=False, error="rate limited")
    assert _state(h, cloid) is S.PARTIALLY_FILLED
    assert isinstance(h.order_events(cloid)[-1], OrderCancelRejected)


def test_cancel_before_send_goes_out_after_the_order() -> None:
    h = Harness()
    cloid = h.submit(1, sent=False)
    h.cancel(cloid)
    assert _state(h, cloid) is S.PENDING_CREATE
    assert not any(isinstance(o, SignCancels) for o in h.outbox)
    h.sent(cloid)
    assert _state(h, cloid) is S.PENDING_CANCEL
    assert any(isinstance(o, SignCancels) for o in h.outbox)


def test_cancel_of_unknown_or_terminal_orders_is_rejected_clearly() -> None:
    h = Harness()
    h.cancel(ClientOrderId.derive("nobody", 1))
    cloid = h.submit(1)
    h.fill(cloid, 5, 1, "1")
    h.cancel(cloid)
    rejected = [o for o in h.outbox if isinstance(o, CommandRejected)]
    assert [r.reason for r in rejected] == ["unknown order", "order is already FILLED"]


def test_cancel_all_batches_and_filters() -> None:
    h = Harness()
    ids = [h.submit(i) for i in range(4)]
    for i, cloid in enumerate(ids):
        h.answer(cloid, oid=100 + i)
    h.send(CancelAll(trading_pair=PAIR))
    batches = [o for o in h.outbox if isinstance(o, SignCancels)]
    assert len(batches) == 1
    assert {t.client_order_id for t in batches[0].targets} == set(ids)
    assert all(_state(h, c) is S.PENDING_CANCEL for c in ids)
    h.send(CancelAll(trading_pair="ETH-USD"))
    assert len([o for o in h.outbox if isinstance(o, SignCancels)]) == 1


def test_modify_replaces_the_exchange_id_in_either_order() -> None:
    for order in ("answer_first", "stream_first"):
        h = Harness()
        cloid = h.submit(1)
        h.answer(cloid, oid=5)
        h.send(ModifyOrder(client_order_id=cloid, price=Decimal("101")))
        assert any(isinstance(o, SignModifies) for o in h.outbox)
        if order == "stream_first":
            h.status(cloid, 5, VS.CANCELLED, raw="canceled")  # old leg cancelled
            h.status(cloid, 6, VS.OPEN, price="101")  # new leg
        h.send(ModifyAnswered(client_order_id=cloid, outcome=SubmitOutcome.RESTING,
                              exchange_order_id=ExchangeOrderId(6), error="", ts_init=h.now))
        if order == "answer_first":
            h.status(cloid, 5, VS.CANCELLED, raw="canceled")
            h.status(cloid, 6, VS.OPEN, price="101")
        order_view = h.core.get(cloid)
        assert order_view is not None
        assert order_view.state is S.OPEN, order
        assert order_view.exchange_order_id == 6
        assert order_view.price == 101
        assert sum(isinstance(e, OrderModified) for e in h.order_events(cloid)) == 1
        h.fill(cloid, 5, 1, "0.1")  # a late fill on the old leg still counts
        assert _filled(h, cloid) == Decimal("0.1")


def test_a_venue_cancel_during_a_modify_is_not_the_modifys() -> None:
    h = Harness()
    cloid = h.submit(1)
    h.answer(cloid, oid=5)
    h.send(ModifyOrder(client_order_id=cloid, amount=Decimal("2")))
    # A modify cancels the old leg with plain "canceled"; a margin cancel is the venue's own.
    h.status(cloid, 5, VS.CANCELLED, raw="marginCanceled")
    assert _state(h, cloid) is S.CANCELLED
    h.send(ModifyAnswered(client_order_id=cloid, outcome=SubmitOutcome.REJECTED,
                          exchange_order_id=None, error=MODIFY_DEAD, ts_init=h.now))
    assert _state(h, cloid) is S.CANCELLED
    last = h.order_events(cloid)[-1]
    assert isinstance(last, OrderCancelled)
    assert last.reason == "marginCanceled"


def test_unrecognized_status_is_queried_never_guessed() -> None:
    h = Harness()
    cloid = h.submit(1)
    h.answer(cloid, oid=5)
    out = h.status(cloid, 5, VS.UNRECOGNIZED, raw="brandNewStatus")
    assert _state(h, cloid) is S.OPEN
    requests = [o for o in out.outbox if isinstance(o, ReconcileRequested)]
    assert requests
    assert requests[0].client_order_ids == (cloid,)


def test_denied_orders_are_tracked_and_failed() -> None:
    h = Harness()
    from messages import OrderType, SubmitOrder

    order = SubmitOrder(client_order_id=ClientOrderId.derive("d", 1), trading_pair=PAIR,
                        side=OrderSide.BUY, order_type=OrderType.LIMIT, amount=Decimal(1),
                        price=Decimal("1"))
    h.send(OrderDenied(order=order, reason="below minimum notional", ts_init=h.now))
    events = h.order_events(order.client_order_id)
    assert [type(e).__name__ for e in events] == ["OrderTracked", "OrderFailed"]


def test_duplicate_client_order_id_is_rejected() -> None:
    h = Harness()
    h.submit(1)
    h.submit(1, sent=False)
    assert any(isinstance(o, CommandRejected) and "duplicate" in o.reason for o in h.outbox)


def test_unmatched_fill_is_held_until_its_order_appears() -> None:
    h = Harness()
    out = h.fill(None, 42, 1, "0.5")
    assert any(isinstance(o, FillUnmatched) for o in out.outbox)
    cloid = h.submit(1)
    h.answer(cloid, oid=42)
    assert _filled(h, cloid) == Decimal("0.5")


def test_reconciliation_adopts_or_cancels_unknown_venue_orders() -> None:
    for policy in ("adopt", "cancel"):
        h = Harness(TrackerConfig(external_orders=policy))
        report = status_report(None, 77, VS.OPEN, "open", "3", "2", EvidenceSource.QUERY, h.now,
                               OrderSide.SELL)
        h.send(OpenOrdersReported(orders=(report,), ts_init=h.now))
        adopted = [e for e in h.events if isinstance(e, OrderAdopted)]
        assert len(adopted) == 1
        cloid = adopted[0].client_order_id
        expected = S.OPEN if policy == "adopt" else S.PENDING_CANCEL
        assert _state(h, cloid) is expected
        view = h.core.get(cloid)
        assert view is not None
        assert view.external
        assert view.amount == 2
        if policy == "cancel":
            targets = [t for o in h.outbox if isinstance(o, SignCancels) for t in o.targets]
            assert targets[0].by_exchange_id
            assert targets[0].exchange_order_id == 77


def test_live_orders_missing_from_open_orders_are_queried() -> None:
    h = Harness()
    cloid = h.submit(1)
    h.answer(cloid, oid=5)
    h.tick(30)
    out = h.send(OpenOrdersReported(orders=(), ts_init=h.now))
    requests = [o for o in out.outbox if isinstance(o, ReconcileRequested)]
    assert requests
    assert cloid in requests[0].client_order_ids


def test_terminal_orders_leave_memory_after_retention() -> None:
    h = Harness(TrackerConfig(retention_s=60))
    cloid = h.submit(1)
    h.fill(cloid, 5, 1, "1")
    h.advance(30)
    assert h.core.get(cloid) is not None
    h.advance(31)
    assert h.core.get(cloid) is None
    h.fill(cloid, 5, 1, "1")  # a replayed fill of the evicted order is still a duplicate
    assert not any(isinstance(o, FillUnmatched) for o in h.outbox)


def test_queries() -> None:
    h = Harness()
    a, b = h.submit(1), h.submit(2)
    h.fill(b, 9, 1, "1")
    assert [o.client_order_id for o in h.core.open_orders()] == [a]
    assert h.core.open_orders(trading_pair="ETH-USD") == ()
    assert {o.client_order_id for o in h.core.orders_of_pair(PAIR)} == {a, b}
    fills = h.core.fills(b)
    assert len(fills) == 1
    assert fills[0].amount == 1
    view = h.core.get(b)
    assert view is not None
    assert view.average_fill_price == 100
    with pytest.raises(TypeError, match="does not handle"):
        h.core.handle(GetOrder(client_order_id=a), h.now)


def test_replay_rebuilds_state_without_emitting() -> None:
    h = Harness()
    a = h.submit(1)
    h.answer(a, oid=5)
    h.fill(a, 5, 1, "0.5")
    b = h.submit(2, sent=False)
    fresh = OrderTrackerCore(h.core.config)
    replayed = fresh.restore(None, h.journal.records)
    assert replayed == len(h.journal.records)
    assert fresh.state_digest() == h.core.state_digest()
    out = fresh.handle(TrackerRecovered(ts_init=h.now), h.tick())
    # b may have been sent before the crash: unknown, reconciled — never re-sent.
    assert fresh.get(b).state is S.UNKNOWN  # type: ignore[union-attr]
    assert not any(isinstance(o, SignOrders) for o in out.outbox)
    reconcile = [o for o in out.outbox if isinstance(o, ReconcileRequested)]
    assert reconcile[0].open_orders
    assert reconcile[0].fills_since_ms is not None
    assert [getattr(e, "sequence", None) for e in out.events] == [h.core.sequence + 1]


def test_snapshot_plus_tail_equals_full_replay() -> None:
    h = Harness()
    a = h.submit(1)
    h.answer(a, oid=5)
    snap = h.core.snapshot()
    mark = len(h.journal.records)
    h.fill(a, 5, 1, "0.5")
    h.submit(2)
    via_snapshot = OrderTrackerCore(h.core.config)
    via_snapshot.restore(snap, h.journal.records[mark:])
    full = OrderTrackerCore(h.core.config)
    full.restore(None, h.journal.records)
    assert via_snapshot.state_digest() == full.state_digest() == h.core.state_digest()


def test_accepted_event_carries_the_exchange_id() -> None:
    h = Harness()
    cloid = h.submit(1)
    h.answer(cloid, oid=12)
    accepted = [e for e in h.order_events(cloid) if isinstance(e, OrderAccepted)]
    assert accepted[0].exchange_order_id == 12


def test_non_user_cancel_is_resolved_by_exchange_id() -> None:
    from messages import NonUserCancelReported

    h = Harness()
    cloid = h.submit(1)
    h.answer(cloid, oid=55)
    out = h.send(NonUserCancelReported(exchange_order_id=ExchangeOrderId(55), trading_pair=PAIR,
                                       ts_init=h.now))
    assert _state(h, cloid) is S.CANCELLED
    assert any(isinstance(o, ReconcileRequested) for o in out.outbox)
    h.fill(cloid, 55, 1, "0.5")  # a fill from before the venue's cancel is still booked
    assert _filled(h, cloid) == Decimal("0.5")
