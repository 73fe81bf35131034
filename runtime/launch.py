"""The launcher behind ``scripts/run``: resolve the venue and the key, start the tree, show a
status line, stop cleanly.

With no arguments it starts the embedded local exchange, funds the demo key, and runs the demo
market maker. Ctrl-C (or ``--duration``) cancels the runtime's open orders first, then stops
the actors in reverse order. If the root supervisor escalates (restarts beyond its intensity),
the launcher cancels every open order directly at the venue and exits non-zero.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import attrs
import pykka

from actors import paths
from clock import Clock, SystemClock
from messages.commands import CancelAll
from messages.gate import SetTradingState
from messages.status import GetStatus, RuntimeStatus
from messages.supervision import DeadLetter
from messages.tracking import GetOpenOrders, ReconcileAll
from runtime.config import ConfigError, RuntimeConfig, load, validate
from runtime.credentials import load_key
from runtime.dead_letters import CommandBouncer
from runtime.keepalive import CpuKeepAlive
from runtime.wiring import (
    FIVE,
    StrategyFactory,
    Wiring,
    build_spec,
    strategy_path,
)
from supervision.errors import ChildStoppedError
from supervision.handle import Handle
from supervision.tree import SupervisionTree
from venues.hyperliquid import keys
from venues.hyperliquid.bootstrap import (
    AccountRoleError,
    InfoClient,
    VenueUnavailableError,
    cancel_everything,
    resolve_accounts,
)
from venues.hyperliquid.signing import L1Signer

log = logging.getLogger(__name__)
EXIT_OK, EXIT_CONFIG, EXIT_VENUE, EXIT_ESCALATED = 0, 2, 3, 4


def fan_out(lookup: Callable[[str], Handle], *targets: str) -> Callable[[object], None]:
    """An event sink telling several children; a child already stopped for good is skipped
    (events emitted while the tree shuts down must not fail their sender)."""

    def sink(event: object) -> None:
        for path in targets:
            try:
                lookup(path).tell(event)
            except ChildStoppedError:
                log.debug("event %s not delivered to stopped %s", type(event).__name__, path)

    return sink


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scripts/run",
        description="Run the perpetuum runtime (default: the embedded local exchange and the "
                    "demo market maker).")
    p.add_argument("--config", type=Path, help="TOML configuration file")
    p.add_argument("--network", choices=("sim", "testnet", "mainnet"))
    p.add_argument("--venue-url", help="any Hyperliquid-compatible endpoint (signs for testnet "
                                       "unless --network mainnet)")
    p.add_argument("--i-understand-this-is-mainnet", dest="confirm_mainnet",
                   action="store_true", help="required to trade on mainnet")
    p.add_argument("--key-file", type=Path, help="file holding the 0x-hex private key")
    p.add_argument("--key-env", help="environment variable holding the 0x-hex private key")
    p.add_argument("--keystore", type=Path, help="eth-account encrypted keystore (JSON)")
    p.add_argument("--keystore-password-env",
                   help="environment variable holding the keystore password (else prompted)")
    p.add_argument("--account", help="master account address when the key is an agent wallet")
    p.add_argument("--vault", help="trade for this vault / sub-account")
    p.add_argument("--data-dir", type=Path, help="journals and nonce state (default ./var)")
    p.add_argument("--pair", help="trading pair of the demo strategy (default BTC-USD)")
    p.add_argument("--no-strategy", action="store_true", help="run without the demo strategy")
    p.add_argument("--publish", help="ZMQ PUB address (default tcp://127.0.0.1:5556)")
    p.add_argument("--replay-address",
                   help="where subscribers ask for events they missed (default: the publish "
                        "port + 1, tcp://127.0.0.1:5557)")
    p.add_argument("--allow-remote-publish", action="store_true",
                   help="allow publisher addresses other machines can reach (0.0.0.0, *, a "
                        "LAN address): events are not authenticated")
    p.add_argument("--allow-insecure-key-file", action="store_true",
                   help="accept a key file that other users may read (refused by default; "
                        "fix with chmod 600 FILE)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--chaos-kill-every", type=float, metavar="SECONDS",
                   help="crash a random one of the five core actors at this interval")
    p.add_argument("--sim-seed", type=int, help="seed of the embedded local exchange")
    p.add_argument("--no-cancel-on-exit", action="store_true",
                   help="leave open orders at the venue when stopping")
    p.add_argument("--cpus", help="pin the runtime to these CPUs, e.g. 1 or 2,3 (lower latency: "
                                  "actor hand-offs stay on one core)")
    p.add_argument("--keep-warm", action="store_true",
                   help="keep the runtime's CPUs busy at idle priority so they never go idle "
                        "between orders (lower latency; costs a full CPU each)")
    p.add_argument("--quiet", action="store_true", help="no status line")
    return p


def config_from_args(args: argparse.Namespace) -> RuntimeConfig:
    config = load(args.config)
    venue = config.venue
    if args.network:
        venue = attrs.evolve(venue, network=args.network)
    if args.venue_url:
        network = args.network or ("testnet" if venue.network == "sim" else venue.network)
        venue = attrs.evolve(venue, url=args.venue_url, network=network)
    if args.confirm_mainnet:
        venue = attrs.evolve(venue, confirm_mainnet=True)
    account = config.account
    for name in ("key_file", "key_env", "keystore", "keystore_password_env", "account",
                 "vault"):
        value = getattr(args, name)
        if value is not None:
            account = attrs.evolve(account, **{name: value})
    if args.allow_insecure_key_file:
        account = attrs.evolve(account, allow_insecure_key_file=True)
    strategy = config.strategy
    if args.pair:
        strategy = attrs.evolve(strategy, trading_pair=args.pair)
    if args.no_strategy:
        strategy = attrs.evolve(strategy, kind="none")
    publisher = config.publisher
    if args.publish:
        publisher = attrs.evolve(publisher, address=args.publish)
    if args.replay_address:
        publisher = attrs.evolve(publisher, replay_address=args.replay_address)
    if args.allow_remote_publish:
        publisher = attrs.evolve(publisher, allow_remote=True)
    simulator = config.simulator
    if args.sim_seed is not None:
        simulator = attrs.evolve(simulator, seed=args.sim_seed)
    out = attrs.evolve(config, venue=venue, account=account, strategy=strategy,
                       publisher=publisher, simulator=simulator)
    if args.data_dir is not None:
        out = attrs.evolve(out, data_dir=args.data_dir)
    if args.no_cancel_on_exit:
        out = attrs.evolve(out, cancel_on_exit=False)
    if args.cpus:
        try:
            cpus = tuple(int(c) for c in args.cpus.split(","))
        except ValueError:
            raise ConfigError(f"--cpus must list CPU numbers, e.g. 1 or 2,3; got {args.cpus!r}")\
                from None
        out = attrs.evolve(out, cpus=cpus)
    if args.keep_warm:
        out = attrs.evolve(out, keep_warm=True)
    if args.chaos_kill_every:
        # Chaos crashes are restarts too: leave room for them (and as many real ones) in the
        # root's intensity window, so the demo does not escalate by design.
        wanted = 2 * int(out.restart_period_s / max(args.chaos_kill_every, 0.1)) + 5
        out = attrs.evolve(out, restart_intensity=max(out.restart_intensity, wanted))
    validate(out)
    return out


class Runtime:
    """A running runtime: the (optional) embedded exchange and the supervision tree."""

    def __init__(self, config: RuntimeConfig,
                 strategies: tuple[StrategyFactory, ...] = (),
                 clock: Clock | None = None) -> None:
        self.config = config
        self.strategies = strategies
        self.clock = clock if clock is not None else SystemClock()
        self.sim: Any = None
        self.tree: SupervisionTree | None = None
        self.wiring: Wiring | None = None
        self.escalated = threading.Event()
        self.escalation_reason = ""
        self._chaos_stop = threading.Event()
        self._forwarding = threading.local()
        self._stopping = False
        """Set once the tree is being stopped: the sinks stop too, events about that are not
        forwarded to them."""
        self._keepalive: CpuKeepAlive | None = None
        self._bouncer: CommandBouncer | None = None

    def start(self) -> Wiring:
        cfg = self.config
        validate(cfg)  # also when built in code, not only from a file or flags
        if cfg.cpus:
            # Before any thread starts: every thread created afterwards inherits the affinity.
            os.sched_setaffinity(0, cfg.cpus)
        if cfg.keep_warm:
            self._keepalive = CpuKeepAlive(cfg.cpus)
            self._keepalive.start()
        # The key first: a refused key file must not leave an embedded exchange behind.
        key = load_key(cfg) if (cfg.account.key_file or cfg.account.key_env
                                or cfg.account.keystore) else None
        if cfg.venue.network == "sim" and not cfg.venue.url:
            from venues.simulator import DEMO_PRIVATE_KEY, load_config, start_simulator
            from venues.simulator.config import SimulatorConfig

            sim_config = load_config(cfg.simulator.config) if cfg.simulator.config else (
                SimulatorConfig())
            sim_config = attrs.evolve(sim_config, seed=cfg.simulator.seed,
                                      port=cfg.simulator.port)
            self.sim = start_simulator(sim_config)
            base_url, is_mainnet = self.sim.base_url, False
            key = key if key is not None else keys.SecretKey(DEMO_PRIVATE_KEY)
            log.info("embedded local exchange at %s", base_url)
        else:
            base = cfg.base_url
            assert base is not None
            base_url, is_mainnet = base, cfg.is_mainnet
            key = key if key is not None else load_key(cfg)
        info = InfoClient(base_url)
        # The account whose orders these are: the vault / sub-account when one is configured
        # (the signer adds it to every action), else the master. Queries, subscriptions,
        # journals and the emergency cancel all use it; the venue confirms the roles first.
        accounts = resolve_accounts(info, key.address, account=cfg.account.account,
                                    vault=cfg.account.vault)
        account = accounts.trading
        markets = info.markets()
        run_id = f"{self.clock.time_ns():x}"
        data_dir = cfg.data_dir / (cfg.venue.network if not cfg.venue.url else "custom") / account
        self.wiring = Wiring(config=cfg, base_url=base_url, is_mainnet=is_mainnet, key=key,
                             account=account, markets=markets, run_id=run_id,
                             data_dir=data_dir, vault=accounts.vault)
        tree = SupervisionTree(build_spec(self.wiring, self.strategies), clock=self.clock,
                               events=self._supervision_event, on_escalate=self._escalate)
        self._bouncer = CommandBouncer(lookup=tree.handle, records=tree.dead_letter_log,
                                       now_ns=self.clock.time_ns, strategy_path=strategy_path)
        self.tree = tree
        tree.start()
        if cfg.tune_gc:
            # Start-up objects (markets, parsers' caches, actors) never die: move them out of
            # the collector's way, and collect young objects less often, so a collection
            # rarely lands on the path from a book to an order.
            gc.freeze()
            gc.set_threshold(20_000, 20, 50)
        log.info("runtime started: account %s (%s), signer %s, %d markets, data in %s",
                 account, "vault / sub-account of " + accounts.master if accounts.vault else
                 "master", key.address, len(markets), data_dir)
        return self.wiring

    _SINKS = (paths.PUBLISHER, paths.MONITOR)

    def _supervision_event(self, event: object) -> None:
        """Supervision events go to the publisher (runtime.supervision.*) and the monitor
        (status line); a dead strategy command also goes back to its sender as a rejection
        (`runtime.dead_letters`). Called from supervisor and actor threads; the
        tree exists before it starts.

        A tell to a stopped sink is itself a dead letter whose event would be told to that sink
        again: such events, and any event raised while forwarding one, are not forwarded."""
        tree = self.tree
        if tree is None or self._stopping or getattr(self._forwarding, "active", False):
            return
        if isinstance(event, DeadLetter) and event.target in self._SINKS:
            return
        self._forwarding.active = True
        try:
            if isinstance(event, DeadLetter) and self._bouncer is not None:
                self._bouncer(event)
            fan_out(tree.handle, *self._SINKS)(event)
        finally:
            self._forwarding.active = False

    def _escalate(self, reason: str) -> None:
        self.escalation_reason = reason
        self.escalated.set()

    def status(self, timeout: float = 2.0) -> RuntimeStatus | None:
        tree = self.tree
        if tree is None or tree.terminated:
            return None
        try:
            status: RuntimeStatus = tree.handle(paths.MONITOR).ask(GetStatus(), timeout=timeout)
        except ChildStoppedError:
            return None
        return status

    def open_orders(self, timeout: float = 5.0) -> int:
        assert self.tree is not None
        orders = self.tree.handle(paths.ORDER_TRACKER).ask(GetOpenOrders(), timeout=timeout)
        return len(orders)

    def start_chaos(self, every_s: float, rng: random.Random | None = None) -> threading.Thread:
        rng = rng or random.Random()  # noqa: S311 - chaos, not crypto

        def run() -> None:
            while not self._chaos_stop.wait(every_s):
                tree = self.tree
                if tree is None or tree.terminated:
                    return
                victim = rng.choice(FIVE)
                if tree.crash(victim):
                    log.warning("chaos: crashed %s", victim)

        thread = threading.Thread(target=run, name="chaos", daemon=True)
        thread.start()
        return thread

    def stop(self, *, cancel: bool, timeout_s: float = 30.0) -> int:
        self._chaos_stop.set()
        tree = self.tree
        remaining = 0
        if tree is not None and not tree.terminated and cancel:
            # Halt first: strategies keep quoting while they run, and new orders would race
            # the cancel-all.
            gate = tree.handle(paths.RISK_GATE)
            gate.tell(SetTradingState(halted=True, reason="shutting down",
                                      ts_init=self.clock.time_ns()))
            remaining = self._wait_final(time.monotonic() + timeout_s, gate, cancel_all=True)
            if remaining:
                # Cancel at the venue directly while the tree still runs: the user stream and a
                # reconciliation then bring the tracker the venue's word, so every order's last
                # event is its final state, not the PENDING_CANCEL of a cancel it never heard
                # back about.
                log.warning("%d orders still not final after cancel-all; cancelling whatever "
                            "is open at the venue directly", remaining)
                self.emergency_cancel()
                tree.handle(paths.ORDER_TRACKER).tell(
                    ReconcileAll(reason="shutting down", ts_init=self.clock.time_ns()))
                remaining = self._wait_final(time.monotonic() + 15.0, gate, cancel_all=False)
        if tree is not None:
            self._stopping = True
            tree.stop()
        if cancel and (self.escalated.is_set() or remaining):
            self.emergency_cancel()
        if self.sim is not None:
            self.sim.stop()
        self.stop_keep_warm()
        return remaining

    def _wait_final(self, deadline: float, gate: Handle, *, cancel_all: bool) -> int:
        """Wait until the tracker has no order left that is not final (or the deadline);
        returns how many are left (at least 1 when the tracker could not say)."""
        waiter = threading.Event()
        next_cancel = 0.0
        remaining = 0
        while time.monotonic() < deadline:
            if cancel_all and time.monotonic() >= next_cancel:
                # Again every few seconds: an order whose fate was unknown when the last one
                # went out (UNKNOWN, a cancel lost) may have turned out to be open.
                gate.tell(CancelAll())
                next_cancel = time.monotonic() + 3.0
            try:
                remaining = self.open_orders(timeout=max(0.1, min(5.0,
                                                                  deadline - time.monotonic())))
            except ChildStoppedError:
                return max(remaining, 1)
            except (TimeoutError, pykka.Timeout):
                remaining = max(remaining, 1)  # recovering, say: ask again until the deadline
                continue
            if remaining == 0:
                return 0
            waiter.wait(0.2)
        return remaining

    def stop_keep_warm(self) -> None:
        if self._keepalive is not None:
            self._keepalive.stop()

    def emergency_cancel(self) -> None:
        """The tree is down: cancel every open order of the account directly."""
        w = self.wiring
        if w is None:
            return
        from actors.signing.nonce import NonceSource, NonceStore

        clock = self.clock
        nonces = NonceSource(lambda: clock.time_ns() // 1_000_000,
                             NonceStore(w.data_dir / "signer" / "nonce"))
        try:
            signer = L1Signer(w.key, is_mainnet=w.is_mainnet)
            sent = cancel_everything(InfoClient(w.base_url), signer, nonces.next, w.account,
                                     w.markets, vault_address=w.vault)
            log.warning("escalation: %d open orders cancelled directly at the venue", sent)
        except VenueUnavailableError as exc:
            log.error("escalation: could not cancel open orders: %s", exc)


def format_status(status: RuntimeStatus | None, elapsed_s: float) -> str:
    if status is None:
        return f"[{elapsed_s:6.1f}s] runtime stopped"
    parts = [f"[{elapsed_s:6.1f}s] open {status.open_orders:3d}", f"fills {status.fills:5d}"]
    for pair in status.pairs:
        pnl = "n/a" if pair.pnl is None else f"{pair.pnl:+.2f}"
        mark = "n/a" if pair.mark is None else f"{pair.mark:.6g}"
        parts.append(f"{pair.trading_pair} pos {pair.position:+.5f} mark {mark} pnl {pnl}")
    age = "n/a" if status.feed_age_ns is None else f"{status.feed_age_ns / 1e9:.1f}s"
    parts.append(f"feed age {age}")
    parts.append(f"restarts {status.restarts}")
    return " | ".join(parts)


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = _stdout) -> int:
    args = parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except (ConfigError, keys.InvalidKeyError) as exc:
        out(f"configuration error: {exc}")
        return EXIT_CONFIG
    runtime = Runtime(config)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        try:
            wiring = runtime.start()
        except (ConfigError, keys.InvalidKeyError, AccountRoleError) as exc:
            out(f"configuration error: {exc}")
            return EXIT_CONFIG
        except VenueUnavailableError as exc:
            out(f"venue unavailable: {exc}")
            return EXIT_VENUE
        out(f"perpetuum: {config.venue.network} venue {wiring.base_url}, account "
            f"{wiring.account}; events on {config.publisher.address} (replay "
            f"{config.publisher.replay_endpoint}); Ctrl-C stops")
        if args.chaos_kill_every:
            runtime.start_chaos(args.chaos_kill_every)
            out(f"chaos: crashing one of {', '.join(FIVE)} every {args.chaos_kill_every}s")
        started = time.monotonic()
        while not stop.is_set() and not runtime.escalated.is_set():
            elapsed = time.monotonic() - started
            if args.duration is not None and elapsed >= args.duration:
                break
            if not args.quiet:
                out(format_status(runtime.status(), elapsed))
            stop.wait(min(config.status_interval_s,
                          max(0.05, (args.duration or 1e9) - elapsed)))
        if runtime.escalated.is_set():
            out(f"supervision escalated: {runtime.escalation_reason}; cancelling and halting")
        final = runtime.status()
        left = runtime.stop(cancel=config.cancel_on_exit)
        out("final: " + format_status(final, time.monotonic() - started)
            + (f" | {left} orders left open" if left else ""))
        return EXIT_ESCALATED if runtime.escalated.is_set() else EXIT_OK
    finally:
        signal.signal(signal.SIGINT, previous)
        if runtime.tree is not None and not runtime.tree.terminated:
            runtime.tree.stop()
        if runtime.sim is not None:
            runtime.sim.stop()
        runtime.stop_keep_warm()
