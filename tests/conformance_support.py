"""The runtime's own venue layer wired to a running simulator, for the conformance suite.

`VenueRig` is what execution and the signer use in production — `InfoClient.markets()`,
`SignerCore` with an `L1Signer` for the demo key (testnet signatures), `HttpTransport` and
`WsPostTransport` — with the transports delivering into a `Mailbox` the test waits on. Answers
are parsed with ``venues.hyperliquid.payloads`` exactly as `ExecutionCore` parses them.

The simulator runs in deterministic mode (a `ManualClock` started at wall time): the synthetic
makers fill every book once at start and nothing moves unless a test advances the clock, so
books, prices and fills are known when a test asserts them.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, Literal, TypeVar

import attrs
import orjson

from actors.gating.normalize import Normalizer, Quotes, RiskConfig
from actors.signing.core import SignerCore
from actors.signing.nonce import NonceSource
from clock import ManualClock, SystemClock
from messages import (
    BookSnapshot,
    CancelAnswered,
    ClientOrderId,
    ExchangeOrderId,
    ModifyAnswered,
    OrderNotFoundReported,
    OrderSide,
    OrderStatusReported,
    OrderType,
    PriceLevel,
    RequestFailed,
    SubmitAnswered,
    SubmitOrder,
    TimeInForce,
)
from messages.connection import ResponseReceived
from messages.execution import SignedAction
from messages.signing import (
    CancelTarget,
    ModifyTarget,
    ScheduleCancel,
    SignCancels,
    SignModifies,
    SignOrders,
)
from venues.hyperliquid import payloads, requests
from venues.hyperliquid.bootstrap import InfoClient
from venues.hyperliquid.markets import MarketRegistry
from venues.hyperliquid.payloads import MarketParser
from venues.hyperliquid.signing import L1Signer
from venues.hyperliquid.transport import HttpTransport, WsPostTransport
from venues.simulator import (
    DEMO_ADDRESS,
    DEMO_PRIVATE_KEY,
    RunningSimulator,
    SimulatorConfig,
    start_simulator,
)
from venues.simulator.core import SimulatorCore
from venues.simulator.model import Order, OrderRequest, Resting

TIMEOUT = 5.0
Via = Literal["http", "ws"]
VIAS: tuple[Via, ...] = ("http", "ws")
T = TypeVar("T")
SignMessage = SignOrders | SignCancels | SignModifies | ScheduleCancel


def start_sim(config: SimulatorConfig | None = None) -> RunningSimulator:
    """A simulator in deterministic mode whose clock starts at wall time (nonces come from the
    wall clock and must lie within a day of the venue's time)."""
    return start_simulator(config or SimulatorConfig(),
                           clock=ManualClock(start_ns=SystemClock().time_ns()))


class Mailbox:
    """What the transports deliver (from their threads), waited on with a timeout."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[object] = []

    def put(self, item: object) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def items(self) -> list[object]:
        with self._cond:
            return list(self._items)

    def wait_for(self, predicate: Callable[[object], bool], timeout: float = TIMEOUT,
                 what: str = "a matching message") -> object:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for item in self._items:
                    if predicate(item):
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {what} within {timeout}s; got {self._items[-5:]}")
                self._cond.wait(remaining)


def sweep(levels: Sequence[PriceLevel], amount: Decimal) -> tuple[Decimal, list[Decimal]]:
    """What a taker of ``amount`` pays walking ``levels``: (average price, price of each fill)."""
    left, notional, prices = amount, Decimal(0), []
    for level in levels:
        take = min(left, level.size)
        notional += take * level.price
        prices.append(level.price)
        left -= take
        if left == 0:
            return notional / amount, prices
    raise AssertionError(f"the book cannot fill {amount}")


def only(items: Sequence[T]) -> T:
    assert len(items) == 1, items
    return items[0]


class VenueRig:
    """Markets, signer and both transports of the runtime, against one simulator."""

    def __init__(self, sim: RunningSimulator, *, seed: str, max_batch: int = 39,
                 connect_ws: bool = True) -> None:
        self.sim = sim
        self.clock = SystemClock()
        self.info = InfoClient(sim.base_url, timeout_s=TIMEOUT)
        self.markets: MarketRegistry = self.info.markets()
        self.nonces = NonceSource(self.wall_ms)
        self.signer = SignerCore(L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False), self.markets,
                                 self.nonces, self.clock.time_ns, max_batch=max_batch,
                                 min_expiry_margin_s=None)  # signs stale expiries on purpose
        self.inbox = Mailbox()
        self.http = HttpTransport(sim.base_url, self.inbox.put, self.clock.time_ns,
                                  timeout_s=TIMEOUT)
        self.ws = WsPostTransport(sim.ws_url, self.inbox.put, self.clock.time_ns,
                                  timeout_s=TIMEOUT, name="conformance-post")
        if connect_ws:
            self.ws.connect()
        self.parser = MarketParser()
        self._seed = seed
        self._cloids = itertools.count()
        self._query_ids = itertools.count(1)

    def close(self) -> None:
        self.ws.close()
        self.http.close()

    # --- time, ids, books --------------------------------------------------------------------

    def wall_ms(self) -> int:
        return self.clock.time_ns() // 1_000_000

    def sim_ms(self) -> int:
        return self.sim.call(lambda core: core.engine.now_ms())

    def cloid(self) -> ClientOrderId:
        return ClientOrderId.derive(self._seed, next(self._cloids))

    def book(self, pair: str) -> BookSnapshot:
        """The venue's book over ``/info l2Book``, parsed as the runtime parses it."""
        coin = self.markets.by_pair(pair).coin
        raw = self.info.post("/info", {"type": "l2Book", "coin": coin})
        book = payloads.parse_l2_book(raw, self.clock.time_ns(), market=self.parser)
        assert book is not None
        return book

    def normalizer(self, *pairs: str) -> Normalizer:
        """Execution's normaliser with fresh quotes from the venue's books."""
        quotes = Quotes()
        for pair in pairs:
            quotes.update(self.book(pair), self.clock.time_ns())
        return Normalizer(self.markets, quotes, RiskConfig(), self.clock.time_ns)

    def place_external(self, pair: str, side: OrderSide, amount: Decimal, price: Decimal) -> int:
        """An order another client of the account placed (no cloid, unknown to the runtime);
        returns its oid."""
        request = OrderRequest(asset=self.markets.by_pair(pair).asset,
                               is_buy=side is OrderSide.BUY, px=price, sz=amount)

        def place(core: SimulatorCore) -> int:
            outcome = core.engine.place(DEMO_ADDRESS, request)
            core.after_change()  # published like any order
            assert isinstance(outcome, Resting), outcome
            return outcome.oid

        return self.sim.call(place)

    def venue_order(self, cloid_or_oid: str | int) -> Order:
        """The simulator's own record of one of the demo account's orders."""
        order = self.sim.call(lambda core: core.engine.reg.find(DEMO_ADDRESS, cloid_or_oid))
        assert order is not None, f"the venue has no order {cloid_or_oid}"
        return order

    # --- signing and sending -----------------------------------------------------------------

    def sign(self, *messages: SignMessage) -> list[SignedAction | RequestFailed]:
        for message in messages:
            self.signer.add(message)
        return self.signer.flush()

    def sign_one(self, message: SignMessage) -> SignedAction:
        action = only(self.sign(message))
        assert isinstance(action, SignedAction), action
        return action

    def send(self, request_id: int, path: str, body: bytes, via: Via) -> ResponseReceived:
        """Send one request over ``via`` and wait for its `ResponseReceived`."""
        if via == "ws":
            kind = "action" if path == "/exchange" else "info"
            assert self.ws.post(request_id, kind, body), "the WS post channel is down"
        else:
            self.http.post(request_id, path, body)
        answer = self.inbox.wait_for(
            lambda m: isinstance(m, ResponseReceived) and m.request_id == request_id,
            what=f"answer to request {request_id}")
        assert isinstance(answer, ResponseReceived)
        assert answer.transport == via
        assert answer.status == 200, answer
        assert answer.error == ""
        return answer

    def post(self, action: SignedAction, via: Via) -> Any:
        """POST a signed action; the venue's JSON answer."""
        return orjson.loads(self.send(action.request_id, "/exchange", action.body, via).body)

    def query(self, body: dict[str, Any], via: Via) -> Any:
        """An ``/info`` query; the ``data`` the venue answered."""
        request_id = next(self._query_ids)
        return orjson.loads(self.send(request_id, "/info", orjson.dumps(body), via).body)

    # --- runtime answers -----------------------------------------------------------------

    def submit(
        self, orders: Sequence[SubmitOrder], via: Via, *, expires_after_ms: int | None = None,
    ) -> tuple[SubmitAnswered, ...] | RequestFailed:
        action = self.sign_one(SignOrders(orders=tuple(orders), expires_after_ms=expires_after_ms,
                                          ts_init=0))
        assert action.client_order_ids == tuple(o.client_order_id for o in orders)
        return submit_answers(self.post(action, via), action)

    def place(self, order: SubmitOrder, via: Via) -> SubmitAnswered:
        answers = self.submit([order], via)
        assert not isinstance(answers, RequestFailed), answers
        return only(answers)

    def cancel(self, targets: Sequence[CancelTarget], via: Via) -> list[CancelAnswered]:
        out: list[CancelAnswered] = []
        for action in self.sign(SignCancels(targets=tuple(targets), ts_init=0)):
            assert isinstance(action, SignedAction), action
            answers = payloads.parse_cancel_response(self.post(action, via),
                                                     action.client_order_ids, 0)
            assert not isinstance(answers, RequestFailed), answers
            for answer in answers:
                assert isinstance(answer, CancelAnswered)
                out.append(answer)
        return out

    def modify(self, targets: Sequence[ModifyTarget], via: Via) -> list[ModifyAnswered]:
        action = self.sign_one(SignModifies(targets=tuple(targets), ts_init=0))
        answers = payloads.parse_modify_response(self.post(action, via),
                                                 action.client_order_ids, 0)
        assert not isinstance(answers, RequestFailed), answers
        assert all(isinstance(a, ModifyAnswered) for a in answers)
        return [a for a in answers if isinstance(a, ModifyAnswered)]

    def order_status(
        self, cloid: ClientOrderId, via: Via
    ) -> OrderStatusReported | OrderNotFoundReported:
        payload = self.query(requests.order_status(DEMO_ADDRESS, cloid), via)
        report = payloads.parse_order_status(payload, 0, client_order_id=cloid).report
        assert report is not None
        return report


def submit_answers(payload: Any, action: SignedAction) -> tuple[SubmitAnswered, ...] | (
    RequestFailed
):
    answers = payloads.parse_order_response(payload, action.client_order_ids, 0)
    if isinstance(answers, RequestFailed):
        return answers
    assert all(isinstance(a, SubmitAnswered) for a in answers)
    return tuple(a for a in answers if isinstance(a, SubmitAnswered))


def limit(
    cloid: ClientOrderId, side: OrderSide, amount: str | Decimal, price: str | Decimal, *,
    pair: str = "ETH-USD", tif: TimeInForce = TimeInForce.GTC, reduce_only: bool = False,
) -> SubmitOrder:
    return SubmitOrder(client_order_id=cloid, trading_pair=pair, side=side,
                       order_type=OrderType.LIMIT, amount=Decimal(amount), price=Decimal(price),
                       time_in_force=tif, reduce_only=reduce_only, strategy_id="conformance")


def passive_price(rig: VenueRig, book: BookSnapshot, side: OrderSide, fraction: str) -> Decimal:
    """A valid price ``fraction`` behind the touch (below the bid for a buy, above the ask for
    a sell), so the order rests."""
    market = rig.markets.by_pair(book.trading_pair)
    is_buy = side is OrderSide.BUY
    touch = book.bids[0].price if is_buy else book.asks[0].price
    raw = touch * (1 - Decimal(fraction)) if is_buy else touch * (1 + Decimal(fraction))
    return market.round_price(raw, is_buy=is_buy, aggressive=False)


def rig_for(sim: RunningSimulator, seed: str, **kw: Any) -> Iterator[VenueRig]:
    """Fixture body: a rig closed after the test."""
    rig = VenueRig(sim, seed=seed, **kw)
    try:
        yield rig
    finally:
        rig.close()


def cancel_target(order: SubmitOrder, oid: int | None = None) -> CancelTarget:
    return CancelTarget(client_order_id=order.client_order_id, trading_pair=order.trading_pair,
                        exchange_order_id=None if oid is None else ExchangeOrderId(oid),
                        by_exchange_id=False)


def evolve_order(order: SubmitOrder, **changes: Any) -> SubmitOrder:
    return attrs.evolve(order, **changes)
