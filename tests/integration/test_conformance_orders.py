"""Conformance: orders built by the runtime's signer, sent by its transports, answered by the
simulator and parsed by ``venues.hyperliquid.payloads`` — every order type the runtime places.

Every action is built by `SignerCore` for the demo key with testnet signatures, sent by the
runtime's `HttpTransport` or `WsPostTransport` over 127.0.0.1 (each test runs over both), and the
answer parsed as `ExecutionCore` parses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import orjson
import pytest

from messages import (
    ExchangeOrderId,
    OrderSide,
    OrderType,
    RequestFailed,
    SubmitOrder,
    SubmitOutcome,
    TimeInForce,
    VenueOrderStatus,
)
from messages.execution import SignedAction
from messages.signing import SignOrders
from tests.conformance_support import (
    VIAS,
    VenueRig,
    Via,
    cancel_target,
    limit,
    passive_price,
    rig_for,
    submit_answers,
    sweep,
)
from venues.hyperliquid import payloads, requests
from venues.hyperliquid.models import OrderRecord
from venues.hyperliquid.numbers import decimal_to_wire
from venues.simulator import (
    DEMO_ADDRESS,
    RunningSimulator,
)
from venues.simulator.model import Status

BUY, SELL = OrderSide.BUY, OrderSide.SELL


@pytest.fixture
def rig(sim: RunningSimulator) -> Iterator[VenueRig]:
    yield from rig_for(sim, "conformance-orders")


@pytest.mark.parametrize("via", VIAS)
def test_limit_gtc_ioc_alo(rig: VenueRig, via: Via) -> None:
    book = rig.book("ETH-USD")
    bid, ask = book.bids[0].price, book.asks[0].price
    below = passive_price(rig, book, BUY, "0.002")
    gtc = limit(rig.cloid(), BUY, "0.01", below)
    ioc_fill = limit(rig.cloid(), BUY, "0.01", ask, tif=TimeInForce.IOC)
    ioc_miss = limit(rig.cloid(), BUY, "0.01", below, tif=TimeInForce.IOC)
    alo = limit(rig.cloid(), SELL, "0.01", passive_price(rig, book, SELL, "0.002"),
                tif=TimeInForce.ALO)
    alo_cross = limit(rig.cloid(), BUY, "0.01", ask, tif=TimeInForce.ALO)

    # One flush: the signer puts GTC/IOC in one action and the post-only orders in another.
    actions = rig.sign(SignOrders(orders=(gtc, ioc_fill, ioc_miss, alo, alo_cross),
                                  expires_after_ms=None, ts_init=0))
    assert [a.client_order_ids for a in actions if isinstance(a, SignedAction)] == [
        (gtc.client_order_id, ioc_fill.client_order_id, ioc_miss.client_order_id),
        (alo.client_order_id, alo_cross.client_order_id)]
    answers = {}
    for action in actions:
        assert isinstance(action, SignedAction)
        parsed = submit_answers(rig.post(action, via), action)
        assert not isinstance(parsed, RequestFailed), parsed
        answers.update({a.client_order_id: a for a in parsed})

    rested = answers[gtc.client_order_id]
    assert rested.outcome is SubmitOutcome.RESTING
    assert rested.exchange_order_id == rig.venue_order(gtc.client_order_id).oid
    assert rested.error == ""

    filled = answers[ioc_fill.client_order_id]
    assert filled.outcome is SubmitOutcome.FILLED
    assert filled.filled_amount == Decimal("0.01")
    assert filled.average_price == ask
    assert filled.exchange_order_id == rig.venue_order(ioc_fill.client_order_id).oid

    missed = answers[ioc_miss.client_order_id]
    assert missed.outcome is SubmitOutcome.REJECTED
    assert missed.exchange_order_id is None
    assert missed.error == "Order could not immediately match against any resting orders."

    alo_rested = answers[alo.client_order_id]
    assert alo_rested.outcome is SubmitOutcome.RESTING
    assert rig.venue_order(alo.client_order_id).tif == "Alo"

    crossed = answers[alo_cross.client_order_id]
    assert crossed.outcome is SubmitOutcome.REJECTED
    # The ALO batch went after the IOC took 0.01 off the best ask, which stayed the touch.
    assert crossed.error == (
        f"Post only order would have immediately matched, bbo was {bid}@{ask}.")
    assert rig.venue_order(alo_cross.client_order_id).status == Status.BAD_ALO_PX_REJECTED

@pytest.mark.parametrize("via", VIAS)
def test_market_order_uses_a_slippage_price_from_the_book(rig: VenueRig, via: Via) -> None:
    book = rig.book("ETH-USD")
    normalizer = rig.normalizer("ETH-USD")
    amount = book.asks[0].size + Decimal("0.05")  # takes the whole best level and more
    order = SubmitOrder(client_order_id=rig.cloid(), trading_pair="ETH-USD", side=BUY,
                        order_type=OrderType.MARKET, amount=amount, strategy_id="conformance")
    normalized = normalizer.submit(order)
    assert isinstance(normalized, SubmitOrder), normalized
    mid = (book.bids[0].price + book.asks[0].price) / 2
    assert normalized.price == rig.markets.by_pair("ETH-USD").round_price(
        mid * Decimal("1.05"), is_buy=True, aggressive=False)
    body = orjson.loads(rig.sign_one(SignOrders(orders=(normalized,), expires_after_ms=None,
                                                ts_init=0)).body)
    assert body["action"]["orders"][0]["t"] == {"limit": {"tif": "Ioc"}}

    answer = rig.place(normalized, via)
    assert answer.outcome is SubmitOutcome.FILLED
    assert answer.filled_amount == amount
    average, prices = sweep(book.asks, amount)
    assert answer.average_price == average.quantize(Decimal("1e-8")).normalize()
    assert len(prices) == 2
    fills = rig.sim.call(lambda core: core.engine.reg.fills(DEMO_ADDRESS))
    assert [f.px for f in fills] == prices
    assert {f.oid for f in fills} == {answer.exchange_order_id}

@pytest.mark.parametrize("via", VIAS)
def test_all_four_trigger_kinds_rest_until_triggered(rig: VenueRig, via: Via) -> None:
    normalizer = rig.normalizer("ETH-USD")
    mark = rig.sim.call(lambda core: core.engine.mark("ETH"))
    above, below = (mark * Decimal("1.03")).quantize(Decimal(1)), (
        mark * Decimal("0.97")).quantize(Decimal(1))
    # Each trigger sits on the side where the current mark has not reached it yet.
    specs = [
        (OrderType.STOP_MARKET, BUY, above, None, "sl", True, f"Price above {above}.0"),
        (OrderType.TAKE_PROFIT_MARKET, SELL, above, None, "tp", True, f"Price above {above}.0"),
        (OrderType.STOP_LIMIT, SELL, below, below - 10, "sl", False, f"Price below {below}.0"),
        (OrderType.TAKE_PROFIT_LIMIT, BUY, below, below + 10, "tp", False,
         f"Price below {below}.0"),
    ]
    orders = []
    for kind, side, trigger, price, *_ in specs:
        raw = SubmitOrder(client_order_id=rig.cloid(), trading_pair="ETH-USD", side=side,
                          order_type=kind, amount=Decimal("0.01"), price=price,
                          trigger_price=trigger, strategy_id="conformance")
        normalized = normalizer.submit(raw)
        assert isinstance(normalized, SubmitOrder), normalized
        orders.append(normalized)
    action = rig.sign_one(SignOrders(orders=tuple(orders), expires_after_ms=None, ts_init=0))
    wires = orjson.loads(action.body)["action"]["orders"]
    answers = submit_answers(rig.post(action, via), action)
    assert not isinstance(answers, RequestFailed), answers
    for order, wire_order, answer, (kind, side, trigger, price, tpsl, is_market, condition) in zip(
        orders, wires, answers, specs, strict=True
    ):
        assert wire_order["t"] == {"trigger": {
            "isMarket": is_market, "triggerPx": decimal_to_wire(trigger), "tpsl": tpsl}}
        assert answer.client_order_id == order.client_order_id
        assert answer.outcome is SubmitOutcome.RESTING, (kind, answer)
        venue = rig.venue_order(order.client_order_id)
        assert answer.exchange_order_id == venue.oid
        record = payloads.parse_order_status(
            rig.query(requests.order_status(DEMO_ADDRESS, order.client_order_id), via), 0)
        assert isinstance(record, OrderRecord)
        assert record.order.is_trigger is True
        assert record.order.trigger_px == trigger
        assert record.order.trigger_condition == condition
        assert record.order.order_type == (
            ("Take Profit" if tpsl == "tp" else "Stop") + (" Market" if is_market else " Limit"))
        assert record.report.status is VenueOrderStatus.OPEN
        assert record.report.exchange_order_id == answer.exchange_order_id
        if price is None:  # market triggers carry their worst price: trigger ± 5 %
            expected = rig.markets.by_pair("ETH-USD").round_price(
                trigger * (Decimal("1.05") if side is BUY else Decimal("0.95")),
                is_buy=side is BUY, aggressive=False)
            assert order.price == expected
        assert venue.limit_px == order.price
    cancels = rig.cancel([cancel_target(o) for o in orders], via)
    assert [(c.client_order_id, c.success) for c in cancels] == [
        (o.client_order_id, True) for o in orders]
    armed = rig.sim.call(lambda core: core.engine.triggers.armed("ETH"))
    assert armed == []

@pytest.mark.parametrize("via", VIAS)
def test_reduce_only_is_refused_when_flat_and_clamped_to_the_position(
    rig: VenueRig, via: Via
) -> None:
    book = rig.book("ETH-USD")
    bid, ask = book.bids[0].price, book.asks[0].price
    flat = rig.place(limit(rig.cloid(), SELL, "0.02", bid, tif=TimeInForce.IOC,
                           reduce_only=True), via)
    assert flat.outcome is SubmitOutcome.REJECTED
    assert flat.error == "Reduce only order would increase position."

    opened = rig.place(limit(rig.cloid(), BUY, "0.02", ask, tif=TimeInForce.IOC), via)
    assert opened.outcome is SubmitOutcome.FILLED
    assert opened.filled_amount == Decimal("0.02")
    closing = limit(rig.cloid(), SELL, "0.05", bid, tif=TimeInForce.IOC, reduce_only=True)
    body = orjson.loads(rig.sign_one(SignOrders(orders=(closing,), expires_after_ms=None,
                                                ts_init=0)).body)
    assert body["action"]["orders"][0]["r"] is True
    closed = rig.place(closing, via)
    assert closed.outcome is SubmitOutcome.FILLED
    assert closed.filled_amount == Decimal("0.02")  # clamped to the position
    assert closed.average_price == bid
    position = rig.sim.call(lambda core: core.engine.accounts[DEMO_ADDRESS].szi("ETH"))
    assert position == 0

@pytest.mark.parametrize("via", VIAS)
def test_partial_fills_ioc_reports_the_filled_part_gtc_rests_the_rest(
    rig: VenueRig, via: Via
) -> None:
    book = rig.book("ETH-USD")
    best = book.asks[0]
    ioc = limit(rig.cloid(), BUY, best.size + Decimal("0.5"), best.price, tif=TimeInForce.IOC)
    partial = rig.place(ioc, via)
    assert partial.outcome is SubmitOutcome.FILLED
    assert partial.filled_amount == best.size  # only the best level was within the limit
    assert partial.average_price == best.price
    gone = rig.venue_order(ioc.client_order_id)
    assert gone.sz == Decimal("0.5")  # the remainder was cancelled, not left on the book
    assert not rig.sim.call(lambda core: core.engine.reg.is_live(gone))

    second = book.asks[1]
    gtc = limit(rig.cloid(), BUY, second.size + Decimal("0.25"), second.price)
    rested = rig.place(gtc, via)
    assert rested.outcome is SubmitOutcome.RESTING  # the filled part shows in the fills only
    venue = rig.venue_order(gtc.client_order_id)
    assert rested.exchange_order_id == venue.oid
    assert (venue.sz, venue.orig_sz) == (Decimal("0.25"), gtc.amount)
    fills = rig.sim.call(lambda core: core.engine.reg.fills(DEMO_ADDRESS))
    assert [(f.oid, f.px, f.sz) for f in fills] == [
        (partial.exchange_order_id, best.price, best.size),
        (venue.oid, second.price, second.size)]
    assert rig.book("ETH-USD").bids[0].price == second.price  # the remainder is the best bid

@pytest.mark.parametrize("via", VIAS)
def test_a_batch_of_39_orders_is_one_action_answered_positionally(
    rig: VenueRig, via: Via
) -> None:
    book = rig.book("ETH-USD")
    orders = []
    for i in range(39):  # the largest batch of weight 1 (PROTOCOL §14)
        side = BUY if i % 2 == 0 else SELL
        amount = "0.001" if i == 17 else f"0.01{i:02d}"  # order 17 is below the $10 minimum
        orders.append(limit(rig.cloid(), side, amount,
                            passive_price(rig, book, side, f"0.0{10 + i}")))
    (action,) = rig.sign(SignOrders(orders=tuple(orders), expires_after_ms=None, ts_init=0))
    assert isinstance(action, SignedAction)
    assert action.weight == 39
    assert len(orjson.loads(action.body)["action"]["orders"]) == 39
    answers = submit_answers(rig.post(action, via), action)
    assert not isinstance(answers, RequestFailed)
    assert [a.client_order_id for a in answers] == [o.client_order_id for o in orders]
    for i, (order, answer) in enumerate(zip(orders, answers, strict=True)):
        venue = rig.venue_order(order.client_order_id)
        if i == 17:
            assert answer.outcome is SubmitOutcome.REJECTED
            assert answer.error == "Order must have minimum value of $10."
            assert venue.status == Status.MIN_TRADE_NTL_REJECTED
            continue
        assert answer.outcome is SubmitOutcome.RESTING, (i, answer)
        assert answer.exchange_order_id == ExchangeOrderId(venue.oid)
        assert venue.limit_px == order.price
        assert venue.orig_sz == order.amount
        assert venue.is_buy is (order.side is BUY)
    oids = [a.exchange_order_id for a in answers if a.exchange_order_id is not None]
    assert oids == sorted(set(oids))

@pytest.mark.parametrize("via", VIAS)
def test_every_market_takes_normalised_limit_and_market_orders(rig: VenueRig, via: Via) -> None:
    for pair in rig.markets.pairs():
        book = rig.book(pair)
        normalizer = rig.normalizer(pair)
        mid = book.mid
        assert mid is not None
        market = rig.markets.by_pair(pair)
        # Unrounded inputs: execution must make them valid for this market's precision.
        resting = normalizer.submit(SubmitOrder(
            client_order_id=rig.cloid(), trading_pair=pair, side=SELL,
            order_type=OrderType.LIMIT_MAKER, amount=Decimal(25) / mid + Decimal("1e-7"),
            price=mid * Decimal("1.004321"), strategy_id="conformance"))
        taking = normalizer.submit(SubmitOrder(
            client_order_id=rig.cloid(), trading_pair=pair, side=SELL,
            order_type=OrderType.MARKET, amount=Decimal(15) / mid + Decimal("1e-7"),
            slippage=Decimal("0.01"), strategy_id="conformance"))
        assert isinstance(resting, SubmitOrder), resting
        assert isinstance(taking, SubmitOrder), taking
        for order in (resting, taking):
            assert order.price is not None
            assert market.price_is_valid(order.price), order.price
            assert market.size_is_valid(order.amount), order.amount
        rested = rig.place(resting, via)
        assert rested.outcome is SubmitOutcome.RESTING, (pair, rested)
        assert rig.venue_order(resting.client_order_id).limit_px == resting.price
        taken = rig.place(taking, via)
        assert taken.outcome is SubmitOutcome.FILLED, (pair, taken)
        assert taken.filled_amount == taking.amount
        assert taken.average_price == book.bids[0].price
