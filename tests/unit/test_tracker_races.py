"""The order tracker against modify/cancel races, lost answers and lost fills (issue 10).

Each test replays one interleaving the local exchange produces (a modify is cancel-and-replace
under the same cloid, PROTOCOL §5.4) and checks that the order ends as the venue's status for
the cloid says (docs/order-lifecycle.md, "What the venue's status means").
"""

from __future__ import annotations

from decimal import Decimal

from actors.order_tracking.core import OrderTrackerCore
from actors.order_tracking.stage import TrackerConfig
from messages import (
    CancelOrder,
    ClientOrderId,
    EvidenceSource,
    ModifyAnswered,
    ModifyOrder,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderModified,
    OrderNotFoundReported,
    OrderState,
    RequestFailed,
    RequestKind,
    SubmitOutcome,
    VenueOrderStatus,
)
from messages.ids import ExchangeOrderId
from messages.tracking import (
    CommandRejected,
    FillsQuery,
    ReconcileRequested,
    RequestSent,
    SignModifies,
    SignOrders,
    TrackerTick,
)
from messages.venue import FillsReported, NonceInvalidated
from tests.tracker_support import Harness, fill_report
from tests.tracker_venue import ALO_ERROR, MODIFY_DEAD

S = OrderState
VS = VenueOrderStatus
Q = EvidenceSource.QUERY


def _state(h: Harness, cloid: ClientOrderId) -> OrderState:
    order = h.core.get(cloid)
    assert order is not None
    return order.state


def _open(h: Harness, n: int = 1, amount: str = "1", oid: int = 5) -> ClientOrderId:
    cloid = h.submit(n, amount=amount)
    h.answer(cloid, oid=oid)
    assert _state(h, cloid) is S.OPEN
    return cloid


def _modify(h: Harness, cloid: ClientOrderId, price: str = "101",
            amount: str | None = None) -> None:
    h.send(ModifyOrder(client_order_id=cloid, price=Decimal(price),
                       amount=None if amount is None else Decimal(amount)))
    h.sent(cloid, RequestKind.MODIFY)


def _modify_answer(h: Harness, cloid: ClientOrderId, oid: int | None,
                   outcome: SubmitOutcome = SubmitOutcome.RESTING, error: str = "") -> None:
    h.send(ModifyAnswered(client_order_id=cloid, outcome=outcome,
                          exchange_order_id=None if oid is None else ExchangeOrderId(oid),
                          error=error, ts_init=h.now))


def _status_queries(h: Harness, cloid: ClientOrderId) -> int:
    return sum(isinstance(o, ReconcileRequested) and cloid in o.client_order_ids
               for o in h.outbox)


def _fill_queries(h: Harness) -> list[ReconcileRequested]:
    return [o for o in h.outbox
            if isinstance(o, ReconcileRequested) and o.fills_since_ms is not None]


def _answer_fills(h: Harness, request: ReconcileRequested, *fills: object) -> None:
    h.send(FillsReported(fills=tuple(fills), is_snapshot=True,  # type: ignore[arg-type]
                         ts_init=h.now, query=request.fills_query))


def _no_cancel_event(h: Harness, cloid: ClientOrderId) -> bool:
    return not any(isinstance(e, OrderCancelled) for e in h.order_events(cloid))


# --- a filled replacement ends FILLED ------------------------------------------------------


def test_a_replacement_filled_after_a_lost_modify_answer_ends_filled() -> None:
    """The issue's race: update OPEN 4021→4088, cancelled 4088 "canceled", then the
    replacement 4089 filled — and the order ended CANCELLED with no filled event."""
    h = Harness()
    cloid = _open(h)
    _modify(h, cloid)
    h.send(RequestFailed(kind=RequestKind.MODIFY, client_order_ids=(cloid,), reason="HTTP 502",
                         definitive=False, ts_init=h.now))
    assert _state(h, cloid) is S.UNKNOWN
    assert _status_queries(h, cloid) == 1
    h.status(cloid, 5, VS.CANCELLED, raw="canceled")  # the modify's cancel of the old leg
    assert _state(h, cloid) is S.UNKNOWN  # held: never the end of the order
    h.fill(cloid, 6, 1, "1")  # the replacement fills
    assert _state(h, cloid) is S.FILLED
    assert _no_cancel_event(h, cloid)
    last = h.order_events(cloid)[-1]
    assert isinstance(last, OrderFilled)
    assert last.exchange_order_id == 6
    assert last.price == 101


