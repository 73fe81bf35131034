"""Pacing at its edges: a flood between two signer reports, wake-ups that come early, a query
that holds credit back, resent noops and 429s, the weight a long fills answer costs."""

from __future__ import annotations

from typing import Any

from actors.gating.normalize import RiskConfig
from actors.signing.core import INVALIDATION_ID_BASE
from messages import ClientOrderId
from messages.connection import ConnectionStateChanged
from messages.enums import RequestKind
from messages.execution import DrainQueue, RequestExpired, SignedAction
from messages.gate import SignerBacklog
from messages.signing import InvalidateNonce, SendCredit
from messages.tracking import OrderDenied, ReconcileRequested
from messages.venue import NonceInvalidated, RequestFailed
from tests.support.execution import Rig, answer, order, paced_rig, signed


def _rig(**settings: Any) -> Rig:
    return paced_rig(risk=RiskConfig(max_submits_per_s=10_000), **settings)


def _drains(rig: Rig) -> int:
    return sum(isinstance(m, DrainQueue) for _, m in rig.later)


def test_a_flood_between_two_signer_reports_meets_back_pressure() -> None:
    """Orders on their way to the signer (through the tracker) are in no report yet: 400 at
    once must not all be admitted into a queue that takes 5 s to send."""
    rig = _rig(ip_weight_per_minute=240, action_burst=1, credit_target=1, max_queue_delay_s=2.0)
    admitted = 0
    for i in range(400):
        rig.gate.submit(order(client_order_id=ClientOrderId.derive("fl", i)))
        if not isinstance(rig.tracker[-1], OrderDenied):
            admitted += 1
    denied = [m for m in rig.tracker if isinstance(m, OrderDenied)]
    assert denied
    assert all("back-pressure" in d.reason for d in denied)
    # Admitted: what the sustained share (2 actions/s) sends within 2 s, plus what is ready.
    ready = rig.core.pacer.outstanding + 1
    assert admitted <= (2 * 2 + ready + 1) * 39, admitted
    # The signer reports it has taken and signed them all: trading resumes at once.
    rig.clock.ns += 10**8
    rig.backlog(SignerBacklog(orders=0, cancels=0, modifies=0, oldest_age_ns=0,
                                          credit=1, ts_init=rig.clock.ns))
    rig.gate.submit(order(client_order_id=ClientOrderId.derive("fl", 1000)))
    assert not isinstance(rig.tracker[-1], OrderDenied)


def test_orders_long_past_the_gate_are_not_counted_as_waiting_forever() -> None:
    """A signer with credit never reports: what passed the gate more than max_queue_delay_s
    ago is not waiting any more (or the starved signer would have said so)."""
    rig = _rig(ip_weight_per_minute=240, action_burst=1, credit_target=1, max_queue_delay_s=2.0)
    for i in range(150):
        rig.gate.submit(order(client_order_id=ClientOrderId.derive("old", i)))
        rig.clock.ns += 10**8  # 10/s, for 15 s
    assert not any(isinstance(m, OrderDenied) for m in rig.tracker)


def test_an_early_wake_up_does_not_latch_the_queue() -> None:
    rig = _rig(ip_weight_per_minute=60, query_share=0.5)
    rig.core.pacer.weights.tokens = 0
    rig.core.reconcile(ReconcileRequested(client_order_ids=(ClientOrderId.derive("w", 1),),
                                          open_orders=False, fills_since_ms=None, reason="t",
                                          ts_init=0))
    scheduled = _drains(rig)
    assert scheduled >= 1
    rig.core.drain()  # the timer fired before its time: nothing can be sent yet
    assert _drains(rig) == scheduled + 1, "the next wake-up must be scheduled again"
    rig.clock.ns += 3 * 10**9
    rig.core.drain()
    assert len(rig.ws) == 1  # the query went once its weight had refilled


