"""UNKNOWN always resolves (issue 10): dead-order answers reconcile at once, lost fills are
fetched from the order's own time and paged, the never-placed proof is asked exactly when it
can prove, noop proofs settle lost requests, a periodic reconciliation backs the stream up, the
open-order cap holds, recovery rebuilds the events a crashed incarnation emitted, and a restart
asks the venue only what an answer can decide. Each test fails on the tracker before issue 10
(the last one on the tracker before it asked only that).
"""

from __future__ import annotations

from decimal import Decimal

from actors.order_tracking.config import TrackerConfig
from actors.order_tracking.core import OrderTrackerCore
from messages import (
    CancelOrder,
    EvidenceSource,
    ModifyOrder,
    OrderModified,
    OrderNotFoundReported,
    OrderState,
    RequestFailed,
    RequestKind,
    SubmitOutcome,
    VenueOrderStatus,
)
from messages.signing import SignCancels, SignOrders
from messages.tracking import (
    CommandRejected,
    FillsQuery,
    ReconcileAll,
    ReconcileRequested,
    RequestSent,
    TrackerRecovered,
    TrackerTick,
)
from messages.venue import FillsReported, NonceInvalidated, OpenOrdersReported
from tests.tracker_support import Harness, fill_report, status_report
from tests.tracker_venue import MODIFY_DEAD

S = OrderState
VS = VenueOrderStatus
Q = EvidenceSource.QUERY


def test_cannot_modify_a_dead_order_reconciles_at_once_and_books_the_lost_fill() -> None:
    h = Harness()
    cloid = h.open()
    h.modify(cloid)
    h.modify_answer(cloid, None, SubmitOutcome.REJECTED, MODIFY_DEAD)
    assert h.state(cloid) is S.UNKNOWN  # the strategy hears it; modifies are refused
    assert h.status_queries(cloid) == 1
    h.send(ModifyOrder(client_order_id=cloid, price=Decimal("99")))
    assert any(isinstance(o, CommandRejected) for o in h.outbox)
    h.status(cloid, 5, VS.FILLED, raw="filled", orig="1", remaining="0", source=Q)
    request = h.fill_queries()[-1]  # asked at once: a filled status from a query
    h.answer_fills(request, fill_report(cloid, 5, 1, "1", h.core.orders[cloid].side, h.now))
    assert h.state(cloid) is S.FILLED


def test_a_lost_fill_older_than_the_last_fill_seen_is_fetched_from_the_orders_time() -> None:
    h = Harness()
    old = h.open(1)
    created_ms = h.core.orders[old].created_ns // 1_000_000
    h.tick(60)
    other = h.open(2, oid=7)
    h.fill(other, 7, 9, "1")  # the last fill seen is now a minute after `old` was placed
    out = h.status(old, 5, VS.OPEN, orig="1", remaining="0.5", source=Q)
    requests = [o for o in out.outbox if isinstance(o, ReconcileRequested)]
    assert requests
    assert requests[0].fills_since_ms == created_ms - 5_000


def test_fill_pages_are_followed_from_the_last_fill_time() -> None:
    h = Harness(TrackerConfig(fills_page_size=2))
    cloid = h.open(amount="3")
    side = h.core.orders[cloid].side
    query = FillsQuery(since_ms=1000, origin_ms=1000, requested_ns=h.now)
    page = (fill_report(cloid, 5, 1, "1", side, h.now - 2_000_000),
            fill_report(cloid, 5, 2, "1", side, h.now))
    out = h.send(FillsReported(fills=page, is_snapshot=True, ts_init=h.now, query=query))
    (request,) = [o for o in out.outbox if isinstance(o, ReconcileRequested)]
    assert request.fills_since_ms == h.now // 1_000_000 - 1
    assert request.fills_query == FillsQuery(since_ms=request.fills_since_ms, origin_ms=1000,
                                             requested_ns=query.requested_ns)


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
    assert h.state(cloid) is S.UNKNOWN
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
    assert h.state(cloid) is S.FAILED


