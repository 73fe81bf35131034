"""Properties of the payload layer.

* parse(render(message)) == message, exactly (Decimal exponents included), for the messages the
  streams produce: fills, order statuses, books, bbo, trades, mids;
* render(parse(payload)) == payload, key order included, for venue fills and orders with any
  subset of the optional keys present or null;
* any JSON at all fed to any parser raises nothing but `PayloadError`.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from messages.enums import EvidenceSource, LiquiditySide, OrderSide
from messages.ids import ClientOrderId, ExchangeOrderId, TradeId
from messages.market import BestBidOffer, BookSnapshot, MidsUpdated, PriceLevel, TradeReceived
from messages.venue import FillReported, FillsReported, OrderStatusReported
from venues.hyperliquid.payloads import (
    DEFAULT_COINS,
    INFO_CODECS,
    ORDER_STATUSES,
    MarketParser,
    PayloadError,
    WsFrameParser,
    order_status,
    parse_exchange_response,
    parse_fill,
    parse_venue_order,
    render_fill,
    render_venue_order,
)
from venues.hyperliquid.payloads.ws_render import (
    render_ws_all_mids,
    render_ws_bbo,
    render_ws_book,
    render_ws_order_updates,
    render_ws_trades,
    render_ws_user_fills,
)

COINS = ["BTC", "ETH", "kPEPE", "xyz:TEST", "@107", "PURR/USDC"]
TS_INIT = 77

unsigned = st.from_regex(r"(0|[1-9][0-9]{0,8})(\.[0-9]{1,8})?", fullmatch=True)
positive = st.from_regex(r"[1-9][0-9]{0,6}(\.[0-9]{1,6})?|0\.[0-9]{0,5}[1-9]", fullmatch=True)
signed = st.builds(lambda minus, s: f"-{s}" if minus else s, st.booleans(), unsigned)
dec_unsigned = unsigned.map(Decimal)
dec_positive = positive.map(Decimal)
dec_signed = signed.map(Decimal)
ms = st.integers(0, 2**44)
ts_event = ms.map(lambda m: m * 1_000_000)
pairs = st.sampled_from(COINS).map(DEFAULT_COINS.to_pair)
cloids = st.none() | st.integers(0, 2**128 - 1).map(ClientOrderId.from_int)
hex_hash = st.integers(0, 2**256 - 1).map(lambda n: f"0x{n:064x}")
sides = st.sampled_from(OrderSide)
levels = st.builds(PriceLevel, price=dec_positive, size=dec_positive,
                   orders=st.integers(0, 10_000))
raw_statuses = st.sampled_from(sorted(ORDER_STATUSES)) | st.text(max_size=20)


def same(a: Any, b: Any) -> bool:
    """Equality that also tells Decimal('1.0') from Decimal('1')."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Decimal):
        return bool(a.as_tuple() == b.as_tuple())
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "__attrs_attrs__"):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in a.__attrs_attrs__)
    return bool(a == b)


def reparse(frame: dict[str, Any]) -> Any:
    return WsFrameParser().parse(orjson.dumps(frame), TS_INIT)


fills = st.builds(
    FillReported,
    client_order_id=cloids,
    exchange_order_id=st.integers(0, 2**50).map(ExchangeOrderId),
    trade_id=st.integers(0, 2**50).map(TradeId),
    trading_pair=pairs,
    side=sides,
    price=dec_positive,
    amount=dec_positive,
    fee=dec_signed,
    fee_asset=st.sampled_from(["USDC", "HYPE", "USDT0"]),
    liquidity=st.sampled_from(LiquiditySide),
    closed_pnl=dec_signed,
    start_position=dec_signed,
    direction=st.sampled_from(["Open Long", "Close Short", "Buy", "Long > Short"]),
    tx_hash=hex_hash,
    source=st.just(EvidenceSource.STREAM),
    ts_event=ts_event,
    ts_init=st.just(TS_INIT),
)


@settings(max_examples=60)
@given(st.lists(fills, max_size=4), st.booleans())
def test_user_fills_round_trip(items: list[FillReported], snapshot: bool) -> None:
    report = FillsReported(fills=tuple(items), is_snapshot=snapshot, ts_init=TS_INIT)
    frame = render_ws_user_fills(report, user="0x" + "1" * 40, coins=DEFAULT_COINS)
    assert same(reparse(frame), report)


