"""A rig that drives `ExecutionCore` and the risk gate's `GateCore` without threads: ports
record what they send (both tell the same tracker list, as both tell the same tracker)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import orjson

from actors.executing.core import ExecutionConfig, ExecutionCore, Ports
from actors.executing.pacing import PacingConfig
from actors.gating.core import GateConfig, GateCore, GatePorts
from actors.gating.normalize import Normalizer, Quotes, RiskConfig
from actors.gating.pressure import PressureConfig
from messages import BestBidOffer, ClientOrderId, OrderSide, OrderType, PriceLevel, SubmitOrder
from messages.connection import ResponseReceived
from messages.enums import RequestKind
from messages.execution import SignedAction
from messages.gate import SignerBacklog
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
                 invalidate: bool = False, pressure: dict[str, Any] | None = None) -> None:
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
        pacing = pacing or PacingConfig()
        self.core = ExecutionCore(
            ExecutionConfig(deadman_s=deadman, pacing=pacing, invalidate_unknown=invalidate),
            ports, self.clock, account=ACCOUNT)
        # The gate paces new orders at the rate the wiring derives from the same budget.
        risk = risk or RiskConfig()
        self.gate = GateCore(
            GateConfig(risk=risk, pressure=PressureConfig(
                actions_per_s=pacing.ip_weight_per_minute * pacing.action_share / 60,
                **(pressure or {}))),
            Normalizer(MARKETS, self.quotes, risk, self.clock),
            GatePorts(tracker=self.tracker.append, events=self.events.append),
            self.clock, self.clock)

    def backlog(self, report: SignerBacklog) -> None:
        """The signer's backlog report, told to execution and the gate as the signer does."""
        self.core.signer_backlog(report)
        self.gate.signer_backlog(report)

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


_PRESSURE = frozenset(f.name for f in attrs.fields(PressureConfig)) - {"actions_per_s"}


def paced_rig(*, risk: RiskConfig | None = None, **settings: Any) -> Rig:
    """A started rig with noop invalidation on; ``settings`` are `PacingConfig` fields, or the
    gate's `PressureConfig` ones (``max_queue_delay_s``, ``max_backlog_orders``)."""
    pressure = {k: v for k, v in settings.items() if k in _PRESSURE}
    pacing = PacingConfig(**{k: v for k, v in settings.items() if k not in _PRESSURE})
    rig = Rig(pacing=pacing, invalidate=True, risk=risk, pressure=pressure)
    rig.core.start()
    return rig
