"""The venue's JSON shapes for orders, fills, trades, books and account summaries.

Shapes follow the recorded payloads in shared/hyperliquid/recorded (key names, nesting, which
keys are optional); numbers are rendered the way the venue renders them (``"5.0"``, ``"0.0"``).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from venues.simulator.engine import Engine
from venues.simulator.model import (
    Fill,
    Order,
    OrderUpdated,
    OrderView,
    TradePrinted,
    usd,
    wire,
)

ZERO = Decimal(0)
BOOK_DEPTH = 20


_PX_QUANTUM = Decimal("1e-8")


def px(value: Decimal) -> str:
    """A derived price (mid, mark, average entry): at most 8 decimals."""
    return wire(value.quantize(_PX_QUANTUM))


def money(value: Decimal) -> str:
    return wire(usd(value))


def basic_order(o: Order | OrderView) -> dict[str, Any]:
    """The ``openOrders`` / WebSocket ``WsBasicOrder`` object."""
    out: dict[str, Any] = {
        "coin": o.coin, "side": o.side, "limitPx": wire(o.limit_px), "sz": wire(o.sz),
        "oid": o.oid, "timestamp": o.timestamp, "origSz": wire(o.orig_sz),
    }
    if o.cloid is not None:
        out["cloid"] = o.cloid
    if o.reduce_only:
        out["reduceOnly"] = True
    return out


def frontend_order(o: Order) -> dict[str, Any]:
    """``frontendOpenOrders`` / ``historicalOrders`` / ``orderStatus`` order object."""
    return {
        "coin": o.coin,
        "side": o.side,
        "limitPx": wire(o.limit_px),
        "sz": wire(o.sz),
        "oid": o.oid,
        "timestamp": o.timestamp,
        "triggerCondition": o.trigger_condition(),
        "isTrigger": o.trigger is not None,
        "triggerPx": wire(o.trigger.trigger_px) if o.trigger else "0.0",
        "children": [frontend_order(c) for c in o.children],
        "isPositionTpsl": o.is_position_tpsl,
        "reduceOnly": o.reduce_only,
        "orderType": o.order_type_name(),
        "origSz": wire(o.orig_sz),
        "tif": None if o.trigger is not None else o.tif,
        "cloid": o.cloid,
    }


def order_with_status(o: Order) -> dict[str, Any]:
    return {"order": frontend_order(o), "status": o.status, "statusTimestamp": o.status_ts}


def ws_order(update: OrderUpdated) -> dict[str, Any]:
    return {
        "order": basic_order(update.order),
        "status": update.status,
        "statusTimestamp": update.status_ts,
    }


def fill(f: Fill) -> dict[str, Any]:
    out: dict[str, Any] = {
        "coin": f.coin, "px": wire(f.px), "sz": wire(f.sz), "side": "B" if f.is_buy else "A",
        "time": f.time, "startPosition": wire(f.start_position), "dir": f.dir,
        "closedPnl": money(f.closed_pnl), "hash": f.hash, "oid": f.oid, "crossed": f.crossed,
        "fee": money(f.fee), "tid": f.tid, "feeToken": "USDC",
    }
    if f.cloid is not None:
        out["cloid"] = f.cloid
    return out


def trade(t: TradePrinted) -> dict[str, Any]:
    return {
        "coin": t.coin, "side": "B" if t.is_buy else "A", "px": wire(t.px), "sz": wire(t.sz),
        "hash": t.hash, "time": t.time, "tid": t.tid, "users": [t.buyer, t.seller],
    }


def _bucket(price: Decimal, n_sig_figs: int, mantissa: int | None, is_bid: bool) -> Decimal:
    quantum = Decimal(1).scaleb(price.adjusted() - n_sig_figs + 1) * (mantissa or 1)
    rounding = ROUND_FLOOR if is_bid else ROUND_CEILING
    return (price / quantum).to_integral_value(rounding=rounding) * quantum


def book_levels(
    engine: Engine, coin: str, n_sig_figs: int | None = None, mantissa: int | None = None
) -> list[list[dict[str, Any]]]:
    book = engine.books[coin]
    sides = []
    for is_bid in (True, False):
        if n_sig_figs is None:
            levels = book.depth(is_bid, BOOK_DEPTH)
        else:
            merged: dict[Decimal, tuple[Decimal, int]] = {}
            for p, sz, n in book.depth(is_bid, 100_000):
                key = _bucket(p, n_sig_figs, mantissa, is_bid)
                if key not in merged and len(merged) == BOOK_DEPTH:
                    break
                old_sz, old_n = merged.get(key, (ZERO, 0))
                merged[key] = (old_sz + sz, old_n + n)
            levels = [(p, sz, n) for p, (sz, n) in merged.items()]
        sides.append([{"px": wire(p), "sz": wire(sz), "n": n} for p, sz, n in levels])
    return sides


def l2_book(
    engine: Engine, coin: str, n_sig_figs: int | None = None, mantissa: int | None = None
) -> dict[str, Any]:
    return {
        "coin": coin, "time": engine.now_ms(),
        "levels": book_levels(engine, coin, n_sig_figs, mantissa),
    }


def bbo_levels(engine: Engine, coin: str) -> list[dict[str, Any] | None]:
    out: list[dict[str, Any] | None] = []
    for is_bid in (True, False):
        top = engine.books[coin].depth(is_bid, 1)
        out.append({"px": wire(top[0][0]), "sz": wire(top[0][1]), "n": top[0][2]} if top else None)
    return out


def _liquidation_px(szi: Decimal, mark: Decimal, equity: Decimal, max_lev: int) -> Decimal | None:
    """Where this position alone would reach maintenance margin (half the initial at max
    leverage), holding the rest of the account fixed."""
    r = Decimal(1) / (2 * max_lev)
    price = (szi * mark - equity) / (szi * (1 - r) if szi > 0 else szi * (1 + r))
    return price if price > 0 else None


def clearinghouse_state(engine: Engine, user: str) -> dict[str, Any]:
    m = engine.margin(user)
    account = m.account
    value = m.account_value()
    maintenance = m.maintenance()
    positions = []
    cross_ntl = cross_margin = isolated_equity = ZERO
    for coin, pos in sorted(account.positions.items()):
        if pos.szi == 0:
            continue
        spec = engine.spec[coin]
        lev = m.lev(coin)
        mark = engine.mark(coin)
        margin_used = m.position_margin(pos)
        unrealized = pos.unrealized(mark)
        leverage: dict[str, Any] = {"type": "cross" if lev.is_cross else "isolated",
                                    "value": lev.value}
        if lev.is_cross:
            cross_ntl += abs(pos.szi) * mark
            cross_margin += margin_used
        else:
            leverage["rawUsd"] = money(margin_used - pos.szi * mark)
            isolated_equity += margin_used + unrealized
        own_maint = abs(pos.szi) * mark / (2 * spec.max_leverage)
        liq = _liquidation_px(pos.szi, mark, value - (maintenance - own_maint), spec.max_leverage)
        entry_margin = abs(pos.szi) * pos.entry_px / lev.value
        positions.append({"type": "oneWay", "position": {
            "coin": coin, "szi": wire(pos.szi), "leverage": leverage,
            "entryPx": px(pos.entry_px), "positionValue": money(abs(pos.szi) * mark),
            "unrealizedPnl": money(unrealized),
            "returnOnEquity": wire((unrealized / entry_margin).quantize(Decimal("1e-8")))
            if entry_margin else "0.0",
            "liquidationPx": None if liq is None else px(liq),
            "marginUsed": money(margin_used), "maxLeverage": spec.max_leverage,
            "cumFunding": {"allTime": money(pos.cum_funding), "sinceOpen": "0.0",
                           "sinceChange": "0.0"},
        }})
    total_margin = m.positions_margin()
    summary = {
        "accountValue": money(value), "totalNtlPos": money(m.notional()),
        "totalRawUsd": money(value - m.signed_notional()), "totalMarginUsed": money(total_margin),
    }
    cross_value = value - isolated_equity
    cross = {
        "accountValue": money(cross_value), "totalNtlPos": money(cross_ntl),
        "totalRawUsd": money(cross_value - cross_ntl), "totalMarginUsed": money(cross_margin),
    }
    withdrawable = max(ZERO, value - total_margin - m.orders_margin())
    return {
        "marginSummary": summary, "crossMarginSummary": cross,
        "crossMaintenanceMarginUsed": money(maintenance), "withdrawable": money(withdrawable),
        "assetPositions": positions, "time": engine.now_ms(),
    }


def meta(engine: Engine) -> dict[str, Any]:
    tables = sorted({c.max_leverage for c in engine.coins})
    return {
        "universe": [
            {"name": c.name, "szDecimals": c.sz_decimals, "maxLeverage": c.max_leverage,
             "marginTableId": c.max_leverage}
            for c in engine.coins
        ],
        "marginTables": [
            [lev, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": lev}]}]
            for lev in tables
        ],
        "collateralToken": 0,
    }


def asset_ctx(engine: Engine, coin: str) -> dict[str, Any]:
    book = engine.books[coin]
    mid = book.mid()
    bid, ask = book.best_bid(), book.best_ask()
    open_interest = sum(
        (a.szi(coin) for a in engine.accounts.values() if a.szi(coin) > 0), ZERO
    )
    ntl, base = engine.volume.get(coin, (ZERO, ZERO))
    return {
        "funding": "0.0", "openInterest": wire(open_interest),
        "prevDayPx": wire(engine.spec[coin].mid), "dayNtlVlm": money(ntl), "premium": "0.0",
        "oraclePx": px(engine.reference_px[coin]), "markPx": px(engine.mark(coin)),
        "midPx": None if mid is None else px(mid),
        "impactPxs": None if bid is None or ask is None else [wire(bid), wire(ask)],
        "dayBaseVlm": wire(base),
    }
