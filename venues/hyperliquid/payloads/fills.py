"""Fills: ``userFills`` / ``userFillsByTime`` / ``userTwapSliceFills`` and the fill objects of the
``userFills`` and ``user`` stream channels → `FillReported`.

Decisions:

* ``crossed: true`` → TAKER, ``false`` → MAKER; ``side`` ``B``/``A`` → BUY/SELL.
* ``fee`` is kept as sent (it includes any builder fee; ``builderFee`` is kept in the `Fill`).
* Fills recorded before ``tid`` existed get a negative `synthetic_trade_id` derived from their
  content, so the tracker's (trade_id, oid) dedup key still separates the fills of one order.
* ``feeToken`` absent (old fills) → ``fee_asset`` ``"USDC"``, the only fee token then.
* A query result is a history listing: its `FillsReported` has ``is_snapshot=True``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Final

from messages.enums import EvidenceSource, LiquiditySide
from messages.ids import ClientOrderId, ExchangeOrderId, TradeId
from messages.venue import FillReported, FillsReported
from venues.hyperliquid.models import (
    ABSENT,
    Fill,
    FillLiquidation,
    TwapSliceFill,
    UserFills,
)
from venues.hyperliquid.payloads.common import (
    DEFAULT_COINS,
    SIDE_TO_WIRE,
    CoinMapper,
    PayloadError,
    Reader,
    expect_list,
    fmt_decimal,
    ms_to_ns,
    ns_to_ms,
    opt,
    parse_decimal,
    put,
    put_extra,
)

LEGACY_FEE_TOKEN: Final = "USDC"  # noqa: S105 - a token name, not a secret
_TID_BITS: Final = 50


def synthetic_trade_id(tx_hash: str, oid: int, time_ms: int, px: str, sz: str, start: str) -> int:
    """A negative 50-bit id for a fill without ``tid``: the same fill always gets the same id."""
    digest = hashlib.blake2b(
        f"{tx_hash}|{oid}|{time_ms}|{px}|{sz}|{start}".encode(), digest_size=8
    ).digest()
    return -(int.from_bytes(digest, "big") & ((1 << _TID_BITS) - 1)) - 1


def _liquidation(r: Reader, key: str) -> FillLiquidation:
    lr = Reader(r.raw(key), f"{r.where}.{key}")
    return FillLiquidation(
        liquidated_user=lr.optional("liquidatedUser", lr.text),
        mark_px=lr.dec("markPx"),
        method=lr.text("method"),
        extra=lr.extra(),
    )


def parse_fill(
    obj: object,
    ts_init: int,
    *,
    where: str = "fill",
    source: EvidenceSource = EvidenceSource.QUERY,
    coins: CoinMapper = DEFAULT_COINS,
) -> Fill:
    r = Reader(obj, where)
    coin = r.text("coin")
    px_text = r.text("px")
    sz_text = r.text("sz")
    side = r.side("side")
    time_ms = r.integer("time")
    start_text = r.text("startPosition")
    direction = r.text("dir")
    closed_pnl = r.dec("closedPnl")
    tx_hash = r.text("hash")
    oid = r.integer("oid")
    crossed = r.flag("crossed")
    fee = r.dec("fee")
    tid = r.optional("tid", r.integer)
    cloid = r.optional("cloid", r.cloid, nullable=True)
    liquidation = r.optional("liquidation", lambda k: _liquidation(r, k), nullable=True)
    fee_token = r.optional("feeToken", r.text)
    twap_id = r.optional("twapId", r.integer, nullable=True)
    builder_fee = r.optional("builderFee", r.dec)
    trade_id = (
        tid if tid is not ABSENT
        else synthetic_trade_id(tx_hash, oid, time_ms, px_text, sz_text, start_text)
    )
    try:
        pair = coins.to_pair(coin)
    except PayloadError as exc:
        raise PayloadError(f"{where}.coin: {exc}") from None
    report = FillReported(
        client_order_id=cloid if isinstance(cloid, ClientOrderId) else None,
        exchange_order_id=ExchangeOrderId(oid),
        trade_id=TradeId(trade_id),
        trading_pair=pair,
        side=side,
        price=parse_decimal(px_text, f"{where}.px"),
        amount=parse_decimal(sz_text, f"{where}.sz"),
        fee=fee,
        fee_asset=fee_token if fee_token is not ABSENT else LEGACY_FEE_TOKEN,
        liquidity=LiquiditySide.TAKER if crossed else LiquiditySide.MAKER,
        closed_pnl=closed_pnl,
        start_position=parse_decimal(start_text, f"{where}.startPosition"),
        direction=direction,
        tx_hash=tx_hash,
        source=source,
        ts_event=ms_to_ns(time_ms),
        ts_init=ts_init,
    )
    return Fill(
        report=report,
        coin=coin,
        tid=tid,
        cloid=cloid,
        fee_token=fee_token,
        builder_fee=builder_fee,
        liquidation=liquidation,
        twap_id=twap_id,
        extra=r.extra(),
    )


def _render_liquidation(liq: FillLiquidation) -> dict[str, Any]:
    out: dict[str, Any] = {}
    put(out, "liquidatedUser", liq.liquidated_user)
    out["markPx"] = fmt_decimal(liq.mark_px)
    out["method"] = liq.method
    return put_extra(out, liq.extra)


def render_fill(fill: Fill) -> dict[str, Any]:
    out = _render_report_core(fill.report, fill.coin)
    put(out, "tid", fill.tid)
    put(out, "cloid", opt(fill.cloid, str))
    put(out, "liquidation", opt(fill.liquidation, _render_liquidation))
    put(out, "feeToken", fill.fee_token)
    put(out, "twapId", fill.twap_id)
    put(out, "builderFee", opt(fill.builder_fee, fmt_decimal))
    return put_extra(out, fill.extra)


def _render_report_core(report: FillReported, coin: str) -> dict[str, Any]:
    return {
        "coin": coin,
        "px": fmt_decimal(report.price),
        "sz": fmt_decimal(report.amount),
        "side": SIDE_TO_WIRE[report.side],
        "time": ns_to_ms(report.ts_event),
        "startPosition": fmt_decimal(report.start_position),
        "dir": report.direction,
        "closedPnl": fmt_decimal(report.closed_pnl),
        "hash": report.tx_hash,
        "oid": int(report.exchange_order_id),
        "crossed": report.liquidity is LiquiditySide.TAKER,
        "fee": fmt_decimal(report.fee),
    }


def render_fill_report(
    report: FillReported, *, coins: CoinMapper = DEFAULT_COINS
) -> dict[str, Any]:
    """The venue fill object for a runtime message (a negative trade id renders as no ``tid``)."""
    out = _render_report_core(report, coins.to_coin(report.trading_pair))
    if report.trade_id >= 0:
        out["tid"] = int(report.trade_id)
    if report.client_order_id is not None:
        out["cloid"] = str(report.client_order_id)
    out["feeToken"] = report.fee_asset
    return out


def parse_fill_list(
    payload: object,
    ts_init: int,
    *,
    name: str,
    source: EvidenceSource = EvidenceSource.QUERY,
    coins: CoinMapper = DEFAULT_COINS,
) -> tuple[Fill, ...]:
    items = expect_list(payload, name)
    return tuple(
        parse_fill(f, ts_init, where=f"{name}[{i}]", source=source, coins=coins)
        for i, f in enumerate(items)
    )


def parse_user_fills(
    payload: object, ts_init: int, *, coins: CoinMapper = DEFAULT_COINS, name: str = "userFills"
) -> UserFills:
    """``userFills`` or ``userFillsByTime`` (same shape)."""
    fills = parse_fill_list(payload, ts_init, name=name, coins=coins)
    report = FillsReported(
        fills=tuple(f.report for f in fills), is_snapshot=True, ts_init=ts_init
    )
    return UserFills(fills=fills, report=report)


def render_user_fills(fills: UserFills) -> list[dict[str, Any]]:
    return [render_fill(f) for f in fills.fills]


def parse_twap_slice_fills(
    payload: object, ts_init: int, *, coins: CoinMapper = DEFAULT_COINS
) -> tuple[TwapSliceFill, ...]:
    """``userTwapSliceFills``: ``[{"fill": <fill>, "twapId": int}, ...]``."""
    out = []
    for i, item in enumerate(expect_list(payload, "userTwapSliceFills")):
        where = f"userTwapSliceFills[{i}]"
        r = Reader(item, where)
        fill = parse_fill(r.raw("fill"), ts_init, where=f"{where}.fill", coins=coins)
        out.append(TwapSliceFill(fill=fill, twap_id=r.integer("twapId"), extra=r.extra()))
    return tuple(out)


def render_twap_slice_fills(items: Sequence[TwapSliceFill]) -> list[dict[str, Any]]:
    return [put_extra({"fill": render_fill(t.fill), "twapId": t.twap_id}, t.extra) for t in items]


# --- stream ----------------------------------------------------------------------------------


def parse_ws_user_fills(
    data: object, ts_init: int, *, coins: CoinMapper = DEFAULT_COINS
) -> FillsReported:
    """``userFills`` channel data ``{"isSnapshot"?, "user", "fills"}``; no isSnapshot = False."""
    r = Reader(data, "userFills")
    snapshot = r.optional("isSnapshot", r.flag)
    r.text("user")
    fills = parse_fill_list(
        r.raw("fills"), ts_init, name="userFills.fills", source=EvidenceSource.STREAM, coins=coins
    )
    return FillsReported(
        fills=tuple(f.report for f in fills), is_snapshot=snapshot is True, ts_init=ts_init
    )


def render_ws_user_fills_data(
    report: FillsReported, *, user: str, coins: CoinMapper = DEFAULT_COINS
) -> dict[str, Any]:
    return {
        "isSnapshot": report.is_snapshot,
        "user": user,
        "fills": [render_fill_report(f, coins=coins) for f in report.fills],
    }
