"""The order tracker actor: the single writer of order state.

Accepts:
  from execution — SubmitOrder (normalised), OrderDenied, RequestSent, RequestFailed, CancelOrder,
  CancelAll, ModifyOrder; from the venue side (execution, user stream) — SubmitAnswered,
  CancelAnswered, ModifyAnswered, OrderStatusReported, OrderNotFoundReported, FillReported,
  FillsReported, OpenOrdersReported, NonUserCancelReported, NonceInvalidated, ReconcileAll;
  from a new signer incarnation — SignerBacklog (``started``: the PENDING_CANCEL orders'
  cancels are sent again, a crashed signer may have held them unsigned); its own TrackerTick;
  asks GetOrder / GetOpenOrders / GetOrderFills (answered with TrackedOrder values);
  SendOpenOrders (answered by telling the requester an OpenOrdersSnapshot — no blocking ask).
Emits:
  every order event (one per lifecycle transition, docs/order-lifecycle.md) to the event sinks
  (publisher…) and to the strategy that owns the order — those of an input that sent a request
  to the signer are held until the next input, so the order reaches the wire before the
  subscribers wake (docs/architecture.md); every event is appended to the durable event log
  (``event_log_dir``) before anyone is told of it, so the publisher can replay what a
  subscriber missed (docs/events.md); CommandRejected / FillUnmatched to the
  diagnostic sinks and the owning strategy;
  SignOrders / SignCancels / SignModifies to the signer; ReconcileRequested to execution.
Peers:
  `TrackerPeers` — the paths of the signer, execution, the event sinks and the diagnostic
  sinks, resolved to stable handles at start; a strategy's path (``strategy_path``) is looked
  up once, the first time one of its orders has something to tell it.
Fails:
  an input is journaled before it is applied; a handler that raises leaves state and journal
  untouched and crashes the incarnation (the input becomes a dead letter). The next incarnation
  recovers snapshot + journal in ``on_started`` without publishing anything twice — except the
  events the journal proves were computed but the event log never received (a crash between
  the two): those it rebuilds, logs and delivers, so every event is logged and delivered
  exactly once — then reconciles with the venue. A journal (or event log) that cannot be
  opened or written fails the start (the supervisor retries and escalates); a replaced
  incarnation cannot append to either (both are fenced).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from actors import paths
from actors.order_tracking.config import TrackerConfig
from actors.order_tracking.core import OrderTrackerCore, Outcome
from messages import codec
from messages.orders import OrderEvent
from messages.signing import SignCancels, SignModifies, SignOrders
from messages.tracking import (
    CommandRejected,
    FillUnmatched,
    GetOpenOrders,
    GetOrder,
    GetOrderFills,
    OpenOrdersSnapshot,
    ReconcileRequested,
    SendOpenOrders,
    TrackerRecovered,
    TrackerTick,
)
from supervision.actor import SupervisedActor
from supervision.eventlog import EventLog
from supervision.handle import Handle
from supervision.journal import Durability, Journal
from supervision.spec import ChildContext

log = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class OrderTrackerSettings:
    journal_dir: Path
    tracker: TrackerConfig = attrs.field(factory=TrackerConfig)
    durability: Durability = Durability.PAGE_CACHE
    tick_s: float = 0.25
    snapshot_every: int = 3_000
    """Write a snapshot (and compact the journal) after this many journaled inputs; bounds the
    replay after a crash (scripts/bench tracker: 10k open orders + 3k records < 0.1 s)."""
    event_log_dir: Path | None = None
    """The durable log of every order event (supervision.eventlog), which the publisher's replay
    server reads; None: no log (no replay for subscribers)."""


@attrs.frozen(kw_only=True)
class TrackerPeers:
    """Paths of the actors the tracker talks to, resolved to stable handles at start (the
    strategy that owns an order only the first time there is something to tell it, since
    strategies come and go)."""

    signer: str = paths.SIGNER
    """Receives SignOrders / SignCancels / SignModifies."""
    execution: str = paths.EXECUTION
    """Receives ReconcileRequested."""
    event_sinks: tuple[str, ...] = ()
    """Receive every order event (publisher, monitor…)."""
    diagnostic_sinks: tuple[str, ...] = ()
    """Receive CommandRejected and FillUnmatched (besides the owning strategy)."""
    strategy_path: Callable[[str], str | None] = lambda strategy_id: None
    """Where the strategy with this id lives in the tree (None: nobody to tell)."""


class OrderTracker(SupervisedActor):
    def __init__(self, ctx: ChildContext, *, settings: OrderTrackerSettings,
                 peers: TrackerPeers = TrackerPeers()) -> None:
        super().__init__(ctx)
        self.settings = settings
        self.peers = peers
        self.core: OrderTrackerCore | None = None
        self.journal: Journal | None = None
        self._signer: Handle | None = None
        self._execution: Handle | None = None
        self._sinks: tuple[Handle, ...] = ()
        self._diagnostics: tuple[Handle, ...] = ()
        self._strategies: dict[str, Handle | None] = {}
        self._since_snapshot = 0
        self._held: list[object] = []
        """Events of the last input that sent requests to the signer (see `_route`)."""
        self.events_log: EventLog | None = None

    def on_started(self) -> None:
        lookup = self.ctx.lookup
        self._signer = lookup(self.peers.signer)
        self._execution = lookup(self.peers.execution)
        self._sinks = tuple(lookup(p) for p in self.peers.event_sinks)
        self._diagnostics = tuple(lookup(p) for p in self.peers.diagnostic_sinks)
        started = time.perf_counter()
        journal = Journal.open(self.settings.journal_dir, fence=self.fence,
                               durability=self.settings.durability, clock=self.clock,
                               timers=self.timers)
        self.journal = journal
        recovery = journal.recover()
        logged: int | None = None
        if self.settings.event_log_dir is not None:
            self.events_log = EventLog.open(self.settings.event_log_dir, fence=self.fence.check)
            logged = self.events_log.last_sequence
        core = OrderTrackerCore(self.settings.tracker, journal)
        replayed = core.restore(recovery.snapshot, (payload for _, payload in recovery.records),
                                reemit_after=logged)
        self.core = core
        log.info("%s: recovered %d orders (%d journal records replayed, %d torn bytes dropped) "
                 "in %.1f ms", self.child_id, len(core.orders), replayed,
                 recovery.truncated_bytes, (time.perf_counter() - started) * 1e3)
        if logged is not None and logged > core.sequence:
            # The log holds events the journal no longer has (a journal tail lost to a power
            # cut): never reuse their numbers. Reconciliation rebuilds what the journal lost.
            log.error("%s: the event log reaches event %d but the journal only %d; numbering "
                      "continues after the log", self.child_id, logged, core.sequence)
            core.sequence = logged
        if core.recovered_events:
            log.warning("%s: %d order events (%d..%d) were computed before the crash but never "
                        "logged: logging and delivering them now", self.child_id,
                        len(core.recovered_events), core.recovered_events[0].sequence,
                        core.recovered_events[-1].sequence)
            self._deliver(core.recovered_events)
            core.recovered_events = []
        now = self.clock.time_ns()
        self._route(core.handle(TrackerRecovered(ts_init=now), now))
        if replayed >= self.settings.snapshot_every // 2:
            # A long replay is paid once: the next incarnation (a crash loop while recovering
            # makes the journal grow with every attempt) starts from here.
            self._snapshot()
        self._schedule_tick()

    def handle(self, message: object) -> object:
        core = self.core
        assert core is not None
        if self._held:
            self._release()
        if isinstance(message, GetOrder):
            return core.get(message.client_order_id)
        if isinstance(message, GetOpenOrders):
            return core.open_orders(message.trading_pair, message.strategy_id)
        if isinstance(message, GetOrderFills):
            return core.fills(message.client_order_id)
        if isinstance(message, SendOpenOrders):
            self.ctx.lookup(message.reply_to).tell(OpenOrdersSnapshot(
                orders=core.open_orders(strategy_id=message.strategy_id),
                ts_init=self.clock.time_ns()))
            return None
        if isinstance(message, TrackerTick):
            self._schedule_tick()
        now = self.clock.time_ns()
        before = core.journaled
        self._route(core.handle(message, now))
        self._since_snapshot += core.journaled - before
        if self._since_snapshot >= self.settings.snapshot_every:
            self._snapshot()
        return None

    def on_stopping(self) -> None:
        if self._held and self.fence.is_current:
            self._release()
        # A replaced incarnation keeps what it held: it can no longer log it, and what was
        # never logged is rebuilt and delivered by its successor (see `on_started`).
        journal, events_log = self.journal, self.events_log
        try:
            if journal is not None and self.core is not None and self.fence.is_current:
                self._snapshot()
        finally:
            if journal is not None:
                journal.close()
                self.journal = None
            if events_log is not None:
                events_log.close()
                self.events_log = None

    # --- internals ---------------------------------------------------------------------------
    def _schedule_tick(self) -> None:
        clock = self.clock
        self.tell_later(self.settings.tick_s, lambda: TrackerTick(ts_init=clock.time_ns()))

    def _snapshot(self) -> None:
        journal, core = self.journal, self.core
        assert journal is not None
        assert core is not None
        if journal.last_seq == journal.snapshot_seq:
            return  # nothing journaled since the last snapshot
        if self._held:
            # Events older than a snapshot cannot be rebuilt from the journal: log them first.
            self._release()
        journal.sync()
        journal.write_snapshot(core.snapshot(), journal.last_seq)
        journal.compact()
        self._since_snapshot = 0

    def _strategy(self, strategy_id: str) -> Handle | None:
        """The handle of the strategy that owns an order, or None (orders sent by an operator or
        a strategy id the tree does not run are still tracked and published, not routed)."""
        if strategy_id not in self._strategies:
            path = self.peers.strategy_path(strategy_id) if strategy_id else None
            handle = None
            if path is not None:
                try:
                    handle = self.ctx.lookup(path)
                except KeyError:
                    log.warning("%s: no strategy %r in the tree; its order events are only "
                                "published", self.child_id, strategy_id)
            self._strategies[strategy_id] = handle
        return self._strategies[strategy_id]

    def _route(self, out: Outcome) -> None:
        signer, execution = self._signer, self._execution
        assert signer is not None
        assert execution is not None
        signing = False
        for message in out.outbox:
            if isinstance(message, SignOrders | SignCancels | SignModifies):
                signer.tell(message)
                signing = True
            elif isinstance(message, ReconcileRequested):
                execution.tell(message)
            elif isinstance(message, CommandRejected | FillUnmatched):
                for sink in self._diagnostics:
                    sink.tell(message)
                if isinstance(message, CommandRejected):
                    owner = self._strategy(message.strategy_id)
                    if owner is not None:
                        owner.tell(message)
            else:
                raise TypeError(f"no route for {type(message).__name__}")
        if signing:
            # Hold the events until the next input (execution's RequestSent, ~0.1-1 ms later;
            # the next tick at the latest): on a busy core every subscriber woken now would run
            # between the signer and the wire. Nothing is lost by waiting: the input is
            # journaled and applied, and `handle`/`on_stopping` release held events first.
            self._held.extend(out.events)
            return
        self._deliver(out.events)

    def _release(self) -> None:
        held, self._held = self._held, []
        self._deliver(held)

    def _deliver(self, events: Sequence[object]) -> None:
        events_log = self.events_log
        if events_log is not None and events:
            # Logged before anyone hears of them: a subscriber that misses an event can always
            # get it back from the log, and a crash before this line is repaired on recovery.
            last = events_log.last_sequence
            records = [(e.sequence, codec.encode(e)) for e in events
                       if isinstance(e, OrderEvent) and e.sequence > last]
            if records:
                events_log.append_many(records)
        for event in events:
            for sink in self._sinks:
                sink.tell(event)
            if isinstance(event, OrderEvent):
                owner = self._strategy(event.strategy_id)
                if owner is not None:
                    owner.tell(event)
