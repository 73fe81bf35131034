"""``POST /info``: decoded query → engine lookup → the venue's JSON answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from venues.simulator import render
from venues.simulator.accounts import Account
from venues.simulator.actions import (
    DeserializeError,
    address,
    as_int,
    as_obj,
    as_str,
    cloid,
    require,
)
from venues.simulator.agents import AgentRegistry
from venues.simulator.engine import Engine
from venues.simulator.limits import Limits
from venues.simulator.model import Fill, Order

MAX_FILLS = 2000
MAX_ORDERS = 2000
USDC_TOKEN = {
    "name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0,
    "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054", "isCanonical": True, "evmContract": None,
    "fullName": None,
}


def aggregate_by_time(fills: list[Fill]) -> list[Fill]:
    """Merge consecutive partial fills of one order at one time (``aggregateByTime``)."""
    out: list[Fill] = []
    for f in fills:
        prev = out[-1] if out else None
        if prev is not None and prev.oid == f.oid and prev.time == f.time:
            sz = prev.sz + f.sz
            out[-1] = Fill(
                user=f.user, coin=f.coin, px=(prev.px * prev.sz + f.px * f.sz) / sz, sz=sz,
                is_buy=f.is_buy, time=f.time, start_position=prev.start_position, dir=prev.dir,
                closed_pnl=prev.closed_pnl + f.closed_pnl, hash=prev.hash, oid=f.oid,
                crossed=f.crossed, fee=prev.fee + f.fee, tid=prev.tid, cloid=f.cloid,
            )
        else:
            out.append(f)
    return out


class InfoService:
    def __init__(self, engine: Engine, agents: AgentRegistry, limits: Limits) -> None:
        self._engine = engine
        self._agents = agents
        self._limits = limits
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "meta": self._meta,
            "spotMeta": lambda _b: self._spot_meta(),
            "spotMetaAndAssetCtxs": lambda _b: [self._spot_meta(), []],
            "metaAndAssetCtxs": self._meta_and_ctxs,
            "allMids": self._all_mids,
            "l2Book": self._l2_book,
            "openOrders": self._open_orders,
            "frontendOpenOrders": self._frontend_open_orders,
            "orderStatus": self._order_status,
            "userFills": self._user_fills,
            "userFillsByTime": self._user_fills_by_time,
            "clearinghouseState": self._clearinghouse_state,
            "spotClearinghouseState": lambda b: {"balances": []} if self._user(b) else None,
            "userRateLimit": self._user_rate_limit,
            "historicalOrders": self._historical_orders,
            "userRole": self._user_role,
            "extraAgents": self._extra_agents,
            "perpDexs": lambda _b: [None],
            "recentTrades": self._recent_trades,
        }

    def handle(self, body: Any) -> Any:
        b = as_obj(body, "body")
        kind = as_str(b.get("type"), "type")
        handler = self._handlers.get(kind)
        if handler is None:
            raise DeserializeError(f"type: unknown variant `{kind[:40]}`")
        return handler(b)

    @staticmethod
    def _user(b: dict[str, Any]) -> str:
        return address(b.get("user"), "user")

    def _dex_ok(self, b: dict[str, Any]) -> bool:
        dex = b.get("dex")
        require(dex is None or isinstance(dex, str), "dex: expected a string")
        return not dex

    def _coin(self, b: dict[str, Any]) -> str:
        return as_str(b.get("coin"), "coin")

    def _meta(self, b: dict[str, Any]) -> Any:
        return render.meta(self._engine) if self._dex_ok(b) else None

    @staticmethod
    def _spot_meta() -> dict[str, Any]:
        return {"universe": [], "tokens": [USDC_TOKEN]}

    def _meta_and_ctxs(self, b: dict[str, Any]) -> Any:
        if not self._dex_ok(b):
            return None
        e = self._engine
        return [render.meta(e), [render.asset_ctx(e, c.name) for c in e.coins]]

    def _all_mids(self, b: dict[str, Any]) -> Any:
        if not self._dex_ok(b):
            return {}
        return {c.name: render.px(self._engine.mark(c.name)) for c in self._engine.coins}

    def _l2_book(self, b: dict[str, Any]) -> Any:
        coin = self._coin(b)
        n_sig = b.get("nSigFigs")
        mantissa = b.get("mantissa")
        if n_sig is not None:
            require(as_int(n_sig, "nSigFigs") in (2, 3, 4, 5), "nSigFigs: expected 2..5")
        if mantissa is not None:
            require(as_int(mantissa, "mantissa") in (1, 2, 5) and n_sig == 5, "mantissa")
        if coin not in self._engine.books:
            return None
        return render.l2_book(self._engine, coin, n_sig, mantissa)

    def _live(self, b: dict[str, Any]) -> list[Order]:
        if not self._dex_ok(b):
            return []
        orders = self._engine.live_orders(self._user(b))
        return sorted(orders, key=lambda o: o.oid, reverse=True)

    def _top_level(self, order: Order) -> bool:
        """TP/SL children show inside their parent until it fills, then on their own."""
        if order.parent_oid is None:
            return True
        parent = self._engine.reg.find(order.user, order.parent_oid)
        return parent is None or not self._engine.reg.is_live(parent)

    def _open_orders(self, b: dict[str, Any]) -> list[dict[str, Any]]:
        return [render.basic_order(o) for o in self._live(b) if self._top_level(o)]

    def _frontend_open_orders(self, b: dict[str, Any]) -> list[dict[str, Any]]:
        return [render.frontend_order(o) for o in self._live(b) if self._top_level(o)]

    def _order_status(self, b: dict[str, Any]) -> dict[str, Any]:
        user = self._user(b)
        raw = b.get("oid")
        ref = cloid(raw, "oid") if isinstance(raw, str) else as_int(raw, "oid")
        order = self._engine.reg.find(user, ref)
        if order is None:
            return {"status": "unknownOid"}
        return {"status": "order", "order": render.order_with_status(order)}

    def _fills(self, b: dict[str, Any], fills: list[Fill]) -> list[Fill]:
        aggregate = b.get("aggregateByTime")
        require(aggregate is None or isinstance(aggregate, bool), "aggregateByTime: bool")
        return aggregate_by_time(fills) if aggregate else fills

    def _user_fills(self, b: dict[str, Any]) -> list[dict[str, Any]]:
        fills = self._fills(b, self._engine.reg.fills(self._user(b)))
        return [render.fill(f) for f in reversed(fills[-MAX_FILLS:])]

    def _user_fills_by_time(self, b: dict[str, Any]) -> list[dict[str, Any]]:
        user = self._user(b)
        start = as_int(b.get("startTime"), "startTime")
        end_raw = b.get("endTime")
        end = self._engine.now_ms() if end_raw is None else as_int(end_raw, "endTime")
        fills = [f for f in self._engine.reg.fills(user) if start <= f.time <= end]
        return [render.fill(f) for f in self._fills(b, fills)[:MAX_FILLS]]

    def _clearinghouse_state(self, b: dict[str, Any]) -> Any:
        user = self._user(b)
        return render.clearinghouse_state(self._engine, user) if self._dex_ok(b) else None

    def _user_rate_limit(self, b: dict[str, Any]) -> dict[str, Any]:
        user = self._user(b)
        account = self._engine.accounts.get(user) or Account(address=user)
        return {
            "cumVlm": render.money(account.cum_volume), "nRequestsUsed": account.n_requests,
            "nRequestsCap": self._limits.request_cap(account), "nRequestsSurplus": 0,
        }

    def _historical_orders(self, b: dict[str, Any]) -> list[dict[str, Any]]:
        orders = self._engine.reg.history(self._user(b))
        return [render.order_with_status(o) for o in reversed(orders[-MAX_ORDERS:])]

    def _user_role(self, b: dict[str, Any]) -> dict[str, Any]:
        user = self._user(b)
        master = self._agents.master_of(user, self._engine.now_ms())
        if master is not None:
            return {"role": "agent", "data": {"user": master}}
        account = self._engine.accounts.get(user)
        if account is None:
            return {"role": "missing"}
        if account.master is not None:
            return {"role": "subAccount", "data": {"master": account.master}}
        return {"role": "user"}

    def _extra_agents(self, b: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"name": a.name, "address": a.address, "validUntil": a.valid_until}
            for a in self._agents.agents_of(self._user(b)) if a.name
        ]

    def _recent_trades(self, b: dict[str, Any]) -> Any:
        coin = self._coin(b)
        if coin not in self._engine.trades:
            return None
        return [render.trade(t) for t in list(self._engine.trades[coin])[-100:]]