def test_a_query_holds_credit_back_for_no_longer_than_its_weight_takes_to_refill() -> None:
    rig = _rig(ip_weight_per_minute=60, query_share=0.5, credit_target=2)
    pacer = rig.core.pacer
    pacer.outstanding = 0  # the signer spent its credit
    pacer.weights.tokens = 5
    rig.core.reconcile(ReconcileRequested(client_order_ids=(), open_orders=True,
                                          fills_since_ms=None, reason="t", ts_init=0))
    before = [m for m in rig.signer if isinstance(m, SendCredit)]
    rig.core.drain()
    assert [m for m in rig.signer if isinstance(m, SendCredit)] == before  # held for the query
    # 20 weight at 1/s: past 20 s (and what refilled spent elsewhere) the signer's turn comes.
    rig.clock.ns += 21 * 10**9
    pacer.weights.tokens_at(rig.clock.ns)
    pacer.weights.tokens = 5
    rig.core.drain()
    granted = [m for m in rig.signer if isinstance(m, SendCredit)][len(before):]
    assert sum(m.actions for m in granted) >= 1


def _noop(nonce: int = 5) -> SignedAction:
    return SignedAction(request_id=INVALIDATION_ID_BASE + nonce, kind=RequestKind.INVALIDATE,
                        client_order_ids=(ClientOrderId.derive("x", 1),), body=b'{"noop":1}',
                        nonce=nonce, expires_after_ms=None, weight=1, ts_init=0,
                        invalidates=RequestKind.SUBMIT)


def test_a_resent_noop_meeting_its_own_nonce_proves_nothing() -> None:
    """The first copy may have reached the venue: "duplicate nonce" then means the noop's own
    first copy, not the unknown request — whether that executed stays unknown."""
    rig = _rig()
    noop = _noop()
    rig.core.signed(noop)
    answer(rig, noop.request_id, None, status=503)
    rig.clock.ns += 10**9
    rig.core.drain()
    answer(rig, noop.request_id, {"status": "err",
                                  "response": f"Invalid nonce: duplicate nonce {noop.nonce}"})
    settled = rig.tracker[-1]
    assert isinstance(settled, NonceInvalidated)
    assert settled.executed is None


def test_one_noop_per_unknown_nonce() -> None:
    rig = _rig()
    action = signed(n=1)
    rig.core.signed(action)
    rig.core.expired(RequestExpired(request_id=action.request_id, ts_init=0))
    answer(rig, action.request_id, None, status=502, error="late and unusable")
    assert sum(isinstance(m, InvalidateNonce) for m in rig.signer) == 1


