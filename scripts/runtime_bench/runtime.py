"""1 + 2: the runtime with the benchmark strategy against the local exchange, and the reference
cost of a WS post send measured in this process before the runtime starts."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actors.strategy import StrategySettings
from messages.enums import MarketChannel, RequestKind
from runtime.keepalive import CpuKeepAlive
from supervision.spec import ChildSpec

from .common import FAR, KEY_ENV, PAIR, SIZE, Options, mono
from .probes import Probes
from .strategy import BenchState, BenchStrategy, Control


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def run_runtime(url: str, opts: Options, workdir: Path) -> dict[str, Any]:
    from actors.gating.normalize import RiskConfig
    from actors.publishing.core import PublisherConfig
    from actors.signing.config import SignerConfig
    from messages.streams import GetStreamStats
    from runtime.config import (
        AccountConfig,
        RuntimeConfig,
        StrategyConfig,
        VenueConfig,
    )
    from runtime.launch import Runtime
    from runtime.wiring import Wiring, strategy_spec
    from venues.simulator import DEMO_PRIVATE_KEY

    os.environ[KEY_ENV] = DEMO_PRIVATE_KEY  # the simulator's PUBLIC throwaway key
    probes = Probes()
    state = BenchState(probes=probes)

    def bench_strategy(w: Wiring) -> ChildSpec:
        settings = StrategySettings(strategy_id="bench", trading_pairs=(PAIR,), run_id=w.run_id,
                                    channels=(MarketChannel.BOOK,))
        return strategy_spec("bench", lambda ctx: BenchStrategy(ctx, settings=settings,
                                                                 state=state))

    config = RuntimeConfig(
        venue=VenueConfig(network="testnet", url=url),
        account=AccountConfig(key_env=KEY_ENV),
        publisher=PublisherConfig(address="tcp://127.0.0.1:0"),
        # The strategy-side submit throttle (50/s by default) is a risk setting, not the path.
        risk=RiskConfig(max_submits_per_s=1e9),
        strategy=StrategyConfig(kind="none"),
        # The path, not the pacing policy: the signer's coalescing delay is off (a lone order
        # is signed at once), as a latency-first desk configures it; the soak measures pacing.
        signer=SignerConfig(linger_s=0.0),
        data_dir=workdir / "var",
    )
    res: dict[str, Any] = {}
    probes.install()
    runtime = Runtime(config, strategies=(bench_strategy,))
    try:
        runtime.start()
        tree = runtime.tree
        assert tree is not None
        me = tree.handle("strategies/bench")
        wait_until(lambda: state.last_book is not None, 15, "the first book")

        # 1: latency — the headline runs without stage stamps: the CPU left to idle between
        # frames (A), then kept warm (B); then a shorter run with the stage stamps (S).
        probes.phase = "latency"
        queued0 = probes.exec_core.stats["queued"] if probes.exec_core is not None else 0
        phases: list[tuple[str, CpuKeepAlive | None, bool, float]] = [
            ("idle", None, False, opts.latency_s)]
        if opts.keep_warm:
            phases.append(("warm", CpuKeepAlive(os.sched_getaffinity(0)), False, opts.latency_s))
        if opts.stages:
            phases.append(("stages", None, True, opts.latency_s / 2))
        for name, helper, stages, seconds in phases:
            state.latency = {}
            if stages:
                probes.install_stages()
            if helper is not None:
                helper.start()
            try:
                me.tell(Control(kind="latency", interval_s=opts.latency_interval_ms / 1e3))
                time.sleep(seconds)
                me.tell(Control(kind="idle"))
                wait_until(lambda: state.pending is None, 5, "the last latency order's answer")
            finally:
                if helper is not None:
                    helper.stop()
                if stages:
                    probes.uninstall_stages()
            res[f"latency_{name}"] = state.latency
        res["latency_queued"] = probes.exec_core.stats["queued"] - queued0
        res["latency_batching"] = probes.batching("latency", RequestKind.SUBMIT)
        res["latency_cancel_batching"] = probes.batching("latency", RequestKind.CANCEL)
        # The venue's default cap is 1000 open orders: start the burst from none.
        wait_until(lambda: runtime.open_orders() == 0, 10, "the latency orders' cancels")

        # 2a: burst (real budgets)
        probes.phase = "burst"
        state.done.clear()
        me.tell(Control(kind="burst", n=opts.burst))
        state.done.wait(60)
        res["burst_done"] = state.done.is_set()
        res["burst_batching"] = probes.batching("burst", RequestKind.SUBMIT)
        res["burst_cancel_batching"] = probes.batching("burst", RequestKind.CANCEL)

        # 2b: sustained (client-side budgets lifted)
        probes.phase = "sustained"
        probes.lift_budgets = True
        state.done.clear()
        me.tell(Control(kind="sustained", n=opts.window, duration_s=opts.sustained_s))
        state.done.wait(opts.sustained_s + 30)
        res["sustained_done"] = state.done.is_set()
        res["sustained_batching"] = probes.batching("sustained", RequestKind.SUBMIT)
        res["sustained_cancel_batching"] = probes.batching("sustained", RequestKind.CANCEL)
        me.tell(Control(kind="idle"))
        time.sleep(0.5)
        res["stream_stats"] = tree.handle("market_stream").ask(GetStreamStats(), timeout=5)
        res["exec_stats"] = dict(probes.exec_core.stats)
        res["counters"] = {p: c for p, c in tree.all_counters().items()
                           if c.restarts or c.failures or c.dead_letters}
        res["open_before_stop"] = runtime.open_orders()
    finally:
        res["left_open"] = runtime.stop(cancel=True)
        probes.uninstall()
        os.environ.pop(KEY_ENV, None)
    from venues.hyperliquid.bootstrap import InfoClient
    from venues.simulator import DEMO_ADDRESS

    # What the venue itself still holds after cancel-on-exit (the tracker's count is its view).
    res["venue_open_after_stop"] = len(InfoClient(url).post(
        "/info", {"type": "openOrders", "user": DEMO_ADDRESS}))
    res["state"] = state
    res["probes"] = probes
    return res


def post_reference(url: str, n: int = 200) -> list[int]:
    """What ``WsPostTransport.post`` costs in this process while nothing else runs (the
    runtime is not started yet): a small ``info`` post to the local exchange every 3 ms."""
    from actors.execution import ws_url_of
    from venues.hyperliquid.transport import WsPostTransport

    answers: list[object] = []
    transport = WsPostTransport(ws_url_of(url), answers.append, time.time_ns, timeout_s=5)
    transport.connect()
    costs = []
    try:
        for i in range(n):
            t0 = mono()
            transport.post(i + 1, "info", b'{"type":"allMids"}')
            costs.append(mono() - t0)
            time.sleep(0.003)
    finally:
        transport.close()
    return costs[10:]


def path_reference(workdir: Path, n: int = 200) -> dict[str, list[int]]:
    """The order path's own work, one thread, no actors: normalise and risk-check a
    SubmitOrder, track it (journal write included) and sign it — timed back to back ("hot")
    and after 25 ms of idle each time ("cold", as in the latency run, where orders are 25 ms
    apart), plus a 300-iteration integer loop measured the same two ways: the loop shows how
    much slower the CPU itself runs right after idling, the path adds its code and data
    fetched back into the cache."""
    from decimal import Decimal

    from actors.gating.normalize import Normalizer, Quotes, RiskConfig
    from actors.order_tracking.config import TrackerConfig
    from actors.order_tracking.core import OrderTrackerCore
    from actors.signing.core import SignerCore
    from actors.signing.nonce import NonceSource
    from messages.commands import SubmitOrder
    from messages.enums import OrderSide, OrderType, TimeInForce
    from messages.ids import ClientOrderId
    from messages.signing import SignOrders
    from supervision.journal import Journal
    from venues.hyperliquid.markets import Market, MarketRegistry
    from venues.hyperliquid.signing import L1Signer
    from venues.simulator import DEMO_PRIVATE_KEY

    markets = MarketRegistry([Market(trading_pair=PAIR, coin="BTC", asset=0, sz_decimals=5,
                                     max_leverage=50)])
    normalizer = Normalizer(markets, Quotes(), RiskConfig(max_submits_per_s=1e9), time.time_ns)
    journal = Journal.open(workdir / "reference-journal")
    journal.recover()
    tracker = OrderTrackerCore(TrackerConfig(), journal)
    tracker.restore(None, ())
    signer = SignerCore(L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False), markets,
                        NonceSource(lambda: time.time_ns() // 1_000_000), time.time_ns)
    counter = [0]

    def path() -> None:
        counter[0] += 1
        order = SubmitOrder(client_order_id=ClientOrderId.derive("reference", counter[0]),
                            trading_pair=PAIR, side=OrderSide.BUY,
                            order_type=OrderType.LIMIT_MAKER, time_in_force=TimeInForce.ALO,
                            amount=SIZE, price=Decimal("61750.5") * FAR, strategy_id="ref")
        normalised = normalizer.submit(order)
        assert isinstance(normalised, SubmitOrder)
        for message in tracker.handle(normalised, time.time_ns()).outbox:
            if isinstance(message, SignOrders):
                signer.add(message)
        signer.flush()

    def loop() -> None:
        x = 0
        for i in range(300):
            x += i

    out: dict[str, list[int]] = {}
    try:
        for name, fn in (("path", path), ("loop", loop)):
            for _ in range(50):
                fn()
            for mode, gap in (("hot", 0.0), ("cold", 0.025)):
                costs = out.setdefault(f"{name}_{mode}", [])
                for _ in range(n):
                    if gap:
                        time.sleep(gap)
                    t0 = mono()
                    fn()
                    costs.append(mono() - t0)
    finally:
        journal.close()
    return out
