"""Support for the runtime chaos tests: a strategy that churns orders, the ledger it shares with
the test, a ZMQ order-event recorder, and the comparison of the tracker with the exchange.

The strategy is recreated on every restart, so everything the test checks afterwards lives in
the `ChurnLedger` (thread-safe, owned by the test), never in the strategy instance.
"""

from __future__ import annotations

import random
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
import zmq

from actors.strategy import LiveOrder, Strategy, StrategySettings
from messages.enums import OrderSide, OrderState, OrderType, TimeInForce
from messages.ids import ClientOrderId
from messages.market import BookSnapshot
from messages.orders import OrderEvent, OrderFilled
from messages.pairs import coin_to_trading_pair
from messages.tracking import CommandRejected, GetOpenOrders, GetOrder, TrackedOrder
from supervision.runtime.config import (
    PublisherSettings,
    RuntimeConfig,
    SimulatorSettings,
    StrategyConfig,
)
from supervision.runtime.launch import Runtime
from supervision.runtime.tree import Wiring, strategy_spec
from supervision.spec import ChildContext, ChildSpec
from venues.simulator import DEMO_ADDRESS, RunningSimulator
from venues.simulator.core import SimulatorCore
from venues.simulator.model import OrderRequest, Resting

STRATEGY_ID = "churn"
STRATEGY_PATH = f"strategies/{STRATEGY_ID}"
PAIRS = ("BTC-USD", "ETH-USD")
NOTIONAL = Decimal(30)
"""USD per order: above the venue's $10 minimum after the size is rounded down."""
SETTLED = ("OPEN", "PARTIALLY_FILLED")
UNSETTLED_STATES = frozenset({OrderState.PENDING_CREATE, OrderState.SUBMITTED,
                              OrderState.PENDING_CANCEL, OrderState.UNKNOWN})
ASK_TIMEOUT_S = 5.0


# --- the shared ledger --------------------------------------------------------------------------

@attrs.frozen(kw_only=True)
class Created:
    client_order_id: ClientOrderId
    trading_pair: str
    kind: str
    """"maker" (post-only near the touch) or "taker" (IOC that crosses)."""
    incarnation: int


@attrs.frozen(kw_only=True)
class SeenEvent:
    sequence: int
    kind: str
    client_order_id: ClientOrderId
    trade_id: int | None


class ChurnLedger:
    """What the churn strategy did and saw, across its incarnations (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.trading = threading.Event()
        """Cleared by the test to quiesce: the strategy then places, cancels and modifies
        nothing."""
        self.trading.set()
        self._created: dict[ClientOrderId, Created] = {}
        self._duplicate_cloids: list[ClientOrderId] = []
        self._modifies: Counter[ClientOrderId] = Counter()
        self._events: list[SeenEvent] = []
        self._rejections: list[CommandRejected] = []
        self._starts: list[tuple[int, dict[str, Decimal]]] = []

    def started(self, incarnation: int, positions: dict[str, Decimal]) -> None:
        with self._lock:
            self._starts.append((incarnation, positions))
            self._lock.notify_all()

    def starts(self) -> list[tuple[int, dict[str, Decimal]]]:
        """(incarnation, the positions it believed it had) for every strategy start."""
        with self._lock:
            return list(self._starts)

    def created(self, entry: Created) -> None:
        with self._lock:
            if entry.client_order_id in self._created:
                self._duplicate_cloids.append(entry.client_order_id)
            self._created[entry.client_order_id] = entry
            self._lock.notify_all()

    def modified(self, cloid: ClientOrderId) -> None:
        with self._lock:
            self._modifies[cloid] += 1

    def saw(self, event: OrderEvent) -> None:
        trade_id = int(event.trade_id) if isinstance(event, OrderFilled) else None
        with self._lock:
            self._events.append(SeenEvent(sequence=event.sequence, kind=type(event).__name__,
                                          client_order_id=event.client_order_id,
                                          trade_id=trade_id))
            self._lock.notify_all()

    def rejected(self, rejection: CommandRejected) -> None:
        with self._lock:
            self._rejections.append(rejection)

    # --- reads (copies) ---
    def orders(self) -> dict[ClientOrderId, Created]:
        with self._lock:
            return dict(self._created)

    def count(self) -> int:
        with self._lock:
            return len(self._created)

    def rejections(self) -> list[CommandRejected]:
        with self._lock:
            return list(self._rejections)

    def duplicate_cloids(self) -> list[ClientOrderId]:
        with self._lock:
            return list(self._duplicate_cloids)

    def modifies(self) -> Counter[ClientOrderId]:
        with self._lock:
            return Counter(self._modifies)

    def events(self) -> list[SeenEvent]:
        with self._lock:
            return list(self._events)

    def fills_seen(self) -> int:
        with self._lock:
            return sum(1 for e in self._events if e.trade_id is not None)

    def wait_for(self, condition: Callable[[ChurnLedger], bool], timeout: float) -> bool:
        """Block until ``condition(self)`` holds (re-checked on every record) or the timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: condition(self), timeout)