@st.composite
def order_reports(draw: st.DrawFn) -> OrderStatusReported:
    raw = draw(raw_statuses)
    return OrderStatusReported(
        client_order_id=draw(cloids),
        exchange_order_id=ExchangeOrderId(draw(st.integers(0, 2**50))),
        trading_pair=draw(pairs),
        side=draw(sides),
        status=order_status(raw),
        raw_status=raw,
        price=draw(dec_positive),
        original_amount=draw(st.none() | dec_unsigned),
        remaining_amount=draw(dec_unsigned),
        source=EvidenceSource.STREAM,
        ts_event=draw(ts_event),
        ts_init=TS_INIT,
    )


@settings(max_examples=60)
@given(st.lists(order_reports(), max_size=4))
def test_order_updates_round_trip(reports: list[OrderStatusReported]) -> None:
    frame = render_ws_order_updates(reports, DEFAULT_COINS)
    assert same(reparse(frame), tuple(reports))


@settings(max_examples=60)
@given(pairs, st.lists(levels, max_size=20), st.lists(levels, max_size=20), ts_event)
def test_book_round_trip(pair: str, bids: list[PriceLevel], asks: list[PriceLevel],
                         ts: int) -> None:
    book = BookSnapshot(trading_pair=pair, bids=tuple(bids), asks=tuple(asks), ts_event=ts,
                        ts_init=TS_INIT)
    assert same(reparse(render_ws_book(book, DEFAULT_COINS)), book)


@settings(max_examples=40)
@given(pairs, st.none() | levels, st.none() | levels, ts_event)
def test_bbo_round_trip(pair: str, bid: PriceLevel | None, ask: PriceLevel | None,
                        ts: int) -> None:
    bbo = BestBidOffer(trading_pair=pair, bid=bid, ask=ask, ts_event=ts, ts_init=TS_INIT)
    assert same(reparse(render_ws_bbo(bbo, DEFAULT_COINS)), bbo)


trades = st.builds(
    TradeReceived, trading_pair=pairs, side=sides, price=dec_positive, size=dec_positive,
    trade_id=st.integers(0, 2**50).map(TradeId), tx_hash=hex_hash,
    buyer=st.text(max_size=42), seller=st.text(max_size=42), ts_event=ts_event,
    ts_init=st.just(TS_INIT),
)


@settings(max_examples=40)
@given(st.lists(trades, min_size=1, max_size=5))
def test_trades_round_trip(items: list[TradeReceived]) -> None:
    assert same(reparse(render_ws_trades(items, DEFAULT_COINS)), tuple(items))


@settings(max_examples=40)
@given(st.dictionaries(st.sampled_from(COINS), dec_positive))
def test_mids_round_trip(prices: dict[str, Decimal]) -> None:
    mids = MidsUpdated(mids=tuple((DEFAULT_COINS.to_pair(c), p) for c, p in prices.items()),
                       ts_init=TS_INIT)
    assert same(reparse(render_ws_all_mids(mids, DEFAULT_COINS)), mids)


# --- venue JSON → model → venue JSON, optional keys in any combination ----------------------

ABSENT_KEY = object()


def present(strategy: st.SearchStrategy[Any], nullable: bool = False) -> st.SearchStrategy[Any]:
    options = st.just(ABSENT_KEY) | strategy
    return options | st.none() if nullable else options


@st.composite
def venue_fills(draw: st.DrawFn) -> dict[str, Any]:
    fill: dict[str, Any] = {
        "coin": draw(st.sampled_from(COINS)), "px": draw(positive), "sz": draw(positive),
        "side": draw(st.sampled_from("BA")), "time": draw(ms), "startPosition": draw(signed),
        "dir": draw(st.text(max_size=12)), "closedPnl": draw(signed), "hash": draw(hex_hash),
        "oid": draw(st.integers(0, 2**50)), "crossed": draw(st.booleans()), "fee": draw(signed),
    }
    liquidation = st.fixed_dictionaries(
        {"markPx": positive, "method": st.sampled_from(["market", "backstop"])},
        optional={"liquidatedUser": st.text(max_size=5)},
    ).map(lambda d: {k: d[k] for k in ("liquidatedUser", "markPx", "method") if k in d})
    optional = {
        "tid": present(st.integers(0, 2**50)),
        "cloid": present(cloids.filter(lambda c: c is not None).map(str), nullable=True),
        "liquidation": present(liquidation, nullable=True),
        "feeToken": present(st.sampled_from(["USDC", "HYPE"])),
        "twapId": present(st.integers(0, 2**40), nullable=True),
        "builderFee": present(unsigned),
    }
    for key, strategy in optional.items():
        value = draw(strategy)
        if value is not ABSENT_KEY:
            fill[key] = value
    return fill


