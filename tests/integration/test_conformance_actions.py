"""Conformance: the runtime's markets and its non-order actions against the simulator —
cancels (by cloid and by oid), batchModify, scheduleCancel, expiresAfter, the emergency cancel.

Every action is built by `SignerCore` (the runtime's signer logic) for the demo key with testnet
signatures, sent by the runtime's `HttpTransport` or `WsPostTransport` over 127.0.0.1, and the
answer parsed by ``venues.hyperliquid.payloads`` — the path execution uses in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import orjson
import pytest

from messages import (
    CancelAnswered,
    ClientOrderId,
    OrderSide,
    OrderStatusReported,
    RequestFailed,
    SubmitOutcome,
    VenueOrderStatus,
)
from messages.enums import RequestKind
from messages.execution import SignedAction
from messages.signing import (
    CancelTarget,
    ModifyTarget,
    ScheduleCancel,
    SignCancels,
    SignModifies,
    SignOrders,
)
from tests.conformance_support import (
    VIAS,
    VenueRig,
    Via,
    cancel_target,
    evolve_order,
    limit,
    only,
    passive_price,
    rig_for,
    start_sim,
    submit_answers,
)
from venues.hyperliquid import payloads, requests
from venues.hyperliquid.bootstrap import InfoClient, VenueUnavailableError, cancel_everything
from venues.hyperliquid.markets import SPOT_ASSET_OFFSET
from venues.hyperliquid.signing import L1Signer
from venues.simulator import (
    DEMO_ADDRESS,
    DEMO_PRIVATE_KEY,
    CoinSpec,
    RunningSimulator,
    SimulatorConfig,
)
from venues.simulator.model import Errors, Status

BUY, SELL = OrderSide.BUY, OrderSide.SELL


@pytest.fixture
def rig(sim: RunningSimulator) -> Iterator[VenueRig]:
    yield from rig_for(sim, "conformance-actions")


# --- 1. markets ----------------------------------------------------------------------------


def test_markets_come_from_the_simulators_meta() -> None:
    coins = (
        CoinSpec(name="BTC", sz_decimals=5, max_leverage=40, mid=Decimal(100000)),
        CoinSpec(name="DOGE", sz_decimals=0, max_leverage=10, mid=Decimal("0.2")),
        CoinSpec(name="kPEPE", sz_decimals=0, max_leverage=10, mid=Decimal("0.01")),
        CoinSpec(name="ETH", sz_decimals=4, max_leverage=25, mid=Decimal(3500)),
    )
    with start_sim(SimulatorConfig(coins=coins)) as s:
        markets = InfoClient(s.base_url, timeout_s=5.0).markets()
    assert markets.pairs() == ("BTC-USD", "DOGE-USD", "kPEPE-USD", "ETH-USD")
    for asset, spec in enumerate(coins):
        market = markets.by_coin(spec.name)
        assert market.trading_pair == f"{spec.name}-USD"
        assert market.asset == asset
        assert market.sz_decimals == spec.sz_decimals
        assert market.max_leverage == spec.max_leverage
        assert not market.is_spot
        assert not market.delisted
        assert markets.by_asset(asset) is market
    # The simulator's spotMeta lists only USDC and no pair: no spot market appears.
    assert not any(markets.by_pair(p).asset >= SPOT_ASSET_OFFSET for p in markets.pairs())
    # Once the venue is gone the launcher gets a clear error, not a hang or a parse failure.
    with pytest.raises(VenueUnavailableError, match=s.base_url):
        InfoClient(s.base_url, timeout_s=2.0).markets()


def test_default_markets_and_book(rig: VenueRig) -> None:
    assert [(p, rig.markets.by_pair(p).asset, rig.markets.by_pair(p).sz_decimals)
            for p in rig.markets.pairs()] == [
        ("BTC-USD", 0, 5), ("ETH-USD", 1, 4), ("SOL-USD", 2, 2), ("HYPE-USD", 3, 2)]
    book = rig.book("ETH-USD")
    venue = rig.sim.call(lambda core: (core.engine.books["ETH"].depth(True, 20),
                                       core.engine.books["ETH"].depth(False, 20)))
    assert [(lv.price, lv.size, lv.orders) for lv in book.bids] == venue[0]
    assert [(lv.price, lv.size, lv.orders) for lv in book.asks] == venue[1]
    assert book.bids[0].price < book.asks[0].price


# --- 2. cancels, modifies and account actions ---------------------------------------------


@pytest.mark.parametrize("via", VIAS)
def test_cancel_by_cloid_and_by_oid_of_an_external_order(rig: VenueRig, via: Via) -> None:
    book = rig.book("ETH-USD")
    ours = limit(rig.cloid(), BUY, "0.01", passive_price(rig, book, BUY, "0.003"))
    rested = rig.place(ours, via)
    assert rested.outcome is SubmitOutcome.RESTING
    # An order placed by another client of the account (no cloid): found through openOrders.
    external_oid = rig.place_external("ETH-USD", SELL, Decimal("0.01"),
                                      passive_price(rig, book, SELL, "0.003"))
    listed = payloads.parse_open_orders(rig.query(requests.open_orders(DEMO_ADDRESS), via), 0)
    external = only([o for o in listed.report.orders if o.client_order_id is None])
    assert external.exchange_order_id == external_oid
    target = CancelTarget(
        client_order_id=ClientOrderId.derive("external", external_oid),
        trading_pair=external.trading_pair, exchange_order_id=external.exchange_order_id,
        by_exchange_id=True)

    actions = rig.sign(SignCancels(targets=(cancel_target(ours), target), ts_init=0))
    kinds = [orjson.loads(a.body)["action"] for a in actions if isinstance(a, SignedAction)]
    assert kinds == [
        {"type": "cancelByCloid", "cancels": [{"asset": 1, "cloid": ours.client_order_id}]},
        {"type": "cancel", "cancels": [{"a": 1, "o": external_oid}]},
    ]
    answers: list[CancelAnswered] = []
    for action in actions:
        assert isinstance(action, SignedAction)
        assert action.kind is RequestKind.CANCEL
        parsed = payloads.parse_cancel_response(rig.post(action, via), action.client_order_ids, 0)
        assert not isinstance(parsed, RequestFailed), parsed
        answers.extend(a for a in parsed if isinstance(a, CancelAnswered))
    assert [(a.client_order_id, a.success, a.error) for a in answers] == [
        (ours.client_order_id, True, ""), (target.client_order_id, True, "")]
    assert rig.venue_order(ours.client_order_id).status == Status.CANCELED
    assert rig.venue_order(external_oid).status == Status.CANCELED

    again = only(rig.cancel([cancel_target(ours)], via))
    assert not again.success
    assert again.error == Errors.CANCEL_MISSING == (
        "Order was never placed, already canceled, or filled.")

@pytest.mark.parametrize("via", VIAS)
def test_batch_modify_replaces_orders_under_new_oids(rig: VenueRig, via: Via) -> None:
    book = rig.book("ETH-USD")
    first = limit(rig.cloid(), BUY, "0.01", passive_price(rig, book, BUY, "0.004"))
    second = limit(rig.cloid(), SELL, "0.02", passive_price(rig, book, SELL, "0.004"))
    placed = rig.submit([first, second], via)
    assert not isinstance(placed, RequestFailed)
    old_oids = [a.exchange_order_id for a in placed]
    assert all(oid is not None for oid in old_oids)

    new_first = evolve_order(first, price=passive_price(rig, book, BUY, "0.006"),
                             amount=Decimal("0.015"))
    new_second = evolve_order(second, price=passive_price(rig, book, SELL, "0.006"))
    targets = [
        ModifyTarget(client_order_id=o.client_order_id, exchange_order_id=oid, order=o)
        for o, oid in ((new_first, old_oids[0]), (new_second, old_oids[1]))
    ]
    action = rig.sign_one(SignModifies(targets=tuple(targets), ts_init=0))
    assert action.kind is RequestKind.MODIFY
    assert orjson.loads(action.body)["action"]["type"] == "batchModify"
    answers = rig.modify(targets, via)
    assert [a.client_order_id for a in answers] == [first.client_order_id, second.client_order_id]
    for answer, new, old_oid in zip(answers, (new_first, new_second), old_oids, strict=True):
        assert answer.outcome is SubmitOutcome.RESTING
        assert answer.exchange_order_id is not None
        assert answer.exchange_order_id != old_oid
        venue = rig.venue_order(new.client_order_id)  # the cloid now names the new order
        assert venue.oid == answer.exchange_order_id
        assert venue.limit_px == new.price
        assert venue.orig_sz == new.amount
        assert rig.venue_order(int(old_oid or 0)).status == Status.CANCELED
        report = rig.order_status(new.client_order_id, via)
        assert isinstance(report, OrderStatusReported)
        assert report.exchange_order_id == answer.exchange_order_id
        assert report.price == new.price

    # Modifying an order that is gone: the venue's per-order error, mapped to the cloid.
    assert rig.cancel([cancel_target(new_first)], via)[0].success
    (gone,) = rig.modify([targets[0]], via)
    assert gone.client_order_id == first.client_order_id
    assert gone.outcome is SubmitOutcome.REJECTED
    assert gone.error == "Cannot modify canceled or filled order"

@pytest.mark.parametrize("via", VIAS)
def test_schedule_cancel_set_clear_refuse_and_fire(rig: VenueRig, via: Via) -> None:
    def deadline() -> int | None:
        return rig.sim.call(lambda core: core.engine.scheduled.deadline(DEMO_ADDRESS))

    def schedule(time_ms: int | None) -> payloads.ExchangeResponse:
        action = rig.sign_one(ScheduleCancel(time_ms=time_ms, ts_init=0))
        assert action.kind is RequestKind.SCHEDULE_CANCEL
        assert action.client_order_ids == ()
        expected = {"type": "scheduleCancel"} if time_ms is None else {
            "type": "scheduleCancel", "time": time_ms}
        assert orjson.loads(action.body)["action"] == expected
        return payloads.parse_exchange_response(rig.post(action, via))

    now = rig.sim_ms()
    assert payloads.default_answer(schedule(now + 10_000), RequestKind.SCHEDULE_CANCEL, 0) is None
    assert deadline() == now + 10_000
    assert payloads.default_answer(schedule(None), RequestKind.SCHEDULE_CANCEL, 0) is None
    assert deadline() is None

    early = payloads.default_answer(schedule(now + 1_000), RequestKind.SCHEDULE_CANCEL, 0)
    assert early is not None
    assert early.definitive
    assert early.reason == "Scheduled cancel time too early, must be at least 5 seconds from now."

    order = limit(rig.cloid(), BUY, "0.01", passive_price(rig, rig.book("ETH-USD"), BUY, "0.01"))
    assert rig.place(order, via).outcome is SubmitOutcome.RESTING
    assert payloads.default_answer(schedule(now + 6_000), RequestKind.SCHEDULE_CANCEL, 0) is None
    rig.sim.advance(5)
    report = rig.order_status(order.client_order_id, via)
    assert isinstance(report, OrderStatusReported)
    assert report.status is VenueOrderStatus.OPEN
    rig.sim.advance(2)  # past the deadline: the switch fires
    report = rig.order_status(order.client_order_id, via)
    assert isinstance(report, OrderStatusReported)
    assert report.status is VenueOrderStatus.CANCELLED
    assert report.raw_status == "scheduledCancel"
    assert deadline() is None

@pytest.mark.parametrize("via", VIAS)
def test_expires_after_future_accepted_past_rejected(rig: VenueRig, via: Via) -> None:
    book = rig.book("ETH-USD")
    now = rig.sim_ms()
    fresh = limit(rig.cloid(), BUY, "0.01", passive_price(rig, book, BUY, "0.002"))
    action = rig.sign_one(SignOrders(orders=(fresh,), expires_after_ms=now + 30_000, ts_init=0))
    assert action.expires_after_ms == now + 30_000
    assert orjson.loads(action.body)["expiresAfter"] == now + 30_000
    accepted = submit_answers(rig.post(action, via), action)
    assert not isinstance(accepted, RequestFailed)
    assert only(accepted).outcome is SubmitOutcome.RESTING

    stale = limit(rig.cloid(), BUY, "0.01", passive_price(rig, book, BUY, "0.002"))
    refused = rig.submit([stale], via, expires_after_ms=now - 1)
    assert isinstance(refused, RequestFailed)
    assert refused.definitive
    assert refused.kind is RequestKind.SUBMIT
    assert refused.client_order_ids == (stale.client_order_id,)
    assert refused.reason == "Action already expired"
    assert rig.sim.call(lambda core: core.engine.reg.find(DEMO_ADDRESS, stale.client_order_id)) \
        is None

def test_cancel_everything_cancels_ours_and_external_orders(rig: VenueRig) -> None:
    book = rig.book("ETH-USD")
    ours = [limit(rig.cloid(), BUY, "0.01", passive_price(rig, book, BUY, "0.003")),
            limit(rig.cloid(), SELL, "0.01", passive_price(rig, book, SELL, "0.003"))]
    for order in ours:
        assert rig.place(order, "http").outcome is SubmitOutcome.RESTING
    external_oid = rig.place_external("ETH-USD", BUY, Decimal("0.01"),
                                      passive_price(rig, book, BUY, "0.004"))
    signer = L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False)
    sent = cancel_everything(rig.info, signer, rig.nonces.next, DEMO_ADDRESS, rig.markets)
    assert sent == 3
    assert rig.sim.call(lambda core: core.engine.live_orders(DEMO_ADDRESS)) == []
    for order in ours:
        assert rig.venue_order(order.client_order_id).status == Status.CANCELED
    assert rig.venue_order(external_oid).status == Status.CANCELED