# --- the strategy -------------------------------------------------------------------------------

@attrs.frozen(kw_only=True)
class ChurnSettings:
    seed: int
    resting: int = 3
    """Post-only orders kept near the touch per pair."""
    max_live: int = 6
    """No new order on a pair while this many are live or in flight there."""
    act_every_s: float = 0.1
    """One action per pair per this interval."""
    modify_probability: float = 0.15
    taker_probability: float = 0.12


class ChurnStrategy(Strategy):
    """Places and cancels continuously: about `resting` post-only orders a pair near the touch
    (the synthetic takers fill some), cancels the oldest, sometimes modifies one, sometimes
    sends an IOC that crosses the spread. Every cloid it creates, modify it sends and order
    event it receives goes to the ledger."""

    def __init__(self, ctx: ChildContext, *, settings: StrategySettings, ledger: ChurnLedger,
                 churn: ChurnSettings) -> None:
        super().__init__(ctx, settings=settings)
        self.ledger = ledger
        self.churn = churn
        self.rng = random.Random(f"{churn.seed}/{ctx.incarnation}")
        self._books: dict[str, BookSnapshot] = {}
        self._cancelling: set[ClientOrderId] = set()

    def on_strategy_start(self) -> None:
        self.ledger.started(self.incarnation, {p: self.position(p)
                                               for p in self.settings.trading_pairs})
        self.schedule(self.churn.act_every_s, "act")

    def on_book(self, book: BookSnapshot) -> None:
        self._books[book.trading_pair] = book

    def on_timer(self, name: str) -> None:
        # A timer, not the book, paces the strategy: books come at the synthetic market's rate.
        self.schedule(self.churn.act_every_s, "act")
        if self.ledger.trading.is_set():
            for pair in self.settings.trading_pairs:
                book = self._books.get(pair)
                if book is not None:
                    self._act(book)

    def _act(self, book: BookSnapshot) -> None:
        pair = book.trading_pair
        bid, ask, mid = book.best_bid, book.best_ask, book.mid
        if bid is None or ask is None or mid is None or book.is_crossed:
            return
        live = [o for o in self.live_orders(pair)
                if o.client_order_id not in self._cancelling]
        settled = [o for o in live if o.state in SETTLED]
        rng = self.rng
        if len(settled) > self.churn.resting or len(live) >= self.churn.max_live:
            victim = settled[0] if settled else (live[0] if live else None)
            if victim is not None:
                self._cancel(victim)
            return
        roll = rng.random()
        if settled and roll < self.churn.modify_probability:
            self._modify(rng.choice(settled), bid.price, ask.price)
        elif roll < self.churn.modify_probability + self.churn.taker_probability:
            self._take(pair, mid, bid.price, ask.price)
        else:
            self._make(pair, mid, bid.price, ask.price)

    def _amount(self, mid: Decimal) -> Decimal:
        return (NOTIONAL / mid).quantize(Decimal("1e-8"))

    def _make(self, pair: str, mid: Decimal, bid: Decimal, ask: Decimal) -> None:
        side = self.rng.choice((OrderSide.BUY, OrderSide.SELL))
        behind = Decimal(self.rng.randint(0, 4)) * Decimal("0.0001") * mid
        price = bid - behind if side is OrderSide.BUY else ask + behind
        self._place("maker", pair, side, OrderType.LIMIT_MAKER, price, mid, TimeInForce.ALO)

    def _take(self, pair: str, mid: Decimal, bid: Decimal, ask: Decimal) -> None:
        side = self.rng.choice((OrderSide.BUY, OrderSide.SELL))
        price = ask * Decimal("1.002") if side is OrderSide.BUY else bid * Decimal("0.998")
        self._place("taker", pair, side, OrderType.LIMIT, price, mid, TimeInForce.IOC)

    def _place(self, kind: str, pair: str, side: OrderSide, order_type: OrderType,
               price: Decimal, mid: Decimal, tif: TimeInForce) -> None:
        # Recorded right after the send: an injected crash lands between messages, never here.
        cloid = self.submit(trading_pair=pair, side=side, order_type=order_type,
                            amount=self._amount(mid), price=price, time_in_force=tif)
        self.ledger.created(Created(client_order_id=cloid, trading_pair=pair, kind=kind,
                                    incarnation=self.incarnation))

    def _modify(self, order: LiveOrder, bid: Decimal, ask: Decimal) -> None:
        ticks = Decimal(self.rng.randint(0, 4)) * Decimal("0.0001")
        price = bid * (1 - ticks) if order.side is OrderSide.BUY else ask * (1 + ticks)
        self.ledger.modified(order.client_order_id)
        self.modify(order.client_order_id, price=price)

    def _cancel(self, order: LiveOrder) -> None:
        self._cancelling.add(order.client_order_id)
        self.cancel(order.client_order_id)

    def on_order_event(self, event: OrderEvent) -> None:
        self.ledger.saw(event)
        if event.order_state.is_terminal:
            self._cancelling.discard(event.client_order_id)
        elif event.order_state.value in SETTLED:
            # A cancel the venue refused (or one that was lost) leaves the order live again.
            self._cancelling.discard(event.client_order_id)

    def on_command_rejected(self, rejection: CommandRejected) -> None:
        self.ledger.rejected(rejection)
        if rejection.client_order_id is not None:
            self._cancelling.discard(rejection.client_order_id)


