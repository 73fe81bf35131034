"""Account queries: ``clearinghouseState``, ``userRateLimit``, ``userFunding``,
``userNonFundingLedgerUpdates``, ``userRole``, ``extraAgents``, ``userVaultEquities``,
``delegatorHistory`` and ``portfolio``."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from messages.account import (
    AccountStateReported,
    FundingPaid,
    PositionReported,
    RateLimitReported,
)
from venues.hyperliquid.models import (
    ABSENT,
    AssetPosition,
    ClearinghouseState,
    CumFunding,
    DelegatorEvent,
    ExtraAgent,
    JsonObject,
    LedgerUpdate,
    Leverage,
    MarginSummary,
    PortfolioPeriod,
    Position,
    UserFunding,
    UserRateLimit,
    UserRole,
    VaultEquity,
)
from venues.hyperliquid.payloads.common import (
    DEFAULT_COINS,
    CoinMapper,
    PayloadError,
    Reader,
    expect_list,
    fmt_decimal,
    freeze,
    ms_to_ns,
    opt,
    parse_decimal,
    put,
    put_extra,
    thaw,
)


def _summary(r: Reader, key: str) -> MarginSummary:
    s = Reader(r.raw(key), f"{r.where}.{key}")
    return MarginSummary(
        account_value=s.dec("accountValue"), total_ntl_pos=s.dec("totalNtlPos"),
        total_raw_usd=s.dec("totalRawUsd"), total_margin_used=s.dec("totalMarginUsed"),
        extra=s.extra(),
    )


def _render_summary(s: MarginSummary) -> dict[str, Any]:
    return put_extra({
        "accountValue": fmt_decimal(s.account_value), "totalNtlPos": fmt_decimal(s.total_ntl_pos),
        "totalRawUsd": fmt_decimal(s.total_raw_usd),
        "totalMarginUsed": fmt_decimal(s.total_margin_used),
    }, s.extra)


def _position(obj: object, where: str) -> Position:
    r = Reader(obj, where)
    lr = Reader(r.raw("leverage"), f"{where}.leverage")
    leverage = Leverage(
        kind=lr.text("type"), value=lr.integer("value"), raw_usd=lr.optional("rawUsd", lr.dec),
        extra=lr.extra(),
    )

    def cum(key: str) -> CumFunding:
        cr = Reader(r.raw(key), f"{where}.{key}")
        return CumFunding(
            all_time=cr.dec("allTime"), since_open=cr.dec("sinceOpen"),
            since_change=cr.dec("sinceChange"), extra=cr.extra(),
        )

    def sizes(key: str) -> tuple[Decimal, ...]:
        return tuple(
            parse_decimal(x, f"{where}.{key}[{i}]") for i, x in enumerate(r.array(key))
        )

    return Position(
        coin=r.text("coin"),
        szi=r.dec("szi"),
        leverage=leverage,
        entry_px=r.nullable("entryPx", r.dec),
        position_value=r.dec("positionValue"),
        unrealized_pnl=r.dec("unrealizedPnl"),
        return_on_equity=r.dec("returnOnEquity"),
        liquidation_px=r.nullable("liquidationPx", r.dec),
        margin_used=r.dec("marginUsed"),
        max_leverage=r.optional("maxLeverage", r.integer),
        cum_funding=r.optional("cumFunding", cum),
        max_trade_szs=r.optional("maxTradeSzs", sizes),
        extra=r.extra(),
    )


def _render_position(p: Position) -> dict[str, Any]:
    lev: dict[str, Any] = {"type": p.leverage.kind, "value": p.leverage.value}
    put(lev, "rawUsd", opt(p.leverage.raw_usd, fmt_decimal))
    out: dict[str, Any] = {
        "coin": p.coin,
        "szi": fmt_decimal(p.szi),
        "leverage": put_extra(lev, p.leverage.extra),
        "entryPx": opt(p.entry_px, fmt_decimal),
        "positionValue": fmt_decimal(p.position_value),
        "unrealizedPnl": fmt_decimal(p.unrealized_pnl),
        "returnOnEquity": fmt_decimal(p.return_on_equity),
        "liquidationPx": opt(p.liquidation_px, fmt_decimal),
        "marginUsed": fmt_decimal(p.margin_used),
    }
    put(out, "maxTradeSzs", opt(p.max_trade_szs, lambda xs: [fmt_decimal(x) for x in xs]))
    put(out, "maxLeverage", p.max_leverage)
    put(out, "cumFunding", opt(p.cum_funding, lambda c: put_extra({
        "allTime": fmt_decimal(c.all_time), "sinceOpen": fmt_decimal(c.since_open),
        "sinceChange": fmt_decimal(c.since_change)}, c.extra)))
    return put_extra(out, p.extra)


def parse_clearinghouse_state(
    payload: object, ts_init: int, *, coins: CoinMapper = DEFAULT_COINS
) -> ClearinghouseState:
    r = Reader(payload, "clearinghouseState")
    margin = _summary(r, "marginSummary")
    cross = _summary(r, "crossMarginSummary")
    maintenance = r.optional("crossMaintenanceMarginUsed", r.dec)
    withdrawable = r.dec("withdrawable")
    assets = []
    for i, item in enumerate(r.array("assetPositions")):
        ar = Reader(item, f"clearinghouseState.assetPositions[{i}]")
        assets.append(AssetPosition(
            kind=ar.text("type"), position=_position(ar.raw("position"), f"{ar.where}.position"),
            extra=ar.extra(),
        ))
    time = r.optional("time", r.integer)
    positions = tuple(
        PositionReported(
            trading_pair=coins.to_pair(a.position.coin),
            size=a.position.szi,
            entry_price=a.position.entry_px,
            unrealized_pnl=a.position.unrealized_pnl,
            margin_used=a.position.margin_used,
            leverage=a.position.leverage.value,
            cross=a.position.leverage.kind == "cross",
            liquidation_price=a.position.liquidation_px,
            ts_init=ts_init,
        )
        for a in assets
    )
    report = AccountStateReported(
        account_value=margin.account_value,
        total_margin_used=margin.total_margin_used,
        total_notional=margin.total_ntl_pos,
        withdrawable=withdrawable,
        positions=positions,
        ts_event=ms_to_ns(time) if time is not ABSENT else ts_init,
        ts_init=ts_init,
    )
    return ClearinghouseState(
        margin_summary=margin, cross_margin_summary=cross,
        cross_maintenance_margin_used=maintenance, withdrawable=withdrawable,
        asset_positions=tuple(assets), time=time, report=report, extra=r.extra(),
    )


def render_clearinghouse_state(state: ClearinghouseState) -> dict[str, Any]:
    out: dict[str, Any] = {
        "marginSummary": _render_summary(state.margin_summary),
        "crossMarginSummary": _render_summary(state.cross_margin_summary),
    }
    put(out, "crossMaintenanceMarginUsed", opt(state.cross_maintenance_margin_used, fmt_decimal))
    out["withdrawable"] = fmt_decimal(state.withdrawable)
    out["assetPositions"] = [
        put_extra({"type": a.kind, "position": _render_position(a.position)}, a.extra)
        for a in state.asset_positions
    ]
    put(out, "time", state.time)
    return put_extra(out, state.extra)


def parse_user_rate_limit(payload: object, ts_init: int) -> UserRateLimit:
    r = Reader(payload, "userRateLimit")
    cum, used, cap = r.dec("cumVlm"), r.integer("nRequestsUsed"), r.integer("nRequestsCap")
    surplus = r.optional("nRequestsSurplus", r.integer)
    report = RateLimitReported(
        cumulative_volume=cum, requests_used=used, requests_cap=cap, ts_init=ts_init,
        requests_surplus=None if surplus is ABSENT else surplus,
    )
    return UserRateLimit(
        cum_vlm=cum, n_requests_used=used, n_requests_cap=cap, n_requests_surplus=surplus,
        report=report, extra=r.extra(),
    )


def render_user_rate_limit(limit: UserRateLimit) -> dict[str, Any]:
    out: dict[str, Any] = {"cumVlm": fmt_decimal(limit.cum_vlm),
                           "nRequestsUsed": limit.n_requests_used,
                           "nRequestsCap": limit.n_requests_cap}
    put(out, "nRequestsSurplus", limit.n_requests_surplus)
    return put_extra(out, limit.extra)


def funding_paid(
    obj: object, ts_init: int, *, where: str, coins: CoinMapper = DEFAULT_COINS,
    time_ms: int | None = None,
) -> tuple[FundingPaid, Reader, int]:
    """A funding delta ``{[type], coin, usdc, szi, fundingRate, nSamples?[, time]}``."""
    d = Reader(obj, where)
    ms = time_ms if time_ms is not None else d.integer("time")
    report = FundingPaid(
        trading_pair=coins.to_pair(d.text("coin")), amount=d.dec("usdc"),
        rate=d.dec("fundingRate"), position_size=d.dec("szi"), ts_event=ms_to_ns(ms),
        ts_init=ts_init,
    )
    return report, d, ms


def parse_user_funding(
    payload: object, ts_init: int, *, coins: CoinMapper = DEFAULT_COINS
) -> tuple[UserFunding, ...]:
    out = []
    for i, item in enumerate(expect_list(payload, "userFunding")):
        r = Reader(item, f"userFunding[{i}]")
        time, tx_hash = r.integer("time"), r.text("hash")
        report, d, _ = funding_paid(r.raw("delta"), ts_init, where=f"{r.where}.delta",
                                    coins=coins, time_ms=time)
        if d.text("type") != "funding":
            raise PayloadError(f"{r.where}.delta.type: expected 'funding'")
        out.append(UserFunding(
            time=time, hash=tx_hash, coin=d.text("coin"), usdc=report.amount,
            szi=report.position_size, funding_rate=report.rate,
            n_samples=d.optional("nSamples", d.integer, nullable=True), report=report,
            extra=r.extra(), delta_extra=d.extra(),
        ))
    return tuple(out)


def render_user_funding(items: Sequence[UserFunding]) -> list[dict[str, Any]]:
    out = []
    for f in items:
        delta: dict[str, Any] = {
            "type": "funding", "coin": f.coin, "usdc": fmt_decimal(f.usdc),
            "szi": fmt_decimal(f.szi), "fundingRate": fmt_decimal(f.funding_rate),
        }
        put(delta, "nSamples", f.n_samples)
        out.append(put_extra({"time": f.time, "hash": f.hash,
                              "delta": put_extra(delta, f.delta_extra)}, f.extra))
    return out


def _delta_object(r: Reader) -> JsonObject:
    delta = freeze(r.raw("delta"), f"{r.where}.delta")
    if not isinstance(delta, JsonObject):
        raise PayloadError(f"{r.where}.delta: expected an object")
    return delta


def parse_ledger_updates(payload: object) -> tuple[LedgerUpdate, ...]:
    """``userNonFundingLedgerUpdates``."""
    out = []
    for i, item in enumerate(expect_list(payload, "userNonFundingLedgerUpdates")):
        r = Reader(item, f"userNonFundingLedgerUpdates[{i}]")
        out.append(LedgerUpdate(time=r.integer("time"), hash=r.text("hash"),
                                delta=_delta_object(r), extra=r.extra()))
    return tuple(out)


def render_ledger_updates(items: Sequence[LedgerUpdate]) -> list[dict[str, Any]]:
    return [put_extra({"time": u.time, "hash": u.hash, "delta": thaw(u.delta)}, u.extra)
            for u in items]


def parse_delegator_history(payload: object) -> tuple[DelegatorEvent, ...]:
    out = []
    for i, item in enumerate(expect_list(payload, "delegatorHistory")):
        r = Reader(item, f"delegatorHistory[{i}]")
        time, tx_hash, delta = r.integer("time"), r.text("hash"), _delta_object(r)
        if len(delta.items) != 1 or not isinstance(delta.items[0][1], JsonObject):
            raise PayloadError(f"{r.where}.delta: expected {{kind: {{...}}}}")
        kind, fields = delta.items[0]
        assert isinstance(fields, JsonObject)  # checked just above; narrows for mypy
        out.append(DelegatorEvent(time=time, hash=tx_hash, kind=kind, fields=fields,
                                  extra=r.extra()))
    return tuple(out)


def render_delegator_history(items: Sequence[DelegatorEvent]) -> list[dict[str, Any]]:
    return [put_extra({"time": e.time, "hash": e.hash, "delta": {e.kind: thaw(e.fields)}}, e.extra)
            for e in items]


def parse_user_role(payload: object) -> UserRole:
    r = Reader(payload, "userRole")
    data = r.optional("data", lambda k: freeze(r.raw(k), f"userRole.{k}"))
    return UserRole(role=r.text("role"), data=data, extra=r.extra())


def render_user_role(role: UserRole) -> dict[str, Any]:
    out: dict[str, Any] = {"role": role.role}
    if role.data is not ABSENT:
        out["data"] = thaw(role.data)
    return put_extra(out, role.extra)


def parse_extra_agents(payload: object) -> tuple[ExtraAgent, ...]:
    out = []
    for i, item in enumerate(expect_list(payload, "extraAgents")):
        r = Reader(item, f"extraAgents[{i}]")
        out.append(ExtraAgent(name=r.text("name"), address=r.text("address"),
                              valid_until=r.integer("validUntil"), extra=r.extra()))
    return tuple(out)


def render_extra_agents(items: Sequence[ExtraAgent]) -> list[dict[str, Any]]:
    return [put_extra({"name": a.name, "address": a.address, "validUntil": a.valid_until},
                      a.extra) for a in items]


def parse_vault_equities(payload: object) -> tuple[VaultEquity, ...]:
    out = []
    for i, item in enumerate(expect_list(payload, "userVaultEquities")):
        r = Reader(item, f"userVaultEquities[{i}]")
        out.append(VaultEquity(
            vault_address=r.text("vaultAddress"), equity=r.dec("equity"),
            locked_until_timestamp=r.optional("lockedUntilTimestamp", r.integer),
            extra=r.extra(),
        ))
    return tuple(out)


def render_vault_equities(items: Sequence[VaultEquity]) -> list[dict[str, Any]]:
    out = []
    for v in items:
        d: dict[str, Any] = {"vaultAddress": v.vault_address, "equity": fmt_decimal(v.equity)}
        put(d, "lockedUntilTimestamp", v.locked_until_timestamp)
        out.append(put_extra(d, v.extra))
    return out


def _history(r: Reader, key: str) -> tuple[tuple[int, Decimal], ...]:
    out = []
    for i, point in enumerate(r.array(key)):
        where = f"{r.where}.{key}[{i}]"
        if type(point) is not list or len(point) != 2 or type(point[0]) is not int:
            raise PayloadError(f"{where}: expected [time, value]")
        out.append((point[0], parse_decimal(point[1], where)))
    return tuple(out)


def parse_portfolio(payload: object) -> tuple[PortfolioPeriod, ...]:
    out = []
    for i, item in enumerate(expect_list(payload, "portfolio")):
        where = f"portfolio[{i}]"
        if type(item) is not list or len(item) != 2 or type(item[0]) is not str:
            raise PayloadError(f"{where}: expected [period, {{...}}]")
        r = Reader(item[1], f"{where}[1]")
        out.append(PortfolioPeriod(
            period=item[0], account_value_history=_history(r, "accountValueHistory"),
            pnl_history=_history(r, "pnlHistory"), vlm=r.dec("vlm"), extra=r.extra(),
        ))
    return tuple(out)


def render_portfolio(items: Sequence[PortfolioPeriod]) -> list[Any]:
    return [
        [p.period, put_extra({
            "accountValueHistory": [[t, fmt_decimal(v)] for t, v in p.account_value_history],
            "pnlHistory": [[t, fmt_decimal(v)] for t, v in p.pnl_history],
            "vlm": fmt_decimal(p.vlm),
        }, p.extra)]
        for p in items
    ]
