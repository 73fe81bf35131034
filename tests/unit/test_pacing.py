"""Pacing: the signer signs only with credit paid from the IP budget, coalesces what waits,
never signs an order that could no longer expire in time; execution grants credit, refuses new
orders when the backlog would outlive them, retries 429s and invalidates unknown requests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from actors.signing.core import INVALIDATION_ID_BASE, SignerCore
from actors.signing.nonce import NonceSource
from messages import ClientOrderId, OrderSide, OrderType, SubmitOrder, TimeInForce
from messages.enums import RequestKind
from messages.execution import DrainQueue, RequestExpired, SignedAction
from messages.gate import SignerBacklog
from messages.signing import CancelTarget, InvalidateNonce, SendCredit, SignCancels, SignOrders
from messages.tracking import OrderDenied, ReconcileRequested
from messages.venue import NonceInvalidated, RequestFailed
from tests.support.execution import Rig, answer, order, paced_rig, signed
from venues.hyperliquid.markets import Market, MarketRegistry
from venues.hyperliquid.signing import L1Signer, recover_l1_signer

KEY = "0x" + "42" * 32
MARKETS = MarketRegistry([
    Market(trading_pair="BTC-USD", coin="BTC", asset=0, sz_decimals=5, max_leverage=50),
])
T0_MS = 1_800_000_000_000


class Clock:
    def __init__(self) -> None:
        self.ms = T0_MS

    def now_ms(self) -> int:
        return self.ms

    def now_ns(self) -> int:
        return self.ms * 1_000_000


def _core(clock: Clock, **kw: object) -> SignerCore:
    return SignerCore(L1Signer(KEY, is_mainnet=False), MARKETS, NonceSource(clock.now_ms),
                      clock.now_ns, expires_after_s=10.0, **kw)  # type: ignore[arg-type]


def _order(n: int, tif: TimeInForce = TimeInForce.GTC) -> SubmitOrder:
    return SubmitOrder(client_order_id=ClientOrderId.derive("pace", n), trading_pair="BTC-USD",
                       side=OrderSide.BUY, order_type=OrderType.LIMIT, amount=Decimal("0.001"),
                       price=Decimal("65000"), time_in_force=tif)


def _actions(out: list[SignedAction | RequestFailed]) -> list[SignedAction]:
    return [a for a in out if isinstance(a, SignedAction)]


# --- the signer ----------------------------------------------------------------------------

def test_without_credit_nothing_is_signed_and_what_waits_is_coalesced() -> None:
    clock = Clock()
    core = _core(clock, credit=0)
    for n in range(100):
        core.add(SignOrders(orders=(_order(n),), expires_after_ms=clock.ms + 30_000, ts_init=0))
    assert core.flush() == []
    clock.ms += 1_500
    backlog = core.backlog()
    assert (backlog.orders, backlog.credit) == (100, 0)
    assert backlog.oldest_age_ns == 1_500 * 1_000_000
    core.grant(2)
    out = _actions(core.flush())
    # Two credits: two actions of the largest weight-1 batch (39), oldest orders first.
    assert [len(a.client_order_ids) for a in out] == [39, 39]
    assert out[0].client_order_ids[0] == _order(0).client_order_id
    assert core.pending == 22
    assert core.credit == 0
    nonces = [a.nonce for a in out]
    assert nonces == sorted(set(nonces))


def test_orders_are_signed_with_an_expiry_from_the_moment_they_leave() -> None:
    clock = Clock()
    core = _core(clock, credit=0)
    core.add(SignOrders(orders=(_order(1),), expires_after_ms=clock.ms + 30_000, ts_init=0))
    clock.ms += 5_000  # waited five seconds for credit
    core.grant(1)
    (action,) = _actions(core.flush())
    body = orjson.loads(action.body)
    assert body["expiresAfter"] == clock.ms + 10_000  # the window counts from signing
    assert action.expires_after_ms == clock.ms + 10_000
    assert body["nonce"] >= clock.ms  # a fresh nonce, not one taken while it waited
    assert recover_l1_signer(body["action"], body["nonce"], body["signature"],
                             expires_after=body["expiresAfter"], is_mainnet=False) == core.address


def test_the_trackers_bound_caps_the_expiry_and_a_bound_too_close_is_never_signed() -> None:
    clock = Clock()
    core = _core(clock, credit=0)
    core.add(SignOrders(orders=(_order(1),), expires_after_ms=clock.ms + 4_000, ts_init=0))
    core.add(SignOrders(orders=(_order(2),), expires_after_ms=clock.ms + 20_000, ts_init=0))
    clock.ms += 3_500  # order 1 has 0.5 s left: less than the 1 s margin
    core.grant(1)
    out = core.flush()
    failed = [o for o in out if isinstance(o, RequestFailed)]
    assert len(failed) == 1
    assert failed[0].client_order_ids == (_order(1).client_order_id,)
    assert failed[0].definitive
    assert "rate budget" in failed[0].reason
    (action,) = _actions(out)
    assert action.client_order_ids == (_order(2).client_order_id,)
    assert action.expires_after_ms == clock.ms + 10_000
    core.add(SignOrders(orders=(_order(3),), expires_after_ms=clock.ms + 3_000, ts_init=0))
    core.grant(1)
    (capped,) = _actions(core.flush())
    assert capped.expires_after_ms == clock.ms + 3_000


def test_scarce_credit_goes_to_invalidations_then_cancels_then_orders() -> None:
    clock = Clock()
    core = _core(clock, credit=0)
    core.add(SignOrders(orders=(_order(1),), expires_after_ms=None, ts_init=0))
    core.add(SignCancels(targets=(CancelTarget(client_order_id=_order(2).client_order_id,
                                               trading_pair="BTC-USD", exchange_order_id=None,
                                               by_exchange_id=False),), ts_init=0))
    core.add(InvalidateNonce(nonce=T0_MS - 5, kind=RequestKind.SUBMIT,
                             client_order_ids=(_order(7).client_order_id,), ts_init=0))
    order_of: list[RequestKind] = []
    for _ in range(3):
        core.grant(1)
        order_of.extend(a.kind for a in _actions(core.flush()))
    assert order_of == [RequestKind.INVALIDATE, RequestKind.CANCEL, RequestKind.SUBMIT]


def test_a_stream_of_cancels_does_not_starve_new_orders() -> None:
    """One credit at a time, a new cancel arriving before each: orders still get their turn
    once they have waited longer than the cancels' head start."""
    clock = Clock()
    core = _core(clock, credit=0, cancel_head_start_s=0.5)
    core.add(SignOrders(orders=(_order(1),), expires_after_ms=None, ts_init=0))
    signed_kinds: list[RequestKind] = []
    for n in range(10):
        clock.ms += 200
        core.add(SignCancels(targets=(CancelTarget(
            client_order_id=ClientOrderId.derive("c", n), trading_pair="BTC-USD",
            exchange_order_id=None, by_exchange_id=False),), ts_init=0))
        core.grant(1)
        signed_kinds.extend(a.kind for a in _actions(core.flush()))
    assert RequestKind.SUBMIT in signed_kinds
    assert signed_kinds.index(RequestKind.SUBMIT) <= 3  # waited ~0.6 s, not forever