def test_the_old_legs_cancel_after_a_modify_timeout_waits_for_the_venue() -> None:
    h = Harness(TrackerConfig(modify_timeout_s=5))
    cloid = _open(h)
    _modify(h, cloid)
    h.advance(6)  # no answer: unknown, never dropped
    assert _state(h, cloid) is S.UNKNOWN
    h.status(cloid, 5, VS.CANCELLED, raw="canceled")
    assert _state(h, cloid) is S.UNKNOWN
    h.status(cloid, 6, VS.OPEN, orig="1", remaining="1", source=Q, price="101")
    view = h.core.get(cloid)
    assert view is not None
    assert (view.state, view.exchange_order_id, view.price) == (S.OPEN, 6, 101)
    h.status(cloid, 5, VS.CANCELLED, raw="canceled")  # again, late: about a replaced leg
    assert _state(h, cloid) is S.OPEN


def test_a_cancel_by_cloid_racing_a_modify_ends_cancelled_either_way() -> None:
    for first in ("modify", "cancel"):
        h = Harness()
        cloid = _open(h)
        _modify(h, cloid)
        h.send(CancelOrder(client_order_id=cloid))
        assert _state(h, cloid) is S.PENDING_CANCEL
        if first == "modify":  # the modify replaced leg 5 by 6, then the cancel hit 6
            h.status(cloid, 5, VS.CANCELLED, raw="canceled")
            h.status(cloid, 6, VS.OPEN, price="101")
            assert h.core.get(cloid).exchange_order_id == 6  # type: ignore[union-attr]
            h.status(cloid, 6, VS.CANCELLED, raw="canceled")
            h.cancel_answer(cloid)
            _modify_answer(h, cloid, 6)
        else:  # the cancel hit 5; the modify found nothing live
            h.status(cloid, 5, VS.CANCELLED, raw="canceled")
            h.cancel_answer(cloid)
            _modify_answer(h, cloid, None, SubmitOutcome.REJECTED, MODIFY_DEAD)
        assert _state(h, cloid) is S.CANCELLED, first
        assert sum(isinstance(e, OrderCancelled) for e in h.order_events(cloid)) == 1


def test_modify_sizes_the_replacement_to_what_is_left_and_counts_late_old_leg_fills() -> None:
    h = Harness()
    cloid = _open(h, amount="3")
    h.fill(cloid, 5, 1, "1")
    _modify(h, cloid)
    sign = [o for o in h.outbox if isinstance(o, SignModifies)][-1]
    assert sign.targets[0].order.amount == 2  # the venue places a fresh order of this size
    assert sign.expires_after_ms is not None
    _modify_answer(h, cloid, 6)
    view = h.core.get(cloid)
    assert view is not None
    assert (view.amount, view.filled_amount, view.exchange_order_id) == (3, 1, 6)
    # A fill of the old leg from before the modify, reported late: the replacement was sized
    # without it, so the order can fill that much more.
    h.fill(cloid, 5, 2, "0.5")
    view = h.core.get(cloid)
    assert view is not None
    assert (view.amount, view.filled_amount) == (Decimal("3.5"), Decimal("1.5"))
    h.fill(cloid, 6, 3, "2")
    assert _state(h, cloid) is S.FILLED


# --- rejected replacements -----------------------------------------------------------------


def test_a_rejected_alo_replacement_fails_with_the_venues_status() -> None:
    h = Harness()
    cloid = _open(h)
    _modify(h, cloid)
    h.status(cloid, 5, VS.CANCELLED, raw="canceled")
    _modify_answer(h, cloid, None, SubmitOutcome.REJECTED, ALO_ERROR)
    assert _state(h, cloid) is S.UNKNOWN  # the old leg is gone: the venue's status decides
    assert _status_queries(h, cloid) == 1
    h.status(cloid, 6, VS.REJECTED, raw="badAloPxRejected", orig="1", remaining="1", source=Q)
    assert not _state(h, cloid).is_terminal  # are there fills the stream lost?
    request = _fill_queries(h)[-1]
    assert request.fills_query is not None
    assert request.fills_since_ms <= h.core.orders[cloid].created_ns // 1_000_000
    _answer_fills(h, request)
    assert _state(h, cloid) is S.FAILED
    last = h.order_events(cloid)[-1]
    assert isinstance(last, OrderFailed)
    assert last.reason == "badAloPxRejected"