@settings(max_examples=80)
@given(venue_fills())
def test_venue_fill_json_round_trips_with_presence(fill: dict[str, Any]) -> None:
    model = parse_fill(fill, TS_INIT)
    rendered = render_fill(model)
    assert orjson.dumps(rendered) == orjson.dumps(fill)
    assert (model.report.trade_id >= 0) == ("tid" in fill)


@st.composite
def venue_orders(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    order: dict[str, Any] = {
        "coin": draw(st.sampled_from(COINS)), "side": draw(st.sampled_from("BA")),
        "limitPx": draw(positive), "sz": draw(unsigned), "oid": draw(st.integers(0, 2**50)),
        "timestamp": draw(ms),
    }
    if draw(st.booleans()):  # the frontend shape
        order |= {"triggerCondition": "N/A", "isTrigger": draw(st.booleans()),
                  "triggerPx": draw(unsigned)}
        if depth == 0:
            order["children"] = draw(st.lists(venue_orders(depth=1), max_size=2))
        order |= {"isPositionTpsl": draw(st.booleans()), "reduceOnly": draw(st.booleans()),
                  "orderType": draw(st.sampled_from(["Limit", "Stop Market"])),
                  "origSz": draw(unsigned),
                  "tif": draw(st.none() | st.sampled_from(["Gtc", "Ioc", "Alo"])),
                  "cloid": draw(st.none() | cloids.filter(lambda c: c is not None).map(str))}
    else:
        for key, strategy in (("origSz", present(unsigned)),
                              ("cloid", present(cloids.filter(lambda c: c is not None).map(str))),
                              ("reduceOnly", present(st.booleans()))):
            value = draw(strategy)
            if value is not ABSENT_KEY:
                order[key] = value
    return order


@settings(max_examples=60)
@given(venue_orders())
def test_venue_order_json_round_trips(order: dict[str, Any]) -> None:
    rendered = render_venue_order(parse_venue_order(order))
    assert orjson.dumps(rendered) == orjson.dumps(order)


# --- robustness ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2**53) | st.floats(allow_nan=False)
    | st.text(max_size=8) | st.sampled_from(["B", "A", "1.5", "BTC", "0x" + "a" * 32]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(
        ["coin", "px", "sz", "n", "time", "levels", "side", "oid", "status", "order", "data",
         "fills", "user", "type", "response", "statuses", "mids", "bbo", "tid", "users"]
    ) | st.text(max_size=6), children, max_size=6),
    max_leaves=25,
)
CHANNELS = ["l2Book", "trades", "bbo", "allMids", "orderUpdates", "userFills", "user",
            "userFundings", "candle", "subscriptionResponse", "pong", "error", "notification",
            "post", "other"]


@settings(max_examples=300)
@given(st.sampled_from(CHANNELS), json_values)
def test_any_ws_data_raises_only_payload_error(channel: str, data: Any) -> None:
    parser = WsFrameParser()
    with contextlib.suppress(PayloadError):
        parser.parse(orjson.dumps({"channel": channel, "data": data}), TS_INIT)


@settings(max_examples=300)
@given(st.sampled_from(sorted(INFO_CODECS)), json_values)
def test_any_info_payload_raises_only_payload_error(info_type: str, payload: Any) -> None:
    parse = INFO_CODECS[info_type][0]
    with contextlib.suppress(PayloadError):
        parse(payload, TS_INIT, MarketParser())


@settings(max_examples=200)
@given(json_values)
def test_any_exchange_payload_raises_only_payload_error(payload: Any) -> None:
    with contextlib.suppress(PayloadError):
        parse_exchange_response(payload)