def test_a_noop_that_took_the_nonce_proves_never_placed_at_once() -> None:
    h = Harness()
    cloid = h.submit(1)
    h.send(RequestFailed(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), reason="HTTP 502",
                         definitive=False, ts_init=h.now))
    assert h.state(cloid) is S.UNKNOWN
    h.send(NonceInvalidated(kind=RequestKind.SUBMIT, client_order_ids=(cloid,), nonce=1,
                            executed=False, ts_init=h.now))
    assert h.state(cloid) is S.FAILED
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
    assert h.state(cloid) is S.FAILED  # no 30 s wait for the expiry


def test_periodic_reconciliation_is_one_open_orders_and_one_fills_query() -> None:
    """No order's own status rides along: the open orders' answer asks about the ones it does
    not list and whose answer is overdue, nothing else."""
    h = Harness(TrackerConfig(reconcile_interval_s=30, open_orders_grace_s=5))
    stale = h.submit(1)  # sent, never answered
    listed = h.submit(3)  # sent, never answered, but the venue lists it as open
    h.advance(1)  # the first tick starts the clock
    h.tick(28)
    fresh = h.submit(2)  # sent a moment ago: its answer is not overdue
    h.outbox.clear()
    h.advance(2.5)  # 30 s after the first tick
    (request,) = [o for o in h.outbox if isinstance(o, ReconcileRequested) and o.open_orders]
    assert request.fills_since_ms is not None
    assert request.client_order_ids == ()
    listing = status_report(listed, 9, VenueOrderStatus.OPEN, "open", "1", "1",
                            EvidenceSource.QUERY, h.now)
    out = h.send(OpenOrdersReported(orders=(listing,), ts_init=h.now))
    asked = {c for o in out.outbox if isinstance(o, ReconcileRequested)
             for c in o.client_order_ids}
    assert asked == {stale}
    assert h.state(listed) is S.OPEN
    assert fresh not in asked
    h.outbox.clear()
    h.advance(10)
    assert not [o for o in h.outbox if isinstance(o, ReconcileRequested) and o.open_orders]


def test_the_open_order_cap_fails_orders_at_once_and_never_sends_them() -> None:
    h = Harness(TrackerConfig(max_open_orders=2))
    a, _b = h.submit(1), h.submit(2)
    h.outbox.clear()
    c = h.submit(3, sent=False)
    assert h.state(c) is S.FAILED
    assert "open-order cap" in h.order_events(c)[-1].reason  # type: ignore[attr-defined]
    assert not any(isinstance(o, SignOrders) for o in h.outbox)
    h.fill(a, 5, 1, "1")  # one order finishes: room again
    d = h.submit(4, sent=False)
    assert h.state(d) is S.PENDING_CREATE
    recovered = OrderTrackerCore(h.core.config)
    recovered.restore(h.core.snapshot(), [])
    assert recovered.live_count == h.core.live_count == 2


def test_restore_rebuilds_the_events_after_a_point_exactly() -> None:
    h = Harness()
    cloid = h.open()
    h.modify(cloid)
    h.modify_answer(cloid, 6)
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
    late = h.open(2, oid=8)
    partial = OrderTrackerCore(h.core.config)
    partial.restore(snap, h.journal.records[mark:], reemit_after=k)
    assert partial.reemit_gap == (k + 1, h.core.sequence - len(h.order_events(late)))
    assert partial.recovered_events == h.order_events(late)