def test_a_rejected_replacement_of_a_partly_filled_order_ends_cancelled() -> None:
    h = Harness()
    cloid = _open(h, amount="2")
    h.fill(cloid, 5, 1, "0.5")
    _modify(h, cloid)
    _modify_answer(h, cloid, None, SubmitOutcome.REJECTED, ALO_ERROR)
    assert _state(h, cloid) is S.PARTIALLY_FILLED  # maybe refused before anything changed
    h.status(cloid, 6, VS.REJECTED, raw="badAloPxRejected", orig="1.5", remaining="1.5")
    assert _state(h, cloid) is S.CANCELLED
    last = h.order_events(cloid)[-1]
    assert isinstance(last, OrderCancelled)
    assert last.reason == "badAloPxRejected"


def test_a_rejected_replacement_with_a_lost_old_leg_fill_ends_cancelled() -> None:
    h = Harness()
    cloid = _open(h)
    _modify(h, cloid)
    _modify_answer(h, cloid, None, SubmitOutcome.REJECTED, ALO_ERROR)
    h.status(cloid, 6, VS.REJECTED, raw="badAloPxRejected", orig="1", remaining="1", source=Q)
    request = _fill_queries(h)[-1]
    _answer_fills(h, request, fill_report(cloid, 5, 1, "0.25", h.core.orders[cloid].side,
                                          h.now))
    assert _state(h, cloid) is S.CANCELLED
    view = h.core.get(cloid)
    assert view is not None
    assert view.filled_amount == Decimal("0.25")


def test_a_refused_modify_that_left_the_order_alone_is_confirmed_by_the_venue() -> None:
    h = Harness()
    cloid = _open(h)
    _modify(h, cloid)
    _modify_answer(h, cloid, None, SubmitOutcome.REJECTED, "Price must be divisible by tick size.")
    assert _state(h, cloid) is S.OPEN
    assert _status_queries(h, cloid) == 1
    h.send(ModifyOrder(client_order_id=cloid, price=Decimal("103")))  # not until settled
    assert [o.reason for o in h.outbox if isinstance(o, CommandRejected)] == [
        "a modify is already in flight"]
    h.status(cloid, 5, VS.OPEN, source=Q)
    names = [type(e).__name__ for e in h.order_events(cloid)]
    assert names[-1] == "OrderModifyRejected"
    assert h.core.orders[cloid].pending_modify is None


# --- dead orders and lost fills ------------------------------------------------------------


def test_cannot_modify_a_dead_order_reconciles_at_once_and_books_the_lost_fill() -> None:
    h = Harness()
    cloid = _open(h)
    _modify(h, cloid)
    _modify_answer(h, cloid, None, SubmitOutcome.REJECTED, MODIFY_DEAD)
    assert _state(h, cloid) is S.UNKNOWN  # the strategy hears it; modifies are refused
    assert _status_queries(h, cloid) == 1
    h.send(ModifyOrder(client_order_id=cloid, price=Decimal("99")))
    assert any(isinstance(o, CommandRejected) for o in h.outbox)
    h.status(cloid, 5, VS.FILLED, raw="filled", orig="1", remaining="0", source=Q)
    request = _fill_queries(h)[-1]  # asked at once: a filled status from a query
    _answer_fills(h, request, fill_report(cloid, 5, 1, "1", h.core.orders[cloid].side, h.now))
    assert _state(h, cloid) is S.FILLED


def test_a_lost_fill_older_than_the_last_fill_seen_is_fetched_from_the_orders_time() -> None:
    h = Harness()
    old = _open(h, 1)
    created_ms = h.core.orders[old].created_ns // 1_000_000
    h.tick(60)
    other = _open(h, 2, oid=7)
    h.fill(other, 7, 9, "1")  # the last fill seen is now a minute after `old` was placed
    out = h.status(old, 5, VS.OPEN, orig="1", remaining="0.5", source=Q)
    requests = [o for o in out.outbox if isinstance(o, ReconcileRequested)]
    assert requests
    assert requests[0].fills_since_ms == created_ms - 5_000


