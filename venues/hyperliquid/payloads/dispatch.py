"""``/info`` answers by request type: `parse_info` / `render_info` (used for WS ``post`` info
answers, whose payload names its type, and by callers that hold the type as data)."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any, Final

from venues.hyperliquid.payloads import account, fills, info, market, orders
from venues.hyperliquid.payloads.common import PayloadError
from venues.hyperliquid.payloads.market import MarketParser

_Parse = Callable[[Any, int, MarketParser], Any]
_Render = Callable[[Any, MarketParser], Any]


def _no_ctx(parse: Callable[[Any], Any]) -> _Parse:
    return lambda payload, _ts, _m: parse(payload)


def _plain(render: Callable[[Any], Any]) -> _Render:
    return lambda value, _m: render(value)


INFO_CODECS: Final[MappingProxyType[str, tuple[_Parse, _Render]]] = MappingProxyType({
    "meta": (_no_ctx(info.parse_meta), _plain(info.render_meta)),
    "spotMeta": (_no_ctx(info.parse_spot_meta), _plain(info.render_spot_meta)),
    "metaAndAssetCtxs": (_no_ctx(info.parse_meta_and_asset_ctxs),
                         _plain(info.render_meta_and_asset_ctxs)),
    "allMids": (lambda p, ts, m: info.parse_all_mids(p, ts, market=m),
                lambda v, m: info.render_all_mids(v, market=m)),
    "l2Book": (lambda p, ts, m: info.parse_l2_book(p, ts, market=m),
               lambda v, m: info.render_l2_book(v, market=m)),
    "openOrders": (lambda p, ts, m: orders.parse_open_orders(p, ts, coins=m.coins),
                   _plain(orders.render_open_orders)),
    "frontendOpenOrders": (
        lambda p, ts, m: orders.parse_frontend_open_orders(p, ts, coins=m.coins),
        _plain(orders.render_open_orders)),
    "orderStatus": (lambda p, ts, m: orders.parse_order_status(p, ts, coins=m.coins),
                    _plain(orders.render_order_status)),
    "historicalOrders": (lambda p, ts, m: orders.parse_historical_orders(p, ts, coins=m.coins),
                         _plain(orders.render_historical_orders)),
    "userFills": (lambda p, ts, m: fills.parse_user_fills(p, ts, coins=m.coins),
                  _plain(fills.render_user_fills)),
    "userFillsByTime": (
        lambda p, ts, m: fills.parse_user_fills(p, ts, coins=m.coins, name="userFillsByTime"),
        _plain(fills.render_user_fills)),
    "userTwapSliceFills": (lambda p, ts, m: fills.parse_twap_slice_fills(p, ts, coins=m.coins),
                           _plain(fills.render_twap_slice_fills)),
    "clearinghouseState": (
        lambda p, ts, m: account.parse_clearinghouse_state(p, ts, coins=m.coins),
        _plain(account.render_clearinghouse_state)),
    "userRateLimit": (lambda p, ts, _m: account.parse_user_rate_limit(p, ts),
                      _plain(account.render_user_rate_limit)),
    "userFunding": (lambda p, ts, m: account.parse_user_funding(p, ts, coins=m.coins),
                    _plain(account.render_user_funding)),
    "fundingHistory": (_no_ctx(info.parse_funding_history), _plain(info.render_funding_history)),
    "candleSnapshot": (_no_ctx(market.parse_candle_snapshot),
                       _plain(market.render_candle_snapshot)),
    "userNonFundingLedgerUpdates": (_no_ctx(account.parse_ledger_updates),
                                    _plain(account.render_ledger_updates)),
    "userRole": (_no_ctx(account.parse_user_role), _plain(account.render_user_role)),
    "extraAgents": (_no_ctx(account.parse_extra_agents), _plain(account.render_extra_agents)),
    "userVaultEquities": (_no_ctx(account.parse_vault_equities),
                          _plain(account.render_vault_equities)),
    "delegatorHistory": (_no_ctx(account.parse_delegator_history),
                         _plain(account.render_delegator_history)),
    "portfolio": (_no_ctx(account.parse_portfolio), _plain(account.render_portfolio)),
})
"""Info request ``type`` → (parse(payload, ts_init, market), render(value, market))."""


def parse_info(info_type: str, payload: object, ts_init: int, *, market: MarketParser) -> Any:
    """Parse the answer to ``{"type": info_type, ...}``; unknown types raise `PayloadError`."""
    codec = INFO_CODECS.get(info_type)
    if codec is None:
        raise PayloadError(f"info type {info_type[:40]!r} is not modelled")
    return codec[0](payload, ts_init, market)


def render_info(info_type: str, value: Any, *, market: MarketParser) -> Any:
    codec = INFO_CODECS.get(info_type)
    if codec is None:
        raise PayloadError(f"info type {info_type[:40]!r} is not modelled")
    return codec[1](value, market)