def test_a_lost_fill_of_an_order_already_finished_is_found_by_the_periodic_reconciliation() -> (
    None
):
    """Leg 5 filled 0.5 (the fill frame was lost), a modify replaced it by 6, our cancel hit
    6: the cancel's answer ends the order, but the periodic fill query still books the fill."""
    h = Harness(TrackerConfig(reconcile_interval_s=10))
    cloid = h.open()
    created_ms = h.core.orders[cloid].created_ns // 1_000_000
    h.advance(1)  # the periodic clock starts
    h.modify(cloid, price="99")
    h.send(CancelOrder(client_order_id=cloid))
    h.status(cloid, 5, VS.CANCELLED, raw="canceled", orig="1", remaining="0.5")
    h.status(cloid, 6, VS.OPEN, price="99")
    h.modify_answer(cloid, 6)
    h.status(cloid, 6, VS.CANCELLED, raw="canceled", orig="1", remaining="1")
    h.cancel_answer(cloid)
    assert h.state(cloid) is S.CANCELLED
    h.outbox.clear()
    h.advance(10)
    (request,) = [o for o in h.outbox if isinstance(o, ReconcileRequested) and o.open_orders]
    assert request.fills_since_ms is not None
    assert request.fills_since_ms <= created_ms  # the finished order's time is covered
    h.answer_fills(request, fill_report(cloid, 5, 1, "0.5", h.core.orders[cloid].side, h.now))
    view = h.core.get(cloid)
    assert view is not None
    assert (view.state, view.filled_amount, view.amount) == (
        S.CANCELLED, Decimal("0.5"), Decimal("1.5"))
    # That answer proved every fill booked up to when it was asked: the next one starts there.
    assert request.fills_query is not None
    h.outbox.clear()
    h.advance(10)
    (later,) = [o for o in h.outbox if isinstance(o, ReconcileRequested) and o.open_orders]
    assert later.fills_since_ms == request.fills_query.requested_ns // 1_000_000 - 5_000


def test_terminal_orders_in_memory_are_bounded_by_count_too() -> None:
    """Whatever the order rate, at most ``retention_max_orders`` finished orders stay in
    memory (the oldest-ended leave first); a late duplicate of a forgotten order's fill is
    still recognised, and recovery from the journal gives the same state."""
    h = Harness(TrackerConfig(retention_max_orders=3, retention_s=10**6))
    ended = []
    for n in range(5):
        cloid = h.open(n, oid=100 + n)
        h.fill(cloid, 100 + n, 900 + n, "1")
        assert h.state(cloid) is OrderState.FILLED
        ended.append(cloid)
    live = h.open(9, oid=200)
    h.advance(1)
    assert [c for c in ended if h.core.get(c) is not None] == ended[2:]
    assert h.core.get(live) is not None  # live orders never leave
    before = h.core.state_digest()
    h.fill(ended[0], 100, 900, "1")  # the same fill again, for a forgotten order
    assert h.core.state_digest()["orders"] == before["orders"]
    recovered = OrderTrackerCore(h.core.config)
    recovered.restore(None, h.journal.records)
    assert recovered.state_digest() == h.core.state_digest()


def test_a_cancel_lost_before_it_was_signed_does_not_hang_the_order() -> None:
    """The signer crashed while the cancel waited for credit: no RequestSent ever comes. The
    order must not stay PENDING_CANCEL: past the cancel deadline it is UNKNOWN, the venue's
    status decides, and an order still open is OPEN again (and can be cancelled anew)."""
    h = Harness(TrackerConfig(cancel_timeout_s=5))
    cloid = h.open(1, oid=77)
    h.cancel(cloid)
    assert h.state(cloid) is OrderState.PENDING_CANCEL
    h.advance(6)
    assert h.state(cloid) is OrderState.UNKNOWN
    assert h.status_queries(cloid) >= 1
    h.status(cloid, 77, VenueOrderStatus.OPEN, source=EvidenceSource.QUERY)
    assert h.state(cloid) is OrderState.OPEN
    h.cancel(cloid)
    assert h.state(cloid) is OrderState.PENDING_CANCEL


def test_a_cancel_of_an_order_the_venue_never_had_ends_it_once_its_expiry_passed() -> None:
    """An order never reported sent went UNKNOWN at its expiry; cancels kept coming (a stop's
    repeated cancel-all) and were refused "never placed, already canceled, or filled": the
    not-found answer that arrives while PENDING_CANCEL proves it never placed (a soak ended 6
    orders UNKNOWN that way, flipping between the two states every 3 s)."""
    h = Harness(TrackerConfig(submit_expiry_s=30, not_found_grace_s=2))
    cloid = h.submit(1, sent=False)
    h.advance(33)
    assert h.state(cloid) is OrderState.UNKNOWN
    h.cancel(cloid)
    assert h.state(cloid) is OrderState.PENDING_CANCEL
    h.send(OrderNotFoundReported(client_order_id=cloid, ts_init=h.now))
    assert h.state(cloid) is OrderState.FAILED
    assert "never placed" in h.order_events(cloid)[-1].reason  # type: ignore[attr-defined]