def test_fill_pages_are_followed_from_the_last_fill_time() -> None:
    h = Harness(TrackerConfig(fills_page_size=2))
    cloid = _open(h, amount="3")
    side = h.core.orders[cloid].side
    query = FillsQuery(since_ms=1000, origin_ms=1000, requested_ns=h.now)
    page = (fill_report(cloid, 5, 1, "1", side, h.now - 2_000_000),
            fill_report(cloid, 5, 2, "1", side, h.now))
    out = h.send(FillsReported(fills=page, is_snapshot=True, ts_init=h.now, query=query))
    (request,) = [o for o in out.outbox if isinstance(o, ReconcileRequested)]
    assert request.fills_since_ms == h.now // 1_000_000 - 1
    assert request.fills_query == FillsQuery(since_ms=request.fills_since_ms, origin_ms=1000,
                                             requested_ns=query.requested_ns)


# --- the never-placed proof and noop proofs ------------------------------------------------


def test_the_never_placed_proof_is_asked_exactly_at_the_exact_expiry() -> None:
    h = Harness(TrackerConfig(submit_timeout_s=1, submit_expiry_s=30, not_found_grace_s=2,
                              unknown_requery_s=3))
    cloid = h.submit(1, sent=False)
    bound = [o for o in h.outbox if isinstance(o, SignOrders)][-1].expires_after_ms
    assert bound is not None
    expires = h.now // 1_000_000 + 4_000  # signed later than tracked, with a shorter window
    assert expires < bound
    h.send(RequestSent(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), nonce=1,
                       expires_after_ms=expires, ts_init=h.now))
    h.advance(1.5)
    assert _state(h, cloid) is S.UNKNOWN
    h.send(OrderNotFoundReported(client_order_id=cloid, ts_init=h.now))
    requery = h.core.orders[cloid].deadline_ns
    assert requery == h.now + 3 * 10**9  # maybe still on its way: ask again in 3 s
    h.now = requery - 1_000
    h.send(TrackerTick(ts_init=requery))
    h.send(OrderNotFoundReported(client_order_id=cloid, ts_init=h.now))
    proof_ns = (expires + 2_000 + 1) * 1_000_000
    assert h.core.orders[cloid].deadline_ns == proof_ns  # not on the next 3 s beat
    h.now = proof_ns - 1_000
    out = h.send(TrackerTick(ts_init=proof_ns))
    assert any(isinstance(o, ReconcileRequested) and cloid in o.client_order_ids
               for o in out.outbox)
    h.send(OrderNotFoundReported(client_order_id=cloid, ts_init=h.now))
    assert _state(h, cloid) is S.FAILED


def test_a_noop_that_took_the_nonce_proves_never_placed_at_once() -> None:
    h = Harness()
    cloid = h.submit(1)
    h.send(RequestFailed(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), reason="HTTP 502",
                         definitive=False, ts_init=h.now))
    assert _state(h, cloid) is S.UNKNOWN
    h.send(NonceInvalidated(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), nonce=1,
                            executed=False, ts_init=h.now))
    assert _state(h, cloid) is S.FAILED
    assert "never placed" in h.order_events(cloid)[-1].reason  # type: ignore[attr-defined]


def test_a_nonce_below_the_window_makes_not_found_a_proof() -> None:
    h = Harness(TrackerConfig(submit_expiry_s=30))
    cloid = h.submit(1)
    h.send(RequestFailed(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), reason="timeout",
                         definitive=False, ts_init=h.now))
    out = h.send(NonceInvalidated(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), nonce=1,
                                  executed=None, ts_init=h.now))
    assert any(isinstance(o, ReconcileRequested) for o in out.outbox)
    h.send(OrderNotFoundReported(client_order_id=cloid, ts_init=h.now))
    assert _state(h, cloid) is S.FAILED  # no 30 s wait for the expiry


def test_a_modify_that_never_executed_leaves_the_order_as_it_was() -> None:
    h = Harness()
    cloid = _open(h)
    _modify(h, cloid)
    h.send(NonceInvalidated(kind=RequestKind.MODIFY, client_order_ids=(cloid,), nonce=2,
                            executed=False, ts_init=h.now))
    view = h.core.get(cloid)
    assert view is not None
    assert (view.state, view.price, view.exchange_order_id) == (S.OPEN, 100, 5)
    assert h.core.orders[cloid].pending_modify is None


# --- the safety net and the cap ------------------------------------------------------------


