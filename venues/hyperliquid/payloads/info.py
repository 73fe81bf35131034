"""Universe and market queries: ``meta`` (also per dex), ``spotMeta``, ``metaAndAssetCtxs``,
``fundingHistory``, and the HTTP forms of ``l2Book`` and ``allMids``."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from messages.market import BookSnapshot, MidsUpdated
from venues.hyperliquid.models import (
    ABSENT,
    EvmContract,
    FundingRate,
    MarginTable,
    MarginTier,
    MetaAndAssetContexts,
    PerpAsset,
    PerpAssetContext,
    PerpMeta,
    SpotMeta,
    SpotPair,
    SpotToken,
)
from venues.hyperliquid.payloads.common import (
    PayloadError,
    Reader,
    expect_list,
    fmt_decimal,
    opt,
    parse_decimal,
    put,
    put_extra,
)
from venues.hyperliquid.payloads.market import MarketParser, render_book, render_mids


def _perp_asset(obj: object, where: str) -> PerpAsset:
    r = Reader(obj, where)
    return PerpAsset(
        name=r.text("name"),
        sz_decimals=r.integer("szDecimals"),
        max_leverage=r.integer("maxLeverage"),
        margin_table_id=r.optional("marginTableId", r.integer),
        is_delisted=r.optional("isDelisted", r.flag),
        margin_mode=r.optional("marginMode", r.text),
        only_isolated=r.optional("onlyIsolated", r.flag),
        growth_mode=r.optional("growthMode", r.text),
        extra=r.extra(),
    )


def _render_perp_asset(a: PerpAsset) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": a.name, "szDecimals": a.sz_decimals, "maxLeverage": a.max_leverage,
    }
    put(out, "marginTableId", a.margin_table_id)
    put(out, "isDelisted", a.is_delisted)
    put(out, "marginMode", a.margin_mode)
    put(out, "onlyIsolated", a.only_isolated)
    put(out, "growthMode", a.growth_mode)
    return put_extra(out, a.extra)


def _margin_table(obj: object, where: str) -> MarginTable:
    pair = expect_list(obj, where)
    if len(pair) != 2 or type(pair[0]) is not int:
        raise PayloadError(f"{where}: expected [id, table]")
    r = Reader(pair[1], f"{where}[1]")
    tiers = []
    for i, t in enumerate(r.array("marginTiers")):
        tr = Reader(t, f"{where}.marginTiers[{i}]")
        tiers.append(
            MarginTier(
                lower_bound=tr.dec("lowerBound"), max_leverage=tr.integer("maxLeverage"),
                extra=tr.extra(),
            )
        )
    return MarginTable(
        table_id=pair[0], description=r.text("description"), tiers=tuple(tiers), extra=r.extra()
    )


def _render_margin_table(t: MarginTable) -> list[Any]:
    tiers = [
        put_extra({"lowerBound": fmt_decimal(x.lower_bound), "maxLeverage": x.max_leverage},
                  x.extra)
        for x in t.tiers
    ]
    return [t.table_id, put_extra({"description": t.description, "marginTiers": tiers}, t.extra)]


def parse_meta(payload: object, *, name: str = "meta") -> PerpMeta:
    """``meta`` (``dex`` variant included: same shape, coins named ``<dex>:<coin>``)."""
    r = Reader(payload, name)
    universe = tuple(
        _perp_asset(a, f"{name}.universe[{i}]") for i, a in enumerate(r.array("universe"))
    )
    tables = r.optional("marginTables", r.array)
    if tables is not ABSENT:
        tables = tuple(
            _margin_table(t, f"{name}.marginTables[{i}]") for i, t in enumerate(tables)
        )
    return PerpMeta(
        universe=universe,
        margin_tables=tables,
        collateral_token=r.optional("collateralToken", r.integer),
        extra=r.extra(),
    )


def render_meta(meta: PerpMeta) -> dict[str, Any]:
    out: dict[str, Any] = {"universe": [_render_perp_asset(a) for a in meta.universe]}
    put(out, "marginTables", opt(meta.margin_tables, lambda ts: [_render_margin_table(t)
                                                                 for t in ts]))
    put(out, "collateralToken", meta.collateral_token)
    return put_extra(out, meta.extra)


def _impact(r: Reader, key: str) -> tuple[Decimal, ...]:
    return tuple(
        parse_decimal(x, f"{r.where}.{key}[{i}]") for i, x in enumerate(r.array(key))
    )


def _asset_ctx(obj: object, where: str) -> PerpAssetContext:
    r = Reader(obj, where)
    return PerpAssetContext(
        funding=r.dec("funding"),
        open_interest=r.dec("openInterest"),
        prev_day_px=r.dec("prevDayPx"),
        day_ntl_vlm=r.dec("dayNtlVlm"),
        premium=r.optional("premium", r.dec, nullable=True),
        oracle_px=r.dec("oraclePx"),
        mark_px=r.dec("markPx"),
        mid_px=r.optional("midPx", r.dec, nullable=True),
        impact_pxs=r.optional("impactPxs", lambda k: _impact(r, k), nullable=True),
        day_base_vlm=r.optional("dayBaseVlm", r.dec),
        extra=r.extra(),
    )


def _render_asset_ctx(c: PerpAssetContext) -> dict[str, Any]:
    out: dict[str, Any] = {
        "funding": fmt_decimal(c.funding),
        "openInterest": fmt_decimal(c.open_interest),
        "prevDayPx": fmt_decimal(c.prev_day_px),
        "dayNtlVlm": fmt_decimal(c.day_ntl_vlm),
    }
    put(out, "premium", opt(c.premium, fmt_decimal))
    out["oraclePx"] = fmt_decimal(c.oracle_px)
    out["markPx"] = fmt_decimal(c.mark_px)
    put(out, "midPx", opt(c.mid_px, fmt_decimal))
    put(out, "impactPxs", opt(c.impact_pxs, lambda ps: [fmt_decimal(p) for p in ps]))
    put(out, "dayBaseVlm", opt(c.day_base_vlm, fmt_decimal))
    return put_extra(out, c.extra)


def parse_meta_and_asset_ctxs(payload: object) -> MetaAndAssetContexts:
    pair = expect_list(payload, "metaAndAssetCtxs")
    if len(pair) != 2:
        raise PayloadError(f"metaAndAssetCtxs: expected [meta, contexts], got {len(pair)} items")
    meta = parse_meta(pair[0], name="metaAndAssetCtxs[0]")
    ctxs = tuple(
        _asset_ctx(c, f"metaAndAssetCtxs[1][{i}]")
        for i, c in enumerate(expect_list(pair[1], "metaAndAssetCtxs[1]"))
    )
    return MetaAndAssetContexts(meta=meta, contexts=ctxs)


def render_meta_and_asset_ctxs(value: MetaAndAssetContexts) -> list[Any]:
    return [render_meta(value.meta), [_render_asset_ctx(c) for c in value.contexts]]


def _spot_token(obj: object, where: str) -> SpotToken:
    r = Reader(obj, where)

    def evm(key: str) -> EvmContract:
        er = Reader(r.raw(key), f"{where}.{key}")
        return EvmContract(
            address=er.text("address"),
            evm_extra_wei_decimals=er.integer("evm_extra_wei_decimals"),
            extra=er.extra(),
        )

    return SpotToken(
        name=r.text("name"),
        sz_decimals=r.integer("szDecimals"),
        wei_decimals=r.integer("weiDecimals"),
        index=r.integer("index"),
        token_id=r.text("tokenId"),
        is_canonical=r.flag("isCanonical"),
        evm_contract=r.optional("evmContract", evm, nullable=True),
        full_name=r.optional("fullName", r.text, nullable=True),
        deployer_trading_fee_share=r.optional("deployerTradingFeeShare", r.dec),
        extra=r.extra(),
    )


def _render_spot_token(t: SpotToken) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": t.name, "szDecimals": t.sz_decimals, "weiDecimals": t.wei_decimals,
        "index": t.index, "tokenId": t.token_id, "isCanonical": t.is_canonical,
    }
    put(out, "evmContract", opt(t.evm_contract, lambda e: put_extra(
        {"address": e.address, "evm_extra_wei_decimals": e.evm_extra_wei_decimals}, e.extra)))
    put(out, "fullName", t.full_name)
    put(out, "deployerTradingFeeShare", opt(t.deployer_trading_fee_share, fmt_decimal))
    return put_extra(out, t.extra)


def _spot_pair(obj: object, where: str) -> SpotPair:
    r = Reader(obj, where)
    tokens = r.array("tokens")
    if not all(type(t) is int for t in tokens):
        raise PayloadError(f"{where}.tokens: expected token indices")
    return SpotPair(
        name=r.text("name"), tokens=tuple(tokens), index=r.integer("index"),
        is_canonical=r.flag("isCanonical"), extra=r.extra(),
    )


def parse_spot_meta(payload: object) -> SpotMeta:
    r = Reader(payload, "spotMeta")
    return SpotMeta(
        tokens=tuple(
            _spot_token(t, f"spotMeta.tokens[{i}]") for i, t in enumerate(r.array("tokens"))
        ),
        universe=tuple(
            _spot_pair(p, f"spotMeta.universe[{i}]") for i, p in enumerate(r.array("universe"))
        ),
        extra=r.extra(),
    )


def render_spot_meta(meta: SpotMeta) -> dict[str, Any]:
    out = {
        "tokens": [_render_spot_token(t) for t in meta.tokens],
        "universe": [
            put_extra({"name": p.name, "tokens": list(p.tokens), "index": p.index,
                       "isCanonical": p.is_canonical}, p.extra)
            for p in meta.universe
        ],
    }
    return put_extra(out, meta.extra)


def parse_funding_history(payload: object) -> tuple[FundingRate, ...]:
    out = []
    for i, item in enumerate(expect_list(payload, "fundingHistory")):
        r = Reader(item, f"fundingHistory[{i}]")
        out.append(
            FundingRate(
                coin=r.text("coin"), funding_rate=r.dec("fundingRate"), premium=r.dec("premium"),
                time=r.integer("time"), extra=r.extra(),
            )
        )
    return tuple(out)


def render_funding_history(rates: Sequence[FundingRate]) -> list[dict[str, Any]]:
    return [
        put_extra({"coin": f.coin, "fundingRate": fmt_decimal(f.funding_rate),
                   "premium": fmt_decimal(f.premium), "time": f.time}, f.extra)
        for f in rates
    ]


def parse_l2_book(payload: object, ts_init: int, *, market: MarketParser) -> BookSnapshot | None:
    """HTTP ``l2Book``; ``null`` (unknown coin) → None."""
    if payload is None:
        return None
    return market.book(payload, ts_init)


def render_l2_book(book: BookSnapshot | None, *, market: MarketParser) -> dict[str, Any] | None:
    return None if book is None else render_book(book, market.coins)


def parse_all_mids(payload: object, ts_init: int, *, market: MarketParser) -> MidsUpdated:
    """HTTP ``allMids``: ``{coin: px}`` (perps and spot ``@<index>`` keys)."""
    return market.mids(payload, ts_init)


def render_all_mids(mids: MidsUpdated, *, market: MarketParser) -> dict[str, str]:
    return render_mids(mids, market.coins)