def test_an_invalidating_noop_reuses_the_unknown_requests_nonce() -> None:
    clock = Clock()
    core = _core(clock)
    cloids = (_order(1).client_order_id,)
    core.add(InvalidateNonce(nonce=T0_MS - 42, kind=RequestKind.SUBMIT, client_order_ids=cloids,
                             ts_init=0))
    (noop,) = _actions(core.flush())
    body = orjson.loads(noop.body)
    assert body["action"] == {"type": "noop"}
    assert body["nonce"] == noop.nonce == T0_MS - 42
    assert body["expiresAfter"] is None
    assert noop.request_id == INVALIDATION_ID_BASE + T0_MS - 42
    assert noop.kind is RequestKind.INVALIDATE
    assert noop.invalidates is RequestKind.SUBMIT
    assert noop.client_order_ids == cloids
    assert recover_l1_signer(body["action"], body["nonce"], body["signature"],
                             is_mainnet=False) == core.address


def test_batches_never_exceed_weight_one() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        _core(Clock(), max_batch=40)


# --- execution -----------------------------------------------------------------------------

def _rig(**settings: Any) -> Rig:
    return paced_rig(**settings)


def _credit(rig: Rig) -> int:
    return sum(m.actions for m in rig.signer if isinstance(m, SendCredit))


def test_a_new_execution_resets_the_signers_credit_and_keeps_it_topped_up() -> None:
    rig = _rig(credit_target=4)
    first = rig.signer[0]
    assert isinstance(first, SendCredit)
    assert first.reset
    assert first.actions == 4
    rig.core.signed(signed(n=1))
    assert len(rig.ws) == 1  # sent at once: its weight was paid when the credit was granted
    assert _credit(rig) == 5  # the spent credit is replaced