def test_periodic_reconciliation_is_one_open_orders_and_one_fills_query() -> None:
    h = Harness(TrackerConfig(reconcile_interval_s=30, open_orders_grace_s=5))
    stale = h.submit(1)  # sent, never answered
    h.advance(1)  # the first tick starts the clock
    h.tick(28)
    fresh = h.submit(2)  # sent a moment ago: its answer is not overdue
    h.outbox.clear()
    h.advance(2.5)  # 30 s after the first tick
    (request,) = [o for o in h.outbox if isinstance(o, ReconcileRequested) and o.open_orders]
    assert request.fills_since_ms is not None
    assert stale in request.client_order_ids
    assert fresh not in request.client_order_ids
    h.outbox.clear()
    h.advance(10)
    assert not [o for o in h.outbox if isinstance(o, ReconcileRequested) and o.open_orders]


def test_the_open_order_cap_fails_orders_at_once_and_never_sends_them() -> None:
    h = Harness(TrackerConfig(max_open_orders=2))
    a, _b = h.submit(1), h.submit(2)
    h.outbox.clear()
    c = h.submit(3, sent=False)
    assert _state(h, c) is S.FAILED
    assert "open-order cap" in h.order_events(c)[-1].reason  # type: ignore[attr-defined]
    assert not any(isinstance(o, SignOrders) for o in h.outbox)
    h.fill(a, 5, 1, "1")  # one order finishes: room again
    d = h.submit(4, sent=False)
    assert _state(h, d) is S.PENDING_CREATE
    recovered = OrderTrackerCore(h.core.config)
    recovered.restore(h.core.snapshot(), [])
    assert recovered.live_count == h.core.live_count == 2


# --- rebuilding events after a crash -------------------------------------------------------


def test_restore_rebuilds_the_events_after_a_point_exactly() -> None:
    h = Harness()
    cloid = _open(h)
    _modify(h, cloid)
    _modify_answer(h, cloid, 6)
    h.fill(cloid, 6, 1, "1")
    emitted = [e for e in h.events if hasattr(e, "sequence")]
    k = emitted[2].sequence
    fresh = OrderTrackerCore(h.core.config)
    fresh.restore(None, h.journal.records, reemit_after=k)
    assert fresh.recovered_events == [e for e in emitted if e.sequence > k]
    assert any(isinstance(e, OrderModified) for e in fresh.recovered_events)
    silent = OrderTrackerCore(h.core.config)
    silent.restore(None, h.journal.records)
    assert silent.recovered_events == []
    # From a snapshot, only what follows it can be rebuilt.
    snap, mark = h.core.snapshot(), len(h.journal.records)
    h.cancel(cloid)  # refused (FILLED): no event, nothing journaled
    late = _open(h, 2, oid=8)
    partial = OrderTrackerCore(h.core.config)
    partial.restore(snap, h.journal.records[mark:], reemit_after=k)
    assert partial.reemit_gap == (k + 1, h.core.sequence - len(h.order_events(late)))
    assert partial.recovered_events == h.order_events(late)


def test_without_an_echoed_query_the_next_complete_fills_answer_decides() -> None:
    """Until the venue side echoes `FillsQuery`, an empty query answer still settles a
    rejected replacement (instead of leaving it waiting forever)."""
    h = Harness()
    cloid = _open(h)
    _modify(h, cloid)
    _modify_answer(h, cloid, None, SubmitOutcome.REJECTED, ALO_ERROR)
    h.status(cloid, 6, VS.REJECTED, raw="badAloPxRejected", orig="1", remaining="1", source=Q)
    assert not _state(h, cloid).is_terminal
    h.send(FillsReported(fills=(), is_snapshot=True, ts_init=h.now))
    assert _state(h, cloid) is S.FAILED


def test_fills_of_a_replacement_our_cancel_then_hit_are_late_fills_of_the_order() -> None:
    h = Harness()
    cloid = _open(h, amount="2")
    _modify(h, cloid)
    h.send(CancelOrder(client_order_id=cloid))
    h.cancel_answer(cloid)  # the venue: modify (5 → 6), a fill on 6, then our cancel hit 6
    assert _state(h, cloid) is S.CANCELLED
    h.fill(cloid, 6, 1, "0.5")
    view = h.core.get(cloid)
    assert view is not None
    assert (view.state, view.filled_amount, view.exchange_order_id) == (
        S.CANCELLED, Decimal("0.5"), 6)
    last = h.order_events(cloid)[-1]
    assert isinstance(last, OrderFilled)
    assert last.late
    assert not any(type(e).__name__ == "OrderAnomalyDetected" for e in h.order_events(cloid))