def churn_strategy(ledger: ChurnLedger, churn: ChurnSettings,
                   pairs: tuple[str, ...] = PAIRS) -> Callable[[Wiring], ChildSpec]:
    """A `supervision.runtime.tree.StrategyFactory` for `Runtime(config, strategies=...)`."""

    def make(w: Wiring) -> ChildSpec:
        return strategy_spec(STRATEGY_ID, lambda ctx: ChurnStrategy(
            ctx, settings=StrategySettings(strategy_id=STRATEGY_ID, trading_pairs=pairs,
                                           run_id=w.run_id),
            ledger=ledger, churn=churn))

    return make


SIM_TOML = """\
[flow]
steps_per_second = {steps}
taker_probability = {takers}
"""


def runtime_config(data_dir: Path, *, publish: str, sim_seed: int,
                   flow_steps_per_second: float = 6.0,
                   taker_probability: float = 0.6) -> RuntimeConfig:
    """The embedded exchange with a busier synthetic market (more fills against our quotes),
    no demo strategy, and room in the root's intensity for the injected crashes."""
    sim_config = data_dir / "sim.toml"
    sim_config.write_text(SIM_TOML.format(steps=flow_steps_per_second, takers=taker_probability),
                          encoding="utf-8")
    return RuntimeConfig(
        strategy=StrategyConfig(kind="none"), data_dir=data_dir / "var",
        publisher=PublisherSettings(address=publish),
        simulator=SimulatorSettings(seed=sim_seed, config=sim_config), restart_intensity=200,
        restart_period_s=60.0)


