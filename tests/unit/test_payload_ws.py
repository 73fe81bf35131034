"""WebSocket frames: every channel the runtime consumes, the greeting, and malformed frames."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from messages.account import FundingPaid, LiquidationReported, NonUserCancelReported
from messages.enums import EvidenceSource, LiquiditySide, OrderSide, VenueOrderStatus
from messages.ids import ClientOrderId, ExchangeOrderId, TradeId
from messages.market import BestBidOffer, BookSnapshot, MidsUpdated, PriceLevel, TradeReceived
from messages.venue import FillsReported, OrderStatusReported
from tests.helpers import load_recorded
from venues.hyperliquid.models import Candle, OrderRecord
from venues.hyperliquid.payloads import (
    GREETING,
    MarketParser,
    Notification,
    PayloadError,
    Pong,
    PostActionAnswer,
    PostErrorAnswer,
    PostInfoAnswer,
    StatusesResponse,
    SubscriptionAck,
    UnhandledFrame,
    WsError,
    WsFrameParser,
    parse_ws_frame,
)
from venues.hyperliquid.payloads.ws_render import render_ws_frame

TS = 1_000
FILL = load_recorded("docs_info_userFills.json")[0]
CLOID = "0x" + "ab" * 16


def frame(channel: str, data: Any = None) -> bytes:
    return orjson.dumps({"channel": channel, "data": data})


@pytest.fixture
def parser() -> WsFrameParser:
    return WsFrameParser()


@pytest.mark.parametrize("raw", [GREETING, GREETING.encode(), GREETING + "\n"])
def test_the_greeting_is_ignored(parser: WsFrameParser, raw: str | bytes) -> None:
    assert parser.parse(raw, TS) is None
    assert parse_ws_frame(raw, TS) is None


def test_control_frames(parser: WsFrameParser) -> None:
    assert parser.parse(b'{"channel":"pong"}', TS) == Pong()
    ack = parser.parse(orjson.dumps(load_recorded("docs_ws_subscriptionResponse_trades.json")), TS)
    assert isinstance(ack, SubscriptionAck)
    assert ack.method == "subscribe"
    assert ack.subscription.get("coin") == "SOL"
    assert parser.parse(frame("error", "Already subscribed: {}"), TS) == WsError(
        message="Already subscribed: {}")
    note = parser.parse(frame("notification", {"notification": "Liquidated"}), TS)
    assert note == Notification(text="Liquidated")


def test_book_frame(parser: WsFrameParser) -> None:
    data = load_recorded("docs_info_l2Book.json")
    book = parser.parse(frame("l2Book", data), TS)
    assert isinstance(book, BookSnapshot)
    assert book.trading_pair == "BTC-USD"
    assert book.bids[0] == PriceLevel(price=Decimal("113377.0"), size=Decimal("7.6699"), orders=17)
    assert book.asks == (PriceLevel(price=Decimal("113397.0"), size=Decimal("0.11543"), orders=3),)
    assert book.ts_event == 1754450974231 * 1_000_000
    assert book.ts_init == TS
    again = parser.parse(frame("l2Book", data), TS + 1)
    assert isinstance(again, BookSnapshot)
    assert again.bids[0] is book.bids[0]


def test_trades_bbo_mids(parser: WsFrameParser) -> None:
    trade = {"coin": "ETH", "side": "A", "px": "3000.5", "sz": "0.1", "hash": "0xab",
             "time": 1700000000000, "tid": 123, "users": ["0xb", "0xs"]}
    trades = parser.parse(frame("trades", [trade]), TS)
    assert trades == (TradeReceived(
        trading_pair="ETH-USD", side=OrderSide.SELL, price=Decimal("3000.5"),
        size=Decimal("0.1"), trade_id=TradeId(123), tx_hash="0xab", buyer="0xb", seller="0xs",
        ts_event=1700000000000 * 1_000_000, ts_init=TS,
    ),)
    assert parser.parse(frame("trades", []), TS) == ()
    bbo = parser.parse(frame("bbo", {"coin": "ETH", "time": 5, "bbo": [
        None, {"px": "3001", "sz": "2", "n": 1}]}), TS)
    assert isinstance(bbo, BestBidOffer)
    assert bbo.bid is None
    assert bbo.ask == PriceLevel(price=Decimal("3001"), size=Decimal("2"), orders=1)
    mids = parser.parse(frame("allMids", {"mids": {"BTC": "97000.5", "@107": "40.1"}}), TS)
    assert mids == MidsUpdated(
        mids=(("BTC-USD", Decimal("97000.5")), ("@107-SPOT", Decimal("40.1"))), ts_init=TS)


def test_order_updates(parser: WsFrameParser) -> None:
    update = {"order": {"coin": "BTC", "side": "B", "limitPx": "97000.0", "sz": "0.0",
                        "oid": 5, "timestamp": 10, "origSz": "0.01", "cloid": CLOID},
              "status": "marginCanceled", "statusTimestamp": 20}
    weird = dict(update, status="brandNewStatus")
    reports = parser.parse(frame("orderUpdates", [update, weird]), TS)
    assert isinstance(reports, tuple)
    assert len(reports) == 2
    first, second = reports
    assert isinstance(first, OrderStatusReported)
    assert first.status is VenueOrderStatus.CANCELLED
    assert first.raw_status == "marginCanceled"
    assert first.client_order_id == ClientOrderId(CLOID)
    assert first.source is EvidenceSource.STREAM
    assert first.original_amount == Decimal("0.01")
    assert first.ts_event == 20 * 1_000_000
    assert isinstance(second, OrderStatusReported)
    assert second.status is VenueOrderStatus.UNRECOGNIZED
    assert second.raw_status == "brandNewStatus"


def test_user_fills_snapshot_flag(parser: WsFrameParser) -> None:
    snap = parser.parse(frame("userFills", {"isSnapshot": True, "user": "0x1", "fills": [FILL]}),
                        TS)
    assert isinstance(snap, FillsReported)
    assert snap.is_snapshot
    assert snap.fills[0].source is EvidenceSource.STREAM
    assert snap.fills[0].liquidity is LiquiditySide.MAKER
    live = parser.parse(frame("userFills", {"user": "0x1", "fills": [FILL]}), TS)
    assert isinstance(live, FillsReported)
    assert not live.is_snapshot


def test_user_events(parser: WsFrameParser) -> None:
    fills = parser.parse(frame("user", {"fills": [FILL]}), TS)
    assert isinstance(fills, FillsReported)
    assert not fills.is_snapshot
    assert len(fills.fills) == 1
    funding = parser.parse(frame("user", {"funding": {
        "time": 7, "coin": "ETH", "usdc": "-1.5", "szi": "2.0", "fundingRate": "0.0001",
        "nSamples": None}}), TS)
    assert funding == FundingPaid(trading_pair="ETH-USD", amount=Decimal("-1.5"),
                                  rate=Decimal("0.0001"), position_size=Decimal("2.0"),
                                  ts_event=7_000_000, ts_init=TS)
    liq = parser.parse(frame("user", {"liquidation": {
        "lid": 9, "liquidator": "0xl", "liquidated_user": "0xu",
        "liquidated_ntl_pos": "100.5", "liquidated_account_value": "3.2"}}), TS)
    assert isinstance(liq, LiquidationReported)
    assert liq.liquidated_notional == Decimal("100.5")
    cancels = parser.parse(frame("user", {"nonUserCancel": [{"coin": "BTC", "oid": 77}]}), TS)
    assert cancels == (NonUserCancelReported(
        exchange_order_id=ExchangeOrderId(77), trading_pair="BTC-USD", ts_init=TS),)
    twap = parser.parse(frame("user", {"twapHistory": [{"x": 1}]}), TS)
    assert isinstance(twap, UnhandledFrame)
    assert twap.channel == "user"
    fundings = parser.parse(frame("userFundings", {"user": "0x1", "isSnapshot": True, "fundings": [
        {"time": 1, "coin": "BTC", "usdc": "1", "szi": "1", "fundingRate": "0.1"}]}), TS)
    assert isinstance(fundings, tuple)
    assert isinstance(fundings[0], FundingPaid)


def test_candle_and_unknown_channels(parser: WsFrameParser) -> None:
    candle = load_recorded("http_info_candleSnapshot__test_get_candles_snapshot_1.json")[0]
    parsed = parser.parse(frame("candle", candle), TS)
    assert isinstance(parsed, Candle)
    assert parsed.coin == "kPEPE"
    assert parsed.trades == 709
    other = parser.parse(frame("webData2", {"a": [1, 2.5, None]}), TS)
    assert isinstance(other, UnhandledFrame)
    assert other.channel == "webData2"
    assert render_ws_frame(other, market=parser.market) == {
        "channel": "webData2", "data": {"a": [1, 2.5, None]}}


def test_post_answers(parser: WsFrameParser) -> None:
    info = parser.parse(orjson.dumps(load_recorded("docs_ws_post_info_l2Book_response.json")), TS)
    assert isinstance(info, PostInfoAnswer)
    assert info.request_id == 123
    assert isinstance(info.data, BookSnapshot)
    assert info.data.trading_pair == "ETH-USD"
    action = parser.parse(
        orjson.dumps(load_recorded("docs_ws_post_action_order_response.json")), TS)
    assert isinstance(action, PostActionAnswer)
    assert action.request_id == 256
    assert isinstance(action.response, StatusesResponse)
    error = parser.parse(frame("post", {"id": 3, "response": {
        "type": "error", "payload": "429 Too Many Requests"}}), TS)
    assert error == PostErrorAnswer(request_id=3, message="429 Too Many Requests")
    status = parser.parse(frame("post", {"id": 4, "response": {"type": "info", "payload": {
        "type": "orderStatus", "data": load_recorded("docs_info_orderStatus_found.json")}}}), TS)
    assert isinstance(status, PostInfoAnswer)
    assert isinstance(status.data, OrderRecord)
    unmodelled = parser.parse(frame("post", {"id": 5, "response": {"type": "info", "payload": {
        "type": "exchangeStatus", "data": {"time": 1}}}}), TS)
    assert isinstance(unmodelled, PostInfoAnswer)
    assert render_ws_frame(unmodelled, market=parser.market)["data"]["response"]["payload"] == {
        "type": "exchangeStatus", "data": {"time": 1}}


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"Websocket connection closed.", "not JSON"),
        (b"", "not JSON"),
        (b"[1, 2]", "must be an object"),
        (b'{"data": 1}', "no 'channel'"),
        (b'{"channel": "trades"}', "has no 'data'"),
        (frame("l2Book", {"coin": "BTC", "time": 1}), r"l2Book: malformed \(KeyError"),
        (frame("l2Book", {"coin": "BTC", "time": "1", "levels": [[], []]}), "time must be"),
        (frame("l2Book", {"coin": "BTC", "time": 1, "levels": [[]]}), "l2Book: malformed"),
        (frame("l2Book", {"coin": "BTC", "time": 1, "levels": [[{"px": "1", "sz": "1"}], []]}),
         "l2Book: malformed"),
        (frame("l2Book", {"coin": "BTC", "time": 1, "levels": [
            [{"px": "abc", "sz": "1", "n": 1}], []]}), "not a decimal string"),
        (frame("l2Book", {"coin": "BTC", "time": 1, "levels": [
            [{"px": "1", "sz": "1", "n": -1}], []]}), "non-negative integer"),
        (frame("l2Book", {"coin": "B-X", "time": 1, "levels": [[], []]}), "not a venue coin"),
        (frame("bbo", {"coin": "BTC", "time": 1, "bbo": [None]}), "bbo: malformed"),
        (frame("trades", [{"coin": "BTC"}]), r"trades\[0\]: malformed"),
        (frame("trades", {"coin": "BTC"}), "expected an array"),
        (frame("userFills", {"user": "0x1", "fills": [{"coin": "BTC"}]}),
         r"userFills\.fills\[0\]: missing key"),
        (frame("orderUpdates", [{"order": {}}]), r"orderUpdates\[0\]\.order: missing key"),
        (frame("user", {"fills": [], "funding": {}}), "exactly one key"),
        (frame("allMids", {"mids": {"BTC": 1}}), "expected a decimal string"),
        (frame("post", {"id": 1, "response": {"type": "nope", "payload": 1}}), "unknown 'nope'"),
        (frame("error", {"x": 1}), "must be a string"),
    ],
)
def test_malformed_frames_raise_payload_error(
    parser: WsFrameParser, raw: bytes, match: str
) -> None:
    with pytest.raises(PayloadError, match=match):
        parser.parse(raw, TS)


def test_caches_are_bounded() -> None:
    market = MarketParser(level_cache_size=10, decimal_cache_size=10)
    parser = WsFrameParser(market)
    for i in range(50):
        levels = [{"px": f"{100 + i}.{k}", "sz": "1.0", "n": 1} for k in range(5)]
        parser.parse(frame("l2Book", {"coin": "BTC", "time": i, "levels": [levels, []]}), TS)
    assert market.level_clears > 0
    assert market.decimals.clears > 0
    assert len(market.decimals) <= 10
