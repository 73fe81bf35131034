"""The runtime's supervision tree (DESIGN §3).

    runtime (one_for_one)
    ├── signer          holds the key, owns the nonce, signs (no network)
    ├── publisher       ZMQ PUB of order events
    ├── monitor         aggregates the status line
    ├── order_tracker   single writer of order state, write-ahead journal
    ├── risk_gate       strategies' commands: normalise, pre-trade risk, halt → tracker
    ├── execution       send signed requests and queries; answers → tracker
    ├── user_stream     orderUpdates / userFills / userEvents → tracker
    ├── market_stream   l2Book / trades / bbo → subscribers
    └── strategies      (one_for_one) user strategies

Peers are wired by path: each actor is given its ``…Peers`` (paths only) and resolves them to
stable handles itself, so a restart of any child is invisible to the rest. Escalation at the
root is handled by the launcher (cancel everything, halt, exit non-zero).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs

from actors import paths
from actors.execution import Execution, ExecutionPeers, ExecutionSettings, ws_url_of
from actors.gating.core import GateConfig
from actors.load_generator import LoadGenerator
from actors.market_maker import MarketMaker, MarketMakerSettings
from actors.market_stream import MarketStream, MarketStreamPeers
from actors.monitor import Monitor, MonitorPeers, MonitorSettings
from actors.order_tracker import OrderTracker, OrderTrackerSettings, TrackerPeers
from actors.publisher import Publisher
from actors.risk_gate import RiskGate, RiskGatePeers, RiskGateSettings
from actors.signer import Signer, SignerPeers, SignerSettings
from actors.strategy import StrategyPeers, StrategySettings
from actors.streaming.common import market_data_key
from actors.streaming.link import LinkConfig
from actors.streaming.market import MarketStreamConfig, SubscriptionStore
from actors.streaming.user import UserStreamConfig
from actors.user_stream import UserStream, UserStreamPeers
from runtime.config import ConfigError, RuntimeConfig, load_settings
from supervision.actor import SupervisedActor
from supervision.policy import Backoff, Overflow, Strategy
from supervision.spec import ChildContext, ChildSpec, SupervisorSpec
from venues.hyperliquid.keys import SecretKey
from venues.hyperliquid.markets import MarketRegistry

EVENTS = "events"
"""The order tracker's durable event log under the data dir, read by the publisher's replay."""
FIVE = (paths.MARKET_STREAM, paths.USER_STREAM, paths.ORDER_TRACKER, paths.SIGNER, paths.PUBLISHER)
"""The five actors of the mission (``--chaos-kill-every`` picks among them)."""


@attrs.frozen(kw_only=True)
class Wiring:
    """What the launcher resolved before building the tree."""

    config: RuntimeConfig
    base_url: str
    is_mainnet: bool
    key: SecretKey = attrs.field(repr=False)
    account: str
    """The account whose orders, fills and positions these are (queries, subscriptions): the
    vault / sub-account when one is configured, else the master (the key's, or the one whose
    agent the key is). Lower-case."""
    markets: MarketRegistry = attrs.field(repr=False)
    run_id: str
    data_dir: Path
    vault: str | None = None
    """``vaultAddress`` of every L1 action (= ``account``) when trading for a vault /
    sub-account."""


def strategy_path(strategy_id: str) -> str | None:
    """Where the strategy with this id runs (None for commands no strategy sent)."""
    return paths.strategy(strategy_id) if strategy_id else None


EVENT_SINKS = (paths.PUBLISHER, paths.MONITOR)
"""Who hears the order events and the streams' feed events: the publisher (ZMQ) and the monitor
(the status line)."""


StrategyFactory = Callable[[Wiring], ChildSpec]
"""Builds one strategy child (id = strategy id) once the runtime is wired; see
`strategy_spec` for the usual mailbox settings."""


def strategy_spec(strategy_id: str, factory: Callable[[ChildContext], SupervisedActor]) -> (
    ChildSpec
):
    """A strategy child with a market-data mailbox (latest book/bbo per pair wins)."""
    return ChildSpec(id=strategy_id, overflow=Overflow.LATEST_WINS, key=market_data_key,
                     mailbox_limit=None, factory=factory)


def build_spec(w: Wiring, extra_strategies: tuple[StrategyFactory, ...] = ()) -> SupervisorSpec:
    cfg = w.config
    pairs = (cfg.strategy.trading_pair,) if cfg.strategy.kind != "none" else ()
    ws_url = ws_url_of(w.base_url)
    exchange_backoff = Backoff(min_s=0.5, max_s=15.0, random_factor=0.2)
    link = LinkConfig(url=ws_url, backoff=Backoff(min_s=0.25, max_s=10.0),
                      max_frame_bytes=cfg.venue.max_frame_bytes)
    subscriptions = SubscriptionStore()
    try:
        cfg.publisher.replay_endpoint  # noqa: B018 - derivable, or the user must set it
    except ValueError as exc:
        raise ConfigError(f"[publisher] {exc}") from None
    pacing = cfg.execution.pacing
    strategy_peers = StrategyPeers(gate=paths.RISK_GATE, execution=paths.EXECUTION,
                                   market_stream=paths.MARKET_STREAM,
                                   tracker=paths.ORDER_TRACKER)

    signer = ChildSpec(
        id=paths.SIGNER,
        factory=lambda ctx: Signer(
            ctx,
            settings=SignerSettings(
                key=w.key, is_mainnet=w.is_mainnet, markets=w.markets,
                nonce_path=w.data_dir / "signer" / "nonce", vault_address=w.vault,
                config=cfg.signer, ip_weight_per_minute=pacing.ip_weight_per_minute),
            peers=SignerPeers(execution=paths.EXECUTION, tracker=paths.ORDER_TRACKER,
                              gate=paths.RISK_GATE)),
    )
    publisher = ChildSpec(
        id=paths.PUBLISHER,
        # The configured publisher, plus what only the launcher knows: where the event log is.
        factory=lambda ctx: Publisher(ctx, config=attrs.evolve(
            cfg.publisher, runtime_events=True, event_log_dir=w.data_dir / EVENTS)),
    )
    monitor = ChildSpec(
        id=paths.MONITOR, overflow=Overflow.LATEST_WINS, key=market_data_key,
        factory=lambda ctx: Monitor(
            ctx, settings=MonitorSettings(trading_pairs=pairs),
            peers=MonitorPeers(market_stream=paths.MARKET_STREAM, tracker=paths.ORDER_TRACKER,
                               execution=paths.EXECUTION)),
    )
    tracker = ChildSpec(
        id=paths.ORDER_TRACKER,
        # Recovery (snapshot + journal tail) takes well under a second for the orders the
        # tracker keeps in memory, but a loaded machine can stretch it: a start abandoned at
        # 10 s keeps running in its thread and slows the next attempt (a soak saw 17 s, 34 s).
        start_timeout=60.0,
        factory=lambda ctx: OrderTracker(
            ctx,
            settings=OrderTrackerSettings(
                journal_dir=w.data_dir / "order_tracker",
                tracker=cfg.tracker,
                event_log_dir=w.data_dir / EVENTS),
            peers=TrackerPeers(signer=paths.SIGNER, execution=paths.EXECUTION,
                               event_sinks=EVENT_SINKS, diagnostic_sinks=(paths.MONITOR,),
                               strategy_path=strategy_path)),
    )
    gate = ChildSpec(
        id=paths.RISK_GATE,
        factory=lambda ctx: RiskGate(
            ctx,
            settings=RiskGateSettings(
                # The configured checks, and the rate the budget pays for actions (derived).
                config=GateConfig(risk=cfg.risk, pressure=attrs.evolve(
                    cfg.backpressure,
                    actions_per_s=pacing.ip_weight_per_minute * pacing.action_share / 60,
                    action_burst=pacing.action_burst)),
                markets=w.markets, quote_pairs=pairs),
            peers=RiskGatePeers(tracker=paths.ORDER_TRACKER, market_stream=paths.MARKET_STREAM,
                                event_sinks=(paths.MONITOR,), strategy_path=strategy_path)),
    )
    execution = ChildSpec(
        id=paths.EXECUTION, backoff=exchange_backoff,
        factory=lambda ctx: Execution(
            ctx,
            settings=ExecutionSettings(
                base_url=w.base_url, account=w.account, config=cfg.execution,
                max_frame_bytes=cfg.venue.max_frame_bytes),
            # RateLimitReported: the monitor shows it, the gate keeps the address's budget.
            peers=ExecutionPeers(tracker=paths.ORDER_TRACKER, signer=paths.SIGNER,
                                 event_sinks=(paths.MONITOR, paths.RISK_GATE))),
    )
    user_stream = ChildSpec(
        id=paths.USER_STREAM, backoff=exchange_backoff,
        factory=lambda ctx: UserStream(
            ctx,
            config=UserStreamConfig(
                link=link, account_address=w.account,
                agent_address=w.key.address if w.key.address != w.account.lower() else None),
            peers=UserStreamPeers(tracker=paths.ORDER_TRACKER, event_sinks=EVENT_SINKS)),
    )
    market_stream = ChildSpec(
        id=paths.MARKET_STREAM, backoff=exchange_backoff,
        # Subscribers (the gate, the monitor, strategies) subscribe under their own path.
        factory=lambda ctx: MarketStream(
            ctx, config=MarketStreamConfig(link=link), subscriptions=subscriptions,
            peers=MarketStreamPeers(event_sinks=EVENT_SINKS)),
    )
    strategies: list[ChildSpec] = [make(w) for make in extra_strategies]
    if cfg.strategy.kind == "market_maker":
        sc = cfg.strategy
        strategies.append(strategy_spec(
            sc.id,
            lambda ctx: MarketMaker(
                ctx,
                settings=StrategySettings(strategy_id=sc.id, trading_pairs=(sc.trading_pair,),
                                          run_id=w.run_id),
                maker=MarketMakerSettings(
                    trading_pair=sc.trading_pair, edge_bps=sc.edge_bps,
                    requote_bps=sc.requote_bps, quote_notional=sc.quote_notional,
                    max_position_notional=sc.max_position_notional),
                peers=strategy_peers),
        ))
    elif cfg.strategy.kind == "load":
        sc, load = cfg.strategy, load_settings(cfg)
        strategies.append(strategy_spec(
            sc.id,
            lambda ctx: LoadGenerator(
                ctx, settings=StrategySettings(strategy_id=sc.id, trading_pairs=(sc.trading_pair,),
                                               run_id=w.run_id),
                load=load, peers=strategy_peers),
        ))
    return SupervisorSpec(
        id="runtime", strategy=Strategy.ONE_FOR_ONE, intensity=cfg.restart_intensity,
        period=cfg.restart_period_s,
        children=(
            signer, publisher, monitor, tracker, gate, execution, user_stream, market_stream,
            SupervisorSpec(id=paths.STRATEGIES, strategy=Strategy.ONE_FOR_ONE, intensity=5,
                           period=30, children=tuple(strategies)),
        ),
    )