@contextmanager
def running(config: RuntimeConfig,
            strategies: tuple[Callable[[Wiring], ChildSpec], ...]) -> Iterator[Runtime]:
    rt = Runtime(config, strategies=strategies)
    try:
        rt.start()
        yield rt
    finally:
        if rt.tree is not None and not rt.tree.terminated:
            rt.tree.stop()
        if rt.sim is not None:
            rt.sim.stop()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the publisher binds it for the whole run, so a
    restarted publisher rebinds the same address and subscribers reconnect by themselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- the ZMQ order-event recorder ---------------------------------------------------------

class EventRecorder:
    """Subscribes to some topic prefixes on the publisher and keeps every message it receives
    (topic, decoded JSON body), in arrival order."""

    def __init__(self, endpoint: str, prefixes: tuple[bytes, ...] = (b"orders.",)) -> None:
        self.endpoint = endpoint
        self.prefixes = prefixes
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context(io_threads=1)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._messages: list[tuple[str, dict[str, Any]]] = []
        self._thread = threading.Thread(target=self._run, name="zmq-recorder", daemon=True)

    def start(self) -> EventRecorder:
        self._thread.start()
        assert self._ready.wait(5.0), "the ZMQ recorder did not start"
        return self

    def _run(self) -> None:
        sock = self._context.socket(zmq.SUB)
        try:
            for prefix in self.prefixes:
                sock.setsockopt(zmq.SUBSCRIBE, prefix)
            sock.setsockopt(zmq.RCVHWM, 0)
            sock.connect(self.endpoint)
            self._ready.set()
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            while not self._stop.is_set():
                if not poller.poll(50):
                    continue
                while True:
                    try:
                        topic, body = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    with self._lock:
                        self._messages.append((topic.decode(), orjson.loads(body)))
        finally:
            sock.close(linger=0)

    def messages(self, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(t, b) for t, b in self._messages if t.startswith(prefix)]

    def bodies(self, prefix: str = "orders.") -> list[dict[str, Any]]:
        return [b for _t, b in self.messages(prefix)]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self._context.term()


# --- what the tracker and the exchange say -------------------------------------------------

@attrs.frozen(kw_only=True)
class VenueOrder:
    oid: int
    cloid: str | None
    coin: str
    status: str
    live: bool
    orig_sz: Decimal
    sz: Decimal
    limit_px: Decimal


@attrs.frozen(kw_only=True)
class VenueFill:
    tid: int
    oid: int
    cloid: str | None
    sz: Decimal
    px: Decimal


@attrs.frozen(kw_only=True)
class VenueState:
    orders: tuple[VenueOrder, ...]
    fills: tuple[VenueFill, ...]
    positions: dict[str, Decimal]
    """Signed position size per trading pair."""


def venue_state(sim: RunningSimulator, user: str = DEMO_ADDRESS) -> VenueState:
    """Every order (history, live flag) and every fill of ``user``, read on the sim's thread."""

    def read(core: SimulatorCore) -> VenueState:
        reg = core.engine.reg
        orders = tuple(
            VenueOrder(oid=o.oid, cloid=o.cloid, coin=o.coin, status=o.status,
                       live=reg.is_live(o), orig_sz=o.orig_sz, sz=o.sz, limit_px=o.limit_px)
            for o in reg.history(user))
        fills = tuple(VenueFill(tid=f.tid, oid=f.oid, cloid=f.cloid, sz=f.sz, px=f.px)
                      for f in reg.fills(user))
        account = core.engine.accounts.get(user)
        positions = {coin_to_trading_pair(c.name): account.szi(c.name) if account else Decimal(0)
                     for c in core.engine.coins}
        return VenueState(orders=orders, fills=fills, positions=positions)

    return sim.call(read)


def freeze_market(sim: RunningSimulator) -> None:
    """Stop the synthetic flow (and its takers), so resting orders stop changing."""
    sim.call(lambda core: core.stop())


def tracked(rt: Runtime, cloids: list[ClientOrderId]) -> dict[ClientOrderId, TrackedOrder | None]:
    assert rt.tree is not None
    tracker = rt.tree.handle("order_tracker")
    futures = {c: tracker.ask_future(GetOrder(client_order_id=c)) for c in cloids}
    return {c: f.get(timeout=ASK_TIMEOUT_S) for c, f in futures.items()}


