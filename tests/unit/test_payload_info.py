"""What the /info parsers say about the recorded payloads: values, mappings and decisions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from messages.enums import EvidenceSource, LiquiditySide, OrderSide, VenueOrderStatus
from messages.ids import ClientOrderId
from tests.helpers import load_recorded
from venues.hyperliquid.models import ABSENT, OrderRecord, OrderUnknown
from venues.hyperliquid.payloads import (
    CoinMapper,
    MarketParser,
    PayloadError,
    parse_all_mids,
    parse_clearinghouse_state,
    parse_frontend_open_orders,
    parse_historical_orders,
    parse_l2_book,
    parse_meta,
    parse_meta_and_asset_ctxs,
    parse_open_orders,
    parse_order_status,
    parse_spot_meta,
    parse_user_fills,
    parse_user_funding,
    parse_user_rate_limit,
    render_fill,
    synthetic_trade_id,
)

TS = 1_700_000_000_000_000_001


def test_user_fills_map_side_liquidity_and_exact_decimals() -> None:
    fills = parse_user_fills(load_recorded("docs_info_userFills.json"), TS)
    perp, spot = fills.report.fills
    assert perp.trading_pair == "AVAX-USD"
    assert perp.side is OrderSide.BUY
    assert perp.liquidity is LiquiditySide.MAKER
    assert spot.side is OrderSide.SELL
    assert spot.liquidity is LiquiditySide.TAKER
    assert perp.trade_id == 118906512037719
    assert perp.exchange_order_id == 90542681
    assert perp.ts_event == 1681222254710 * 1_000_000
    assert perp.ts_init == TS
    assert perp.source is EvidenceSource.QUERY
    assert perp.closed_pnl.as_tuple() == Decimal("0.0").as_tuple()  # exponent kept
    assert fills.fills[0].builder_fee == Decimal("0.01")
    assert spot.trading_pair == "@107-SPOT"  # no spotMeta given: the index stays visible
    assert fills.report.is_snapshot


def test_legacy_fills_without_tid_get_distinct_negative_trade_ids() -> None:
    fills = parse_user_fills(load_recorded("http_info_userFills__test_get_user_fills_0.json"), TS)
    assert len(fills.fills) == 500
    assert all(f.tid is ABSENT and f.fee_token is ABSENT for f in fills.fills)
    keys = {(f.trade_id, f.exchange_order_id) for f in fills.report.fills}
    assert len(keys) == 500  # several fills share an oid and a hash, none share the key
    assert all(f.trade_id < 0 for f in fills.report.fills)
    assert all(f.fee_asset == "USDC" for f in fills.report.fills)
    first = fills.fills[0]
    assert "tid" not in render_fill(first)
    assert "feeToken" not in render_fill(first)
    raw = load_recorded("http_info_userFills__test_get_user_fills_0.json")[0]
    assert first.report.trade_id == synthetic_trade_id(
        raw["hash"], raw["oid"], raw["time"], raw["px"], raw["sz"], raw["startPosition"]
    )


def test_open_orders_are_reported_open_at_their_placement_time() -> None:
    payload = load_recorded("http_info_openOrders__test_get_open_orders_0.json")
    result = parse_open_orders(payload, TS)
    assert len(result.report.orders) == 196
    first = result.report.orders[0]
    assert first.status is VenueOrderStatus.OPEN
    assert first.raw_status == "open"
    assert first.trading_pair == "MATIC-USD"
    assert first.side is OrderSide.BUY
    assert first.price == Decimal("1.0357")
    assert first.remaining_amount == Decimal("208.7")
    assert first.original_amount is None
    assert first.client_order_id is None
    assert first.ts_event == 1679940217356 * 1_000_000


def test_frontend_open_orders_keep_trigger_details_and_children() -> None:
    result = parse_frontend_open_orders(
        load_recorded("http_info_frontendOpenOrders__test_get_frontend_open_orders_0.json"), TS
    )
    parent = result.orders[2]
    assert parent.children is not ABSENT
    assert len(parent.children) == 2
    assert result.orders[0].order_type == "Take Profit Market"
    assert result.orders[0].trigger_px == Decimal("10.004")
    assert result.orders[0].tif is None
    assert len(result.report.orders) == 3  # children are not reported twice
    assert result.report.orders[0].original_amount == Decimal("12.5")


def test_historical_orders_map_statuses_and_keep_raw() -> None:
    records = parse_historical_orders(
        load_recorded("http_info_historicalOrders__test_historical_orders_0.json"), TS
    )
    statuses = [(r.report.status, r.report.raw_status) for r in records]
    assert statuses[0] == (VenueOrderStatus.REJECTED, "iocCancelRejected")
    assert statuses[3] == (VenueOrderStatus.CANCELLED, "canceled")
    assert records[0].order.cloid is None
    assert records[0].report.client_order_id is None
    assert records[0].report.ts_event == records[0].status_timestamp * 1_000_000


def test_order_status_found_and_unknown() -> None:
    found = parse_order_status(load_recorded("docs_info_orderStatus_found.json"), TS)
    assert isinstance(found, OrderRecord)
    assert found.report.status is VenueOrderStatus.FILLED
    assert found.report.remaining_amount == 0
    assert found.report.original_amount == Decimal("0.0076")
    cloid = ClientOrderId.from_int(7)
    unknown = parse_order_status(load_recorded("docs_info_orderStatus_unknown.json"), TS,
                                 client_order_id=cloid)
    assert isinstance(unknown, OrderUnknown)
    assert unknown.report is not None
    assert unknown.report.client_order_id == cloid
    by_oid = parse_order_status({"status": "unknownOid"}, TS)
    assert isinstance(by_oid, OrderUnknown)
    assert by_oid.report is None


def test_clearinghouse_state_becomes_account_state() -> None:
    state = parse_clearinghouse_state(
        load_recorded("http_info_clearinghouseState__test_get_user_state_0.json"), TS
    )
    report = state.report
    assert report.account_value == Decimal("1182.312496")
    assert report.total_margin_used == Decimal("171.740766")
    assert report.total_notional == Decimal("3434.815334")
    assert report.withdrawable == Decimal("1010.57173")
    assert report.ts_event == TS  # 2023 answers carry no time
    btc = report.positions[0]
    assert btc.trading_pair == "BTC-USD"
    assert btc.size == Decimal("-0.00785")
    assert btc.cross
    assert btc.leverage == 20
    assert btc.liquidation_price == Decimal("173198.69592357")
    assert report.positions[1].liquidation_price is None
    docs = parse_clearinghouse_state(load_recorded("docs_info_clearinghouseState.json"), TS)
    assert docs.report.ts_event == 1708622398623 * 1_000_000
    assert not docs.report.positions[0].cross
    assert docs.asset_positions[0].position.leverage.raw_usd == Decimal("-95.059824")


def test_rate_limit_and_funding() -> None:
    limit = parse_user_rate_limit(load_recorded("docs_info_userRateLimit.json"), TS)
    assert limit.report.requests_used == 2890
    assert limit.report.requests_cap == 2864574
    assert limit.report.requests_surplus == 0
    old = parse_user_rate_limit(
        load_recorded("http_info_userRateLimit__test_user_rate_limit_0.json"), TS
    )
    assert old.report.requests_surplus is None
    assert old.n_requests_surplus is ABSENT
    funding = parse_user_funding(
        load_recorded("http_info_userFunding__test_user_funding_history_with_end_time_0.json"), TS
    )
    paid = funding[0].report
    assert paid.trading_pair == "APE-USD"
    assert paid.amount == Decimal("0.145796")
    assert paid.rate == Decimal("-0.00029319")
    assert paid.position_size == Decimal("40.13333333")
    assert paid.ts_event == 1681948800000 * 1_000_000


def test_meta_spot_meta_and_contexts() -> None:
    meta = parse_meta(load_recorded("docs_info_meta.json"))
    assert [a.name for a in meta.universe] == ["BTC", "ETH", "HPOS", "LOOM"]
    assert meta.universe[3].is_delisted is True
    assert meta.universe[0].is_delisted is ABSENT
    assert meta.margin_tables is not ABSENT
    assert meta.margin_tables[1].tiers[1].max_leverage == 5
    ctxs = parse_meta_and_asset_ctxs(load_recorded("docs_info_metaAndAssetCtxs.json"))
    assert len(ctxs.contexts) == len(ctxs.meta.universe) == 3
    assert ctxs.contexts[0].impact_pxs == (Decimal("14.3047"), Decimal("14.3444"))
    spot = parse_spot_meta(load_recorded("docs_info_spotMeta.json"))
    coins = CoinMapper(spot)
    assert coins.to_pair("@1") == "HFUN-USDC"
    assert coins.to_coin("HFUN-USDC") == "@1"
    assert coins.to_pair("PURR/USDC") == "PURR-USDC"
    assert coins.to_coin("PURR-USDC") == "PURR/USDC"
    assert coins.to_pair("BTC") == "BTC-USD"
    assert coins.to_coin("BTC-USD") == "BTC"
    assert coins.to_pair("@999") == "@999-SPOT"
    assert coins.to_coin("@999-SPOT") == "@999"


def test_books_and_mids() -> None:
    market = MarketParser()
    book = parse_l2_book(load_recorded("http_info_l2Book__test_get_l2_snapshot_1.json"), TS,
                         market=market)
    assert book is not None
    assert book.trading_pair == "DYDX-USD"
    assert len(book.bids) == len(book.asks) == 20
    assert book.bids[0].price == Decimal("2.111")
    assert book.asks[0].price == Decimal("2.1124")
    assert not book.is_crossed
    assert parse_l2_book(None, TS, market=market) is None
    mids = parse_all_mids(load_recorded("http_info_allMids__test_get_all_mids_0.json"), TS,
                          market=market)
    assert dict(mids.mids)["kPEPE-USD"] == Decimal("0.001565")


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ([{"coin": "BTC"}], r"openOrders\[0\]: missing key 'side'"),
        ([{"coin": "BTC", "side": "X", "limitPx": "1", "sz": "1", "oid": 1, "timestamp": 1}],
         r"openOrders\[0\]\.side: side must be 'B' or 'A'"),
        ([{"coin": "BTC", "side": "B", "limitPx": 1.5, "sz": "1", "oid": 1, "timestamp": 1}],
         r"openOrders\[0\]\.limitPx: expected a decimal string, got float"),
        ([{"coin": "BTC", "side": "B", "limitPx": "NaN", "sz": "1", "oid": 1, "timestamp": 1}],
         r"limitPx: not a finite decimal"),
        ([{"coin": "BTC", "side": "B", "limitPx": "1", "sz": "x", "oid": 1, "timestamp": 1}],
         r"sz: not a decimal string"),
        ([{"coin": "BTC", "side": "B", "limitPx": "1", "sz": "1", "oid": "1", "timestamp": 1}],
         r"oid: expected an integer, got str"),
        ({"coin": "BTC"}, r"openOrders: expected an array, got dict"),
    ],
)
def test_malformed_open_orders_raise_payload_error(payload: object, match: str) -> None:
    with pytest.raises(PayloadError, match=match):
        parse_open_orders(payload, TS)


@pytest.mark.parametrize(
    "payload",
    [None, [], {"status": "order"}, {"status": "weird"}, {"status": "order", "order": {}}],
)
def test_malformed_order_status_raises_payload_error(payload: object) -> None:
    with pytest.raises(PayloadError):
        parse_order_status(payload, TS)


def test_unknown_fields_are_kept_and_rendered_last() -> None:
    raw = dict(load_recorded("docs_info_userFills.json")[1], newField={"a": [1, None]})
    fills = parse_user_fills([raw], TS)
    assert fills.fills[0].extra.get("newField") is not ABSENT
    rendered = render_fill(fills.fills[0])
    assert rendered == raw
    assert list(rendered)[-1] == "newField"


def test_builder_dex_meta_with_newer_fields_round_trips_in_order() -> None:
    from venues.hyperliquid.payloads import render_meta

    payload: dict[str, Any] = {
        "universe": [
            {"name": "xyz:TEST", "szDecimals": 2, "maxLeverage": 10, "marginTableId": 10,
             "isDelisted": True, "marginMode": "noCross", "onlyIsolated": True,
             "growthMode": "enabled"},
        ],
        "marginTables": [[10, {"description": "", "marginTiers": [
            {"lowerBound": "0.0", "maxLeverage": 10}]}]],
        "collateralToken": 0,
    }
    meta = parse_meta(payload)
    assert meta.universe[0].margin_mode == "noCross"
    assert meta.collateral_token == 0
    assert CoinMapper().to_pair(meta.universe[0].name) == "xyz:TEST-USD"
    assert list(render_meta(meta)["universe"][0]) == list(payload["universe"][0])
    assert render_meta(meta) == payload


def test_spot_meta_quoted_in_a_token_named_usd_is_refused() -> None:
    spot = parse_spot_meta({
        "tokens": [
            {"name": "USD", "szDecimals": 2, "weiDecimals": 8, "index": 0,
             "tokenId": "0x" + "0" * 32, "isCanonical": True},
            {"name": "FOO", "szDecimals": 2, "weiDecimals": 8, "index": 1,
             "tokenId": "0x" + "1" * 32, "isCanonical": False},
        ],
        "universe": [{"name": "@1", "tokens": [1, 0], "index": 1, "isCanonical": False}],
    })
    with pytest.raises(PayloadError, match="quoted in 'USD'"):
        CoinMapper(spot)