def test_credit_is_paid_from_the_ip_budget_and_resumes_when_it_refills() -> None:
    rig = _rig(credit_target=4, ip_weight_per_minute=60)  # one weight per second
    rig.core.pacer.weights.tokens = 0  # the start's grant of 4 spent the rest
    granted_before = _credit(rig)
    assert granted_before == 4
    for n in range(4):
        rig.core.signed(signed(n=n + 1))
    assert _credit(rig) == granted_before  # nothing left to grant from
    assert any(isinstance(m, DrainQueue) for _, m in rig.later)
    rig.clock.ns += 2 * 10**9
    rig.core.drain()
    assert _credit(rig) == granted_before + 2


def test_a_restarted_signer_is_granted_afresh() -> None:
    rig = _rig(credit_target=3)
    rig.backlog(SignerBacklog(orders=0, cancels=0, modifies=0, oldest_age_ns=0,
                                          credit=0, started=True, ts_init=0))
    last = rig.signer[-1]
    assert isinstance(last, SendCredit)
    assert last.reset
    assert rig.core.pacer.outstanding == 3


def test_backpressure_refuses_orders_once_the_backlog_would_outlive_them() -> None:
    rig = _rig(max_queue_delay_s=2.0, max_backlog_orders=500)
    rig.backlog(SignerBacklog(orders=50, cancels=0, modifies=0,
                                          oldest_age_ns=500_000_000, credit=0, ts_init=0))
    rig.gate.submit(order(client_order_id=ClientOrderId.derive("bp", 1)))
    assert not isinstance(rig.tracker[-1], OrderDenied)  # waited 0.5 s: still useful
    rig.clock.ns += 2 * 10**9  # no credit since: the oldest has now waited 2.5 s
    rig.gate.submit(order(client_order_id=ClientOrderId.derive("bp", 2)))
    denied = rig.tracker[-1]
    assert isinstance(denied, OrderDenied)
    assert "back-pressure" in denied.reason
    rig.backlog(SignerBacklog(orders=0, cancels=0, modifies=0, oldest_age_ns=0,
                                          credit=2, ts_init=0))
    rig.gate.submit(order(client_order_id=ClientOrderId.derive("bp", 3)))
    assert not isinstance(rig.tracker[-1], OrderDenied)  # drained: trading resumes at once
    rig.backlog(SignerBacklog(orders=500, cancels=0, modifies=0, oldest_age_ns=0,
                                          credit=0, ts_init=0))
    rig.gate.submit(order(client_order_id=ClientOrderId.derive("bp", 4)))
    assert isinstance(rig.tracker[-1], OrderDenied)