def open_orders(rt: Runtime) -> tuple[TrackedOrder, ...]:
    assert rt.tree is not None
    result: tuple[TrackedOrder, ...] = rt.tree.handle("order_tracker").ask(
        GetOpenOrders(), timeout=ASK_TIMEOUT_S)
    return result


def unsettled(rt: Runtime) -> list[TrackedOrder]:
    """Open orders the tracker is not sure about yet (in flight or UNKNOWN)."""
    return [o for o in open_orders(rt) if o.state in UNSETTLED_STATES]


def describe(order: TrackedOrder | None) -> str:
    if order is None:
        return "untracked"
    fills = ", ".join(f"{f.trade_id}/{f.exchange_order_id}:{f.amount}" for f in order.fills)
    return (f"{order.client_order_id} {order.trading_pair} {order.side.value} "
            f"{order.order_type.value} {order.state.value} oid={order.exchange_order_id} "
            f"amount={order.amount} filled={order.filled_amount} ext={order.external} "
            f"fills=[{fills}]")


def compare(rt: Runtime, ledger: ChurnLedger) -> list[str]:
    """Every disagreement between the ledger, the tracker and the exchange (empty: none)."""
    assert rt.sim is not None
    created = ledger.orders()
    problems: list[str] = [f"cloid created twice by the strategy: {c}"
                           for c in ledger.duplicate_cloids()]
    venue = venue_state(rt.sim)
    mine = {o.cloid for o in venue.orders}
    ours = tracked(rt, sorted(set(created) | {ClientOrderId(c) for c in mine if c}))
    for cloid in created:
        order = ours[cloid]
        if order is None:
            problems.append(f"lost: the tracker does not know {cloid} ({created[cloid]})")
        elif order.external:
            problems.append(f"adopted as external, so it was lost first: {describe(order)}")
    # The venue: every order is one of ours, and a cloid appears once (a modify replaces the
    # order under the same cloid, so more than one venue order needs that many modifies).
    modifies = ledger.modifies()
    by_cloid: dict[str, list[VenueOrder]] = {}
    for vo in venue.orders:
        if vo.cloid is None:
            problems.append(f"venue order without cloid: {vo}")
            continue
        by_cloid.setdefault(vo.cloid, []).append(vo)
        if ClientOrderId(vo.cloid) not in created:
            problems.append(f"venue order unknown to the strategy: {vo}")
        elif ours.get(ClientOrderId(vo.cloid)) is None:
            problems.append(f"venue order unknown to the tracker: {vo}")
    for text, vos in by_cloid.items():
        placed = [v for v in vos if "Rejected" not in v.status and v.status != "rejected"]
        if len(placed) > 1 + modifies[ClientOrderId(text)]:
            problems.append(f"cloid {text} placed {len(placed)} times at the venue with "
                            f"{modifies[ClientOrderId(text)]} modifies: {vos}")
        if sum(1 for v in vos if v.live) > 1:
            problems.append(f"cloid {text} live twice at the venue: {vos}")
    # Open orders: the tracker's == the exchange's, by cloid and oid.
    tracker_open = {(o.client_order_id, o.exchange_order_id) for o in open_orders(rt)}
    venue_open = {(ClientOrderId(v.cloid), v.oid) for v in venue.orders if v.live and v.cloid}
    for mine_cloid, mine_oid in sorted(tracker_open - venue_open, key=str):
        problems.append(f"open in the tracker, not at the venue (oid {mine_oid}): "
                        f"{describe(ours.get(mine_cloid))}")
    for venue_cloid, venue_oid in sorted(venue_open - tracker_open, key=str):
        problems.append(f"open at the venue (oid {venue_oid}), not in the tracker: "
                        f"{describe(ours.get(venue_cloid))}")
    # Open on both sides: the same price and the same remaining size (modifies included).
    for vo in venue.orders:
        order = ours.get(ClientOrderId(vo.cloid)) if vo.live and vo.cloid else None
        if order is None or order.exchange_order_id != vo.oid:
            continue
        if order.price != vo.limit_px or order.remaining_amount != vo.sz:
            problems.append(f"venue has px {vo.limit_px} remaining {vo.sz}, the tracker "
                            f"px {order.price} remaining {order.remaining_amount}: "
                            f"{describe(order)}")
    # Fills: per order and as a whole, by trade id and order id.
    venue_fills = {(f.tid, f.oid): f for f in venue.fills}
    tracker_fills: dict[tuple[int, int], ClientOrderId] = {}
    for cloid, order in ours.items():
        if order is None:
            continue
        for f in order.fills:
            key = (int(f.trade_id), int(f.exchange_order_id))
            if key in tracker_fills:
                problems.append(f"fill {key} booked twice: {cloid} and {tracker_fills[key]}")
            tracker_fills[key] = cloid
        venue_filled = sum((f.sz for f in venue.fills if f.cloid == cloid), Decimal(0))
        if order.filled_amount != venue_filled:
            problems.append(f"filled {order.filled_amount} in the tracker, {venue_filled} at "
                            f"the venue: {describe(order)}")
        if sum((f.amount for f in order.fills), Decimal(0)) != order.filled_amount:
            problems.append(f"fills do not add up to filled_amount: {describe(order)}")
    for key in sorted(set(venue_fills) - set(tracker_fills)):
        problems.append(f"venue fill missing in the tracker: {venue_fills[key]}")
    for key in sorted(set(tracker_fills) - set(venue_fills)):
        problems.append(f"tracker fill unknown to the venue: {key} on {tracker_fills[key]}")
    return problems


