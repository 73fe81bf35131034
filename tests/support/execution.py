"""A rig that drives `ExecutionCore` without threads: ports record what it sends."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from actors.executing.core import ExecutionConfig, ExecutionCore, Ports
from actors.executing.normalize import Normalizer, Quotes, RiskConfig
from actors.executing.pacing import PacingConfig
from messages import BestBidOffer, ClientOrderId, OrderSide, OrderType, PriceLevel, SubmitOrder
from messages.enums import RequestKind
from messages.execution import ResponseReceived, SignedAction
from venues.hyperliquid.markets import Market, MarketRegistry

ACCOUNT = "0x" + "ab" * 20
MARKETS = MarketRegistry([
    Market(trading_pair="BTC-USD", coin="BTC", asset=0, sz_decimals=5, max_leverage=50),
    Market(trading_pair="ETH-USD", coin="ETH", asset=1, sz_decimals=4, max_leverage=50),
])


class Clock:
    def __init__(self) -> None:
        self.ns = 1_800_000_000_000_000_000

    def __call__(self) -> int:
        return self.ns


class Rig:
    def __init__(self, *, ws_up: bool = True, risk: RiskConfig | None = None,
                 deadman: float | None = None, pacing: PacingConfig | None = None,
                 invalidate: bool = False) -> None:
        self.clock = Clock()
        self.tracker: list[Any] = []
        self.signer: list[Any] = []
        self.events: list[Any] = []
        self.http: list[tuple[int, str, bytes]] = []
        self.ws: list[tuple[int, str, bytes]] = []
        self.later: list[tuple[float, object]] = []
        self.ws_up = ws_up
        self.quotes = Quotes()
        ports = Ports(
            tracker=self.tracker.append, signer=self.signer.append, events=self.events.append,
            http=lambda i, p, b: self.http.append((i, p, b)),
            ws=self._ws, ws_connected=lambda: self.ws_up,
            later=lambda d, m: self.later.append((d, m)),
        )
        normalizer = Normalizer(MARKETS, self.quotes, risk or RiskConfig(), self.clock)
        self.core = ExecutionCore(
            ExecutionConfig(account=ACCOUNT, deadman_s=deadman,
                            pacing=pacing or PacingConfig(), invalidate_unknown=invalidate),
            normalizer, ports, self.clock)

    def _ws(self, request_id: int, kind: str, body: bytes) -> bool:
        if not self.ws_up:
            return False
        self.ws.append((request_id, kind, body))
        return True

    def quote(self, pair: str, bid: str, ask: str) -> None:
        self.quotes.update(BestBidOffer(
            trading_pair=pair, bid=PriceLevel(price=Decimal(bid), size=Decimal(1), orders=1),
            ask=PriceLevel(price=Decimal(ask), size=Decimal(1), orders=1), ts_event=0,
            ts_init=0), self.clock.ns)


def order(**kw: Any) -> SubmitOrder:
    fields: dict[str, Any] = {
        "client_order_id": ClientOrderId.derive("ex", 1), "trading_pair": "BTC-USD",
        "side": OrderSide.BUY, "order_type": OrderType.LIMIT, "amount": Decimal("0.0012345"),
        "price": Decimal("65432.1"), "strategy_id": "s",
    }
    fields.update(kw)
    return SubmitOrder(**fields)


def signed(kind: RequestKind = RequestKind.SUBMIT, n: int = 1,
           expires_after_ms: int | None = None) -> SignedAction:
    cloids = tuple(ClientOrderId.derive("ex", i) for i in range(n))
    return SignedAction(request_id=1_800_000_000_000 + n, kind=kind, client_order_ids=cloids,
                        body=b'{"action":{}}', nonce=1_800_000_000_000 + n,
                        expires_after_ms=expires_after_ms, weight=n, ts_init=0)



def answer(rig: Rig, request_id: int, payload: Any, status: int = 200, written: bool = True,
            error: str = "") -> None:
    rig.core.response(ResponseReceived(request_id=request_id, transport="ws", status=status,
                                       body=orjson.dumps(payload) if payload is not None else b"",
                                       error=error, written=written, ts_init=0))


