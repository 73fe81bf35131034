"""The order tracker against modify races (issue 10): a modify is cancel-and-replace under the
same cloid at the venue (PROTOCOL §5.4), and whatever the order of answers, stream frames and
racing cancels, the order ends as the venue's status for the cloid says (docs/order-lifecycle.md,
"What the venue's status means"). Each test fails on the tracker before issue 10.
"""

from __future__ import annotations

from decimal import Decimal

from actors.order_tracking.config import TrackerConfig
from messages import (
    CancelOrder,
    EvidenceSource,
    ModifyOrder,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderState,
    RequestFailed,
    RequestKind,
    SubmitOutcome,
    VenueOrderStatus,
)
from messages.ids import ExchangeOrderId
from messages.signing import SignModifies
from messages.tracking import CommandRejected
from messages.venue import FillsReported, NonceInvalidated
from tests.tracker_support import Harness, fill_report
from tests.tracker_venue import ALO_ERROR, MODIFY_DEAD

S = OrderState
VS = VenueOrderStatus
Q = EvidenceSource.QUERY


def test_a_replacement_filled_after_a_lost_modify_answer_ends_filled() -> None:
    """The issue's race: update OPEN 4021→4088, cancelled 4088 "canceled", then the
    replacement 4089 filled — and the order ended CANCELLED with no filled event."""
    h = Harness()
    cloid = h.open()
    h.modify(cloid)
    h.send(RequestFailed(kind=RequestKind.MODIFY, client_order_ids=(cloid,), reason="HTTP 502",
                         definitive=False, ts_init=h.now))
    assert h.state(cloid) is S.UNKNOWN
    assert h.status_queries(cloid) == 1
    h.status(cloid, 5, VS.CANCELLED, raw="canceled")  # the modify's cancel of the old leg
    assert h.state(cloid) is S.UNKNOWN  # held: never the end of the order
    h.fill(cloid, 6, 1, "1")  # the replacement fills
    assert h.state(cloid) is S.FILLED
    assert not any(isinstance(e, OrderCancelled) for e in h.order_events(cloid))
    last = h.order_events(cloid)[-1]
    assert isinstance(last, OrderFilled)
    assert last.exchange_order_id == 6
    assert last.price == 101


def test_the_old_legs_cancel_after_a_modify_timeout_waits_for_the_venue() -> None:
    h = Harness(TrackerConfig(modify_timeout_s=5))
    cloid = h.open()
    h.modify(cloid)
    h.advance(6)  # no answer: unknown, never dropped
    assert h.state(cloid) is S.UNKNOWN
    h.status(cloid, 5, VS.CANCELLED, raw="canceled")
    assert h.state(cloid) is S.UNKNOWN
    h.status(cloid, 6, VS.OPEN, orig="1", remaining="1", source=Q, price="101")
    view = h.core.get(cloid)
    assert view is not None
    assert (view.state, view.exchange_order_id, view.price) == (
        S.OPEN, ExchangeOrderId(6), Decimal(101))
    h.status(cloid, 5, VS.CANCELLED, raw="canceled")  # again, late: about a replaced leg
    assert h.state(cloid) is S.OPEN


def test_a_cancel_by_cloid_racing_a_modify_ends_cancelled_either_way() -> None:
    for first in ("modify", "cancel"):
        h = Harness()
        cloid = h.open()
        h.modify(cloid)
        h.send(CancelOrder(client_order_id=cloid))
        assert h.state(cloid) is S.PENDING_CANCEL
        if first == "modify":  # the modify replaced leg 5 by 6, then the cancel hit 6
            h.status(cloid, 5, VS.CANCELLED, raw="canceled")
            h.status(cloid, 6, VS.OPEN, price="101")
            assert h.core.get(cloid).exchange_order_id == 6  # type: ignore[union-attr]
            h.status(cloid, 6, VS.CANCELLED, raw="canceled")
            h.cancel_answer(cloid)
            h.modify_answer(cloid, 6)
        else:  # the cancel hit 5; the modify found nothing live
            h.status(cloid, 5, VS.CANCELLED, raw="canceled")
            h.cancel_answer(cloid)
            h.modify_answer(cloid, None, SubmitOutcome.REJECTED, MODIFY_DEAD)
        assert h.state(cloid) is S.CANCELLED, first
        assert sum(isinstance(e, OrderCancelled) for e in h.order_events(cloid)) == 1


def test_fills_of_a_replacement_our_cancel_then_hit_are_late_fills_of_the_order() -> None:
    h = Harness()
    cloid = h.open(amount="2")
    h.modify(cloid)
    h.send(CancelOrder(client_order_id=cloid))
    h.cancel_answer(cloid)  # the venue: modify (5 → 6), a fill on 6, then our cancel hit 6
    assert h.state(cloid) is S.CANCELLED
    h.fill(cloid, 6, 1, "0.5")
    view = h.core.get(cloid)
    assert view is not None
    assert (view.state, view.filled_amount, view.exchange_order_id) == (
        S.CANCELLED, Decimal("0.5"), 6)
    last = h.order_events(cloid)[-1]
    assert isinstance(last, OrderFilled)
    assert last.late
    assert not any(type(e).__name__ == "OrderAnomalyDetected" for e in h.order_events(cloid))