def test_a_restart_asks_the_venue_only_what_an_answer_can_decide() -> None:
    """Status queries wait in execution's queue for the venue's query budget (~3.5 a second)
    and are answered as the venue is then. A soak's tracker restarts (every order in flight at
    200 orders/s: UNKNOWN, asked at once) queued hundreds of queries about orders whose outcome
    was on its way, answered when those had long ended; two orders lost in a crashed signer
    were still waiting for theirs at the stop, UNKNOWN. A restart (and any reconciliation) asks
    only what an answer can decide: an overdue answer, and an order never reported sent only
    from its proof time (expiry + grace) on."""
    h = Harness(TrackerConfig(submit_expiry_s=30, not_found_grace_s=2))
    late = h.submit(1)  # sent, no answer for longer than the open-orders grace
    h.advance(6)
    held = h.submit(2, sent=False)  # the signer still holds it
    lost = h.submit(3, sent=False)  # lost with a crashed signer
    flying = h.submit(4)  # sent just now: its answer is on its way
    closing = h.open(5, oid=55)
    h.cancel(closing)  # the cancel is on its way too
    fresh = OrderTrackerCore(h.core.config, h.journal)
    fresh.restore(None, h.journal.records)
    h.core = fresh
    out = h.send(TrackerRecovered(ts_init=h.now))
    (recovery,) = [o for o in out.outbox if isinstance(o, ReconcileRequested)]
    assert recovery.open_orders
    assert recovery.client_order_ids == ()  # the open orders' answer decides what to ask
    out = h.send(OpenOrdersReported(orders=(), ts_init=h.now))
    asked = [c for o in out.outbox if isinstance(o, ReconcileRequested)
             for c in o.client_order_ids]
    assert asked == [late]
    assert h.state(held) is S.UNKNOWN
    assert h.state(lost) is S.UNKNOWN
    # What was on its way arrives.
    h.sent(held)
    h.answer(held, oid=22)
    h.answer(flying, oid=44)
    h.cancel_answer(closing)
    assert [h.state(c) for c in (held, flying, closing)] == [S.OPEN, S.OPEN, S.CANCELLED]
    # The lost one: "unknown to the venue" proves nothing before its proof time.
    h.advance(31)
    h.send(ReconcileAll(reason="user stream connected", ts_init=h.now))
    listing = tuple(status_report(c, oid, VenueOrderStatus.OPEN, "open", "1", "1",
                                  EvidenceSource.QUERY, h.now) for c, oid in ((held, 22),
                                                                             (flying, 44)))
    h.send(OpenOrdersReported(orders=listing, ts_init=h.now))
    assert h.status_queries(lost) == 0
    h.advance(1.1)  # its expiry + grace has passed: asked now
    assert h.status_queries(lost) == 1
    h.send(OrderNotFoundReported(client_order_id=lost, ts_init=h.now))
    assert h.state(lost) is S.FAILED
    assert "never placed" in h.order_events(lost)[-1].reason  # type: ignore[attr-defined]