def duplicated_sequences(sequences: list[int]) -> list[int]:
    return sorted(s for s, n in Counter(sequences).items() if n > 1)


def monitor_problems(rt: Runtime) -> list[str]:
    """The monitor's status line (built from the tracker's events alone) against the tracker
    and the exchange: a lost or duplicated event shows up here."""
    assert rt.sim is not None
    status = rt.status()
    if status is None:
        return ["the monitor did not answer"]
    venue = venue_state(rt.sim)
    problems = []
    tracker_open = len(open_orders(rt))
    if status.open_orders != tracker_open:
        problems.append(f"monitor: {status.open_orders} open orders, tracker: {tracker_open}")
    if status.fills != len(venue.fills):
        problems.append(f"monitor: {status.fills} fills, venue: {len(venue.fills)}")
    shown = {p.trading_pair: p.position for p in status.pairs}
    for pair, size in venue.positions.items():
        if shown.get(pair, Decimal(0)) != size:
            problems.append(f"monitor: position {shown.get(pair)} in {pair}, venue: {size}")
    return problems


# --- faults the runtime cannot see (to show the comparison is not vacuous) -----------------------

def place_behind_the_runtimes_back(sim: RunningSimulator, cloid: ClientOrderId,
                                   user: str = DEMO_ADDRESS) -> int:
    """Rest a BTC bid for ``user`` directly in the engine and swallow the events it made, as
    if the runtime had lost an order; returns its oid."""

    def place(core: SimulatorCore) -> int:
        engine = core.engine
        price = (engine.mark("BTC") * Decimal("0.95")).quantize(Decimal(1))
        outcome = engine.place(user, OrderRequest(asset=0, is_buy=True, px=price,
                                                  sz=Decimal("0.001"), cloid=str(cloid)))
        engine.drain_events()
        assert isinstance(outcome, Resting), outcome
        return outcome.oid

    return sim.call(place)


def cancel_behind_the_runtimes_back(sim: RunningSimulator, oid: int, coin: str,
                                    user: str = DEMO_ADDRESS) -> None:
    """Cancel an order in the engine and swallow the update, as if it had been lost."""

    def cancel(core: SimulatorCore) -> None:
        engine = core.engine
        asset = next(i for i, c in enumerate(engine.coins) if c.name == coin)
        assert engine.cancel(user, asset, oid)
        engine.drain_events()

    sim.call(cancel)