def test_modify_sizes_the_replacement_to_what_is_left_and_counts_late_old_leg_fills() -> None:
    h = Harness()
    cloid = h.open(amount="3")
    h.fill(cloid, 5, 1, "1")
    h.modify(cloid)
    sign = [o for o in h.outbox if isinstance(o, SignModifies)][-1]
    assert sign.targets[0].order.amount == 2  # the venue places a fresh order of this size
    assert sign.expires_after_ms is not None
    h.modify_answer(cloid, 6)
    view = h.core.get(cloid)
    assert view is not None
    assert (view.amount, view.filled_amount, view.exchange_order_id) == (
        Decimal(3), Decimal(1), ExchangeOrderId(6))
    # A fill of the old leg from before the modify, reported late: the replacement was sized
    # without it, so the order can fill that much more.
    h.fill(cloid, 5, 2, "0.5")
    view = h.core.get(cloid)
    assert view is not None
    assert (view.amount, view.filled_amount) == (Decimal("3.5"), Decimal("1.5"))
    h.fill(cloid, 6, 3, "2")
    assert h.state(cloid) is S.FILLED


def test_a_modify_that_never_executed_leaves_the_order_as_it_was() -> None:
    h = Harness()
    cloid = h.open()
    h.modify(cloid)
    h.send(NonceInvalidated(kind=RequestKind.MODIFY, client_order_ids=(cloid,), nonce=2,
                            executed=False, ts_init=h.now))
    view = h.core.get(cloid)
    assert view is not None
    assert (view.state, view.price, view.exchange_order_id) == (
        S.OPEN, Decimal(100), ExchangeOrderId(5))
    assert h.core.orders[cloid].pending_modify is None


def test_a_refused_modify_that_left_the_order_alone_is_confirmed_by_the_venue() -> None:
    h = Harness()
    cloid = h.open()
    h.modify(cloid)
    h.modify_answer(cloid, None, SubmitOutcome.REJECTED, "Price must be divisible by tick size.")
    assert h.state(cloid) is S.OPEN
    assert h.status_queries(cloid) == 1
    h.send(ModifyOrder(client_order_id=cloid, price=Decimal("103")))  # not until settled
    assert [o.reason for o in h.outbox if isinstance(o, CommandRejected)] == [
        "a modify is already in flight"]
    h.status(cloid, 5, VS.OPEN, source=Q)
    names = [type(e).__name__ for e in h.order_events(cloid)]
    assert names[-1] == "OrderModifyRejected"
    assert h.core.orders[cloid].pending_modify is None


def test_a_rejected_alo_replacement_fails_with_the_venues_status() -> None:
    h = Harness()
    cloid = h.open()
    h.modify(cloid)
    h.status(cloid, 5, VS.CANCELLED, raw="canceled")
    h.modify_answer(cloid, None, SubmitOutcome.REJECTED, ALO_ERROR)
    assert h.state(cloid) is S.UNKNOWN  # the old leg is gone: the venue's status decides
    assert h.status_queries(cloid) == 1
    h.status(cloid, 6, VS.REJECTED, raw="badAloPxRejected", orig="1", remaining="1", source=Q)
    assert not h.state(cloid).is_terminal  # are there fills the stream lost?
    request = h.fill_queries()[-1]
    assert request.fills_query is not None
    assert request.fills_since_ms is not None
    assert request.fills_since_ms <= h.core.orders[cloid].created_ns // 1_000_000
    h.answer_fills(request)
    assert h.state(cloid) is S.FAILED
    last = h.order_events(cloid)[-1]
    assert isinstance(last, OrderFailed)
    assert last.reason == "badAloPxRejected"


def test_a_rejected_replacement_of_a_partly_filled_order_ends_cancelled() -> None:
    h = Harness()
    cloid = h.open(amount="2")
    h.fill(cloid, 5, 1, "0.5")
    h.modify(cloid)
    h.modify_answer(cloid, None, SubmitOutcome.REJECTED, ALO_ERROR)
    assert h.state(cloid) is S.PARTIALLY_FILLED  # maybe refused before anything changed
    h.status(cloid, 6, VS.REJECTED, raw="badAloPxRejected", orig="1.5", remaining="1.5")
    assert h.state(cloid) is S.CANCELLED
    last = h.order_events(cloid)[-1]
    assert isinstance(last, OrderCancelled)
    assert last.reason == "badAloPxRejected"


def test_a_rejected_replacement_with_a_lost_old_leg_fill_ends_cancelled() -> None:
    h = Harness()
    cloid = h.open()
    h.modify(cloid)
    h.modify_answer(cloid, None, SubmitOutcome.REJECTED, ALO_ERROR)
    h.status(cloid, 6, VS.REJECTED, raw="badAloPxRejected", orig="1", remaining="1", source=Q)
    request = h.fill_queries()[-1]
    h.answer_fills(request, fill_report(cloid, 5, 1, "0.25", h.core.orders[cloid].side,
                                          h.now))
    assert h.state(cloid) is S.CANCELLED
    view = h.core.get(cloid)
    assert view is not None
    assert view.filled_amount == Decimal("0.25")


def test_without_an_echoed_query_the_next_complete_fills_answer_decides() -> None:
    """Until the venue side echoes `FillsQuery`, an empty query answer still settles a
    rejected replacement (instead of leaving it waiting forever)."""
    h = Harness()
    cloid = h.open()
    h.modify(cloid)
    h.modify_answer(cloid, None, SubmitOutcome.REJECTED, ALO_ERROR)
    h.status(cloid, 6, VS.REJECTED, raw="badAloPxRejected", orig="1", remaining="1", source=Q)
    assert not h.state(cloid).is_terminal
    h.send(FillsReported(fills=(), is_snapshot=True, ts_init=h.now))
    assert h.state(cloid) is S.FAILED