def test_a_restarted_tracker_asks_for_the_fills_since_the_last_complete_answer() -> None:
    """Where every fill is known to be booked survives a restart (journal and snapshot): a new
    incarnation asks for the fills since then, not for every fill of the last `retention_s`
    (a soak restarting the tracker every few seconds paged through thousands of fills each
    time, 120 weight a page: more than the whole query budget)."""
    h = Harness(TrackerConfig(fills_lookback_s=1))
    cloid = h.open()
    h.advance(300)
    h.send(ReconcileAll(reason="periodic", ts_init=h.now))
    (request,) = h.fill_queries()
    assert request.fills_since_ms is not None
    assert request.fills_since_ms < h.now // 1_000_000 - 299_000  # from the oldest order
    asked_ms = h.now // 1_000_000
    h.answer_fills(request)  # complete, nothing missing
    h.advance(10)

    def recovery_fills_from(core: OrderTrackerCore) -> int | None:
        h.core = core
        h.outbox.clear()
        h.send(TrackerRecovered(ts_init=h.now))
        (again,) = h.fill_queries()
        return again.fills_since_ms

    replayed = OrderTrackerCore(h.core.config, h.journal)
    replayed.restore(None, h.journal.records)
    assert recovery_fills_from(replayed) == asked_ms - 1_000
    from_snapshot = OrderTrackerCore(h.core.config)
    from_snapshot.restore(h.core.snapshot(), [])
    assert recovery_fills_from(from_snapshot) == asked_ms - 1_000
    assert h.state(cloid) is S.OPEN


def test_a_refused_cancel_of_an_order_never_reported_sent_waits_for_its_proof_time() -> None:
    """A stop's cancel-all every 3 s, each refused ("never placed, …"), asked the venue about an
    order lost in a crashed signer each time, long before "unknown to the venue" could prove
    anything: it is asked at its expiry + grace, once, and that answer ends it."""
    h = Harness(TrackerConfig(submit_expiry_s=30, not_found_grace_s=2, unknown_requery_s=3))
    lost = h.submit(1, sent=False)
    fresh = OrderTrackerCore(h.core.config, h.journal)
    fresh.restore(None, h.journal.records)
    h.core = fresh
    h.send(TrackerRecovered(ts_init=h.now))
    assert h.state(lost) is S.UNKNOWN
    h.outbox.clear()
    for _ in range(9):  # a stop's cancel-all every 3 s
        h.cancel(lost)
        assert h.state(lost) is S.PENDING_CANCEL
        h.cancel_answer(lost, success=False,
                        error="Order was never placed, already canceled, or filled.")
        assert h.state(lost) is S.UNKNOWN
        h.advance(3)
    assert h.status_queries(lost) == 0  # 27 s: its expiry (30 s) has not passed
    h.advance(5.1)  # expiry + grace passed
    assert h.status_queries(lost) == 1
    h.send(OrderNotFoundReported(client_order_id=lost, ts_init=h.now))
    assert h.state(lost) is S.FAILED


def test_a_new_signer_is_sent_again_the_cancels_its_predecessor_may_have_held() -> None:
    """A cancel waiting unsigned in a signer that crashed was lost: it waited for its deadline
    (10 s), then for a status query. A new signer incarnation gets every PENDING_CANCEL
    order's cancel again at once; a copy of a cancel that did leave ends nothing twice."""
    from messages.gate import SignerBacklog

    h = Harness(TrackerConfig(cancel_timeout_s=10))
    lost, sent = h.open(1, oid=11), h.open(2, oid=12)
    h.cancel(lost)
    h.cancel(sent)
    h.sent(sent, RequestKind.CANCEL)
    h.advance(4)
    h.outbox.clear()
    out = h.send(SignerBacklog(orders=0, cancels=0, modifies=0, oldest_age_ns=0, credit=0,
                               started=True, ts_init=h.now))
    (again,) = [o for o in out.outbox if isinstance(o, SignCancels)]
    assert {t.client_order_id for t in again.targets} == {lost, sent}
    h.advance(8)  # 12 s after the cancels were asked for, 8 s after they were sent again
    assert h.state(lost) is S.PENDING_CANCEL  # its deadline starts again: no status query
    assert h.status_queries(lost) == 0
    h.cancel_answer(sent)  # the first copy
    h.cancel_answer(sent, success=False,
                    error="Order was never placed, already canceled, or filled.")
    assert h.state(sent) is S.CANCELLED
    assert h.status_queries(sent) == 0
    h.cancel_answer(lost)
    assert h.state(lost) is S.CANCELLED
    # An ordinary backlog report changes nothing.
    h.outbox.clear()
    out = h.send(SignerBacklog(orders=3, cancels=0, modifies=0, oldest_age_ns=0, credit=0,
                               ts_init=h.now))
    assert not out.outbox