def test_a_429_is_sent_again_with_the_same_bytes_not_failed() -> None:
    rig = _rig()
    action = signed(n=1, expires_after_ms=rig.clock.ns // 10**6 + 10_000)
    rig.core.signed(action)
    answer(rig, action.request_id, None, status=429)
    assert not any(isinstance(m, RequestFailed) for m in rig.tracker)
    rig.clock.ns += 5 * 10**9
    rig.core.drain()
    assert [b for _, _, b in rig.ws].count(action.body) == 2
    answer(rig, action.request_id, {"status": "ok", "response": {"type": "order", "data": {
        "statuses": [{"resting": {"oid": 9}}]}}})
    assert type(rig.tracker[-1]).__name__ == "SubmitAnswered"


def test_a_429_too_close_to_expiry_is_a_definitive_failure() -> None:
    rig = _rig()
    action = signed(n=1, expires_after_ms=rig.clock.ns // 10**6 + 500)
    rig.core.signed(action)
    answer(rig, action.request_id, None, status=429)
    failed = rig.tracker[-1]
    assert isinstance(failed, RequestFailed)
    assert failed.definitive


@pytest.mark.parametrize(("noop_answer", "executed"), [
    ({"status": "ok", "response": {"type": "default"}}, False),
    ({"status": "err", "response": "Invalid nonce: duplicate nonce 1800000000001"}, True),
    ({"status": "err", "response": "Invalid nonce: nonce too low 1 < 2"}, None),
])
def test_an_unknown_outcome_is_settled_by_invalidating_its_nonce(
    noop_answer: dict[str, object], executed: bool | None,
) -> None:
    rig = _rig()
    action = signed(n=1)
    rig.core.signed(action)
    answer(rig, action.request_id, None, status=502, error="bad gateway")
    failed = rig.tracker[-1]
    assert isinstance(failed, RequestFailed)
    assert not failed.definitive
    invalidate = rig.signer[-1]
    assert isinstance(invalidate, InvalidateNonce)
    assert (invalidate.nonce, invalidate.kind, invalidate.client_order_ids) == (
        action.nonce, RequestKind.SUBMIT, action.client_order_ids)
    core = SignerCore(L1Signer(KEY, is_mainnet=False), MARKETS, NonceSource(lambda: T0_MS),
                      lambda: T0_MS * 10**6)
    core.add(invalidate)
    (noop,) = _actions(core.flush())
    rig.core.signed(noop)
    answer(rig, noop.request_id, noop_answer)
    settled = rig.tracker[-1]
    assert isinstance(settled, NonceInvalidated)
    assert settled.executed is executed
    assert settled.kind is RequestKind.SUBMIT
    assert settled.client_order_ids == action.client_order_ids


def test_a_noop_without_answer_is_sent_again_a_bounded_number_of_times() -> None:
    rig = _rig()
    noop = SignedAction(request_id=INVALIDATION_ID_BASE + 5, kind=RequestKind.INVALIDATE,
                        client_order_ids=(ClientOrderId.derive("x", 1),), body=b'{"noop":1}',
                        nonce=5, expires_after_ms=None, weight=1, ts_init=0,
                        invalidates=RequestKind.SUBMIT)
    rig.core.signed(noop)
    for _ in range(10):
        answer(rig, noop.request_id, None, status=503)
        rig.clock.ns += 10**9
        rig.core.drain()
    sends = [b for _, _, b in rig.ws + rig.http if b == noop.body]
    assert len(sends) == rig.core.config.invalidate_attempts
    assert not any(isinstance(m, NonceInvalidated) for m in rig.tracker)


def test_an_expired_request_is_reported_unknown_and_invalidated() -> None:
    rig = _rig()
    action = signed(RequestKind.CANCEL, n=2)
    rig.core.signed(action)
    rig.core.expired(RequestExpired(request_id=action.request_id, ts_init=0))
    assert isinstance(rig.tracker[-1], RequestFailed)
    assert isinstance(rig.signer[-1], InvalidateNonce)
    assert rig.signer[-1].kind is RequestKind.CANCEL


def test_status_queries_waiting_for_weight_are_not_duplicated() -> None:
    rig = _rig(ip_weight_per_minute=60, query_share=0.5)
    rig.core.pacer.weights.tokens = 0
    cloid = ClientOrderId.derive("q", 1)
    for _ in range(5):
        rig.core.reconcile(ReconcileRequested(client_order_ids=(cloid,), open_orders=False,
                                              fills_since_ms=None, reason="t", ts_init=0))
    assert len(rig.core._queue) == 1


def test_the_address_budget_stops_where_the_venue_does() -> None:
    """The venue refuses the request that brings the count to its cap: "(10000 > 9999)"."""
    from venues.hyperliquid.ratelimit import AddressBudget

    budget = AddressBudget()
    budget.used = 9_998
    assert budget.can_order()
    budget.charge(1)
    assert not budget.can_order()
    assert budget.can_cancel()  # cancels have min(cap + 100 000, 2 × cap)
    rig = _rig()
    rig.gate.address.used = rig.gate.address.cap - 1
    rig.gate.submit(order(client_order_id=ClientOrderId.derive("ab", 1)))
    denied = rig.tracker[-1]
    assert isinstance(denied, OrderDenied)
    assert "address request budget" in denied.reason


def test_a_modify_expires_from_signing_within_the_trackers_bound() -> None:
    from messages.signing import ModifyTarget, SignModifies

    clock = Clock()
    core = _core(clock, credit=0)

    def modify(n: int, bound_in_ms: int) -> SignModifies:
        order = _order(n)
        return SignModifies(targets=(ModifyTarget(client_order_id=order.client_order_id,
                                                  exchange_order_id=None, order=order),),
                            expires_after_ms=clock.ms + bound_in_ms, ts_init=0)

    core.add(modify(1, 3_000))
    core.add(modify(2, 30_000))
    clock.ms += 2_500  # modify 1 has 0.5 s left: refused, never sent
    core.grant(2)
    out = core.flush()
    failed = [o for o in out if isinstance(o, RequestFailed)]
    assert [f.client_order_ids for f in failed] == [(_order(1).client_order_id,)]
    assert failed[0].definitive
    assert failed[0].kind is RequestKind.MODIFY
    (action,) = _actions(out)
    assert action.kind is RequestKind.MODIFY
    assert action.expires_after_ms == clock.ms + 10_000
    assert orjson.loads(action.body)["expiresAfter"] == clock.ms + 10_000
