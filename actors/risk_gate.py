"""The risk gate actor: the strategies' commands pass here before the order tracker sees them.

Accepts: SubmitOrder, CancelOrder, CancelAll, ModifyOrder (strategies, operators);
  SetTradingState (halt / resume: the launcher's stop, an operator); BestBidOffer /
  BookSnapshot (market stream: market-order reference prices); SignerBacklog (signer: drives
  back-pressure); RateLimitReported (execution: the address's request budget);
  OpenOrdersSnapshot (the tracker's answer to the SendOpenOrders told at start: the open
  orders' pair and side, so a modify of one is normalised like any other).
Emits: normalised SubmitOrder, OrderDenied, CancelOrder / CancelAll and normalised ModifyOrder
  to the order tracker; CommandRejected (a refused modify) to its strategy and the event sinks;
  SendOpenOrders to the tracker and SubscribeMarket (bbo of ``quote_pairs``) to the market
  stream at start. The order path is one-way: strategy → gate → tracker → signer → execution.
Peers: `RiskGatePeers` — the paths of the tracker, the market stream and the event sinks,
  resolved to stable handles at start; a strategy's path (``strategy_path``) is looked up when
  one of its commands is refused.
Logic: `actors.gating.core.GateCore` (normalisation and pre-trade risk in
  `actors.gating.normalize`, back-pressure in `actors.gating.pressure`).
Fails: no I/O of its own. A crash loses the per-strategy submit-rate buckets, the backlog
  report (until the signer's next one) and which orders it admitted (re-learnt from the
  tracker's open orders at start; a modify arriving before that waits, bounded). Nothing
  tracked is lost: commands it had passed on are the tracker's, and one it raised on is
  dead-lettered and bounced back to its strategy as a rejection (`runtime.dead_letters`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs

from actors import paths
from actors.gating.core import GateConfig, GateCore, GatePorts
from actors.gating.normalize import Normalizer, Quotes
from messages.account import RateLimitReported
from messages.commands import CancelAll, CancelOrder, ModifyOrder, SubmitOrder, SubscribeMarket
from messages.enums import MarketChannel
from messages.gate import SetTradingState, SignerBacklog
from messages.market import BestBidOffer, BookSnapshot
from messages.tracking import OpenOrdersSnapshot, SendOpenOrders
from supervision.actor import SupervisedActor
from supervision.handle import Handle
from supervision.spec import ChildContext
from venues.hyperliquid.markets import MarketRegistry

log = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class RiskGateSettings:
    config: GateConfig = attrs.field(factory=GateConfig)
    markets: MarketRegistry = attrs.field(repr=False)
    quote_pairs: tuple[str, ...] = ()
    """Pairs whose best bid/offer the gate follows for market-order reference prices."""


@attrs.frozen(kw_only=True)
class RiskGatePeers:
    """Paths of the actors the gate talks to (resolved to stable handles at start; a
    strategy's when one of its commands is refused, since strategies come and go)."""

    tracker: str = paths.ORDER_TRACKER
    """Receives the commands that pass, and the orders denied."""
    market_stream: str | None = paths.MARKET_STREAM
    """Asked for the best bid/offer of ``quote_pairs`` (None: no market stream in this tree)."""
    event_sinks: tuple[str, ...] = ()
    """Receive CommandRejected (the monitor)."""
    strategy_path: Callable[[str], str | None] = lambda strategy_id: None
    """Where the strategy with this id lives in the tree (its refused commands go there)."""


class RiskGate(SupervisedActor):
    def __init__(self, ctx: ChildContext, *, settings: RiskGateSettings,
                 peers: RiskGatePeers = RiskGatePeers()) -> None:
        super().__init__(ctx)
        self.settings = settings
        self.peers = peers
        self.core: GateCore | None = None
        self._sinks: tuple[Handle, ...] = ()

    def on_started(self) -> None:
        s, peers = self.settings, self.peers
        lookup = self.ctx.lookup
        tracker = lookup(peers.tracker)
        self._sinks = tuple(lookup(p) for p in peers.event_sinks)

        def to_strategy(strategy_id: str, message: object) -> None:
            path = peers.strategy_path(strategy_id)
            if path is None:
                return
            try:
                lookup(path).tell(message)
            except KeyError:
                log.warning("%s: no strategy at %r to tell", self.child_id, path)

        clock = self.clock
        self.core = GateCore(
            s.config, Normalizer(s.markets, Quotes(), s.config.risk, clock.time_ns),
            GatePorts(tracker=tracker.tell, events=self._emit, strategy=to_strategy),
            clock.time_ns, clock.monotonic_ns)
        # Which orders are open, for modifies of orders this incarnation never saw submitted.
        tracker.tell(SendOpenOrders(strategy_id=None, reply_to=self.child_id))
        if peers.market_stream is not None:
            stream = lookup(peers.market_stream)
            for pair in s.quote_pairs:
                stream.tell(SubscribeMarket(trading_pair=pair, channels=(MarketChannel.BBO,),
                                            subscriber_id=self.child_id))

    def handle(self, message: object) -> None:
        core = self.core
        assert core is not None
        if isinstance(message, SubmitOrder):
            core.submit(message)
        elif isinstance(message, CancelOrder | CancelAll):
            core.cancel(message)
        elif isinstance(message, ModifyOrder):
            core.modify(message)
        elif isinstance(message, BestBidOffer | BookSnapshot):
            core.quote(message)
        elif isinstance(message, SignerBacklog):
            core.signer_backlog(message)
        elif isinstance(message, RateLimitReported):
            core.rate_limit(message)
        elif isinstance(message, OpenOrdersSnapshot):
            core.open_orders_known(message)
        elif isinstance(message, SetTradingState):
            core.set_trading_state(message)
        else:
            raise TypeError(f"the risk gate does not handle {type(message).__name__}")

    def _emit(self, event: object) -> None:
        for sink in self._sinks:
            sink.tell(event)