def test_a_429_on_a_resent_request_is_not_definitive() -> None:
    """A copy went over WS before the connection dropped; the HTTP resend's 429 says nothing
    about that copy."""
    rig = _rig()
    action = signed(n=1, expires_after_ms=rig.clock.ns // 10**6 + 500)
    rig.core.signed(action)
    rig.ws_up = False
    rig.core.connection_changed(ConnectionStateChanged(connection="ws", connected=False,
                                                       reason="dropped", ts_init=0))
    answer(rig, action.request_id, None, status=429)
    failed = [m for m in rig.tracker if isinstance(m, RequestFailed)]
    assert failed
    assert not failed[-1].definitive


def test_a_long_fills_answer_pays_its_extra_weight() -> None:
    rig = _rig()
    rig.core.reconcile(ReconcileRequested(client_order_ids=(), open_orders=False,
                                          fills_since_ms=1000, reason="t", ts_init=0))
    (request_id, _, _), = rig.ws
    pacer = rig.core.pacer
    before = pacer.weights.tokens_at(rig.clock.ns), pacer.query_weights.tokens_at(rig.clock.ns)
    fills = [{"coin": "BTC", "px": "60000.0", "sz": "0.001", "side": "B", "time": 1_000 + i,
              "startPosition": "0", "dir": "Open Long", "closedPnl": "0", "hash": "0x" + "0" * 64,
              "oid": i, "crossed": True, "fee": "0.01", "tid": i} for i in range(45)]
    answer(rig, request_id, fills)
    after = pacer.weights.tokens_at(rig.clock.ns), pacer.query_weights.tokens_at(rig.clock.ns)
    assert (before[0] - after[0], before[1] - after[1]) == (2, 2)  # 1 per 20 fills returned


def _queued(rig: Rig) -> list[str | None]:
    return [e.info_type for _, e in rig.core._queue]


def test_an_order_status_goes_ahead_of_fills_pages_waiting_for_weight() -> None:
    """Pages of fills cost 20 + 1 per 20 fills each: an order's status (2) waiting behind
    them kept orders UNKNOWN for minutes in a soak."""
    rig = _rig(ip_weight_per_minute=60, query_share=0.5)
    rig.core.pacer.weights.tokens = 0
    rig.core.reconcile(ReconcileRequested(client_order_ids=(), open_orders=True,
                                          fills_since_ms=1000, reason="t", ts_init=0))
    rig.core.reconcile(ReconcileRequested(client_order_ids=(ClientOrderId.derive("st", 1),),
                                          open_orders=False, fills_since_ms=None, reason="t",
                                          ts_init=0))
    assert _queued(rig) == ["orderStatus", "openOrders", "userFillsByTime"]


def test_a_bulk_query_already_waiting_is_not_queued_twice() -> None:
    from messages.tracking import FillsQuery

    rig = _rig(ip_weight_per_minute=60, query_share=0.5)
    rig.core.pacer.weights.tokens = 0
    for requested in (1, 2):
        rig.core.reconcile(ReconcileRequested(
            client_order_ids=(), open_orders=True, fills_since_ms=1000, reason="t", ts_init=0,
            fills_query=FillsQuery(since_ms=1000, origin_ms=1000, requested_ns=requested)))
    assert _queued(rig) == ["openOrders", "userFillsByTime"]
    fills = rig.core._queue[1][1]
    assert fills.fills_query is not None
    assert fills.fills_query.requested_ns == 2  # the answer proves the later request too


def test_queries_borrow_ip_weight_nothing_else_uses_down_to_the_action_reserve() -> None:
    """A quiet order path lends queries its weight (status queries after a restart settle
    orders ~3× faster than the query share alone allows), never the reserve of
    ``action_burst`` that a burst of orders and cancels needs."""
    from actors.executing.pacing import Pacer, PacingConfig

    config = PacingConfig(ip_weight_per_minute=1200, query_share=0.35, action_burst=60)
    pacer = Pacer(config, 0)
    pacer.query_weights.tokens = 0  # its own share is spent
    assert pacer.take_query(2, 0)  # borrowed from the idle IP budget
    assert pacer.query_weights.tokens == 0
    assert pacer.weights.tokens == 1198
    pacer.weights.tokens = 61
    assert not pacer.take_query(2, 0)  # it would dig into the reserve
    assert pacer.weights.tokens == 61
    # The wake-up comes when borrowing becomes possible (0.05 s at 20 weight/s), not when the
    # query share refills (2 weight at 7/s: 0.29 s).
    assert abs(pacer.query_wait_s(2, 0) - 0.05) < 1e-9
    # Asked without end, queries never take the IP budget below the reserve by borrowing.
    now = 0
    admitted = 0
    for _ in range(6000):
        now += 10_000_000  # every 10 ms for a minute
        if pacer.take_query(2, now):
            admitted += 1
        assert pacer.weights.tokens >= 60 - 2
    # The whole 20/s goes to queries (7/s of their own, the rest borrowed), never more than
    # the IP budget held plus its refill: ~600 queries of 2 weight in the minute.
    assert admitted >= 580
    assert 2 * admitted <= 61 + 1200 - (60 - 2)
    # The reserve is there for actions: the signer still gets its credit at once.
    assert pacer.grantable(now) == config.credit_target


def test_the_headroom_is_what_the_burst_has_left_and_never_more() -> None:
    from actors.executing.pacing import Pacer, PacingConfig

    pacer = Pacer(PacingConfig(action_burst=60), 0)
    assert pacer.headroom(0) == 60
    pacer.action_weights.tokens = 12.7
    assert pacer.headroom(0) == 12
    pacer.weights.tokens = 3.0  # the IP budget binds first
    assert pacer.headroom(0) == 3
    # Budgets lifted to infinity (the runtime bench's probes): still a number, the burst.
    from unittest import mock

    from venues.hyperliquid.ratelimit import WeightBudget

    with mock.patch.object(WeightBudget, "tokens_at", return_value=float("inf")):
        assert pacer.headroom(0) == 60
