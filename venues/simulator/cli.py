"""``scripts/sim``: run the simulator standalone until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from decimal import Decimal, InvalidOperation

import attrs

from venues.hyperliquid.wire import check_address
from venues.simulator.config import DEMO_ADDRESS, SimulatorConfig, load_config
from venues.simulator.runner import start_simulator

DEFAULT_PORT = 3001  # the SDK's LOCAL_API_URL is http://localhost:3001


def _funding(text: str) -> tuple[str, Decimal]:
    addr, sep, amount = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return check_address(addr.strip()), Decimal(amount.strip())
    except (ValueError, InvalidOperation):
        raise argparse.ArgumentTypeError(f"expected ADDRESS=USDC, got {text!r}") from None


def _sub_funding(text: str) -> tuple[str, str, Decimal]:
    accounts, sep, amount = text.partition("=")
    master, colon, sub = accounts.partition(":")
    try:
        if not sep or not colon:
            raise ValueError
        return check_address(master.strip()), check_address(sub.strip()), Decimal(amount.strip())
    except (ValueError, InvalidOperation):
        raise argparse.ArgumentTypeError(f"expected MASTER:SUB=USDC, got {text!r}") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/sim",
        description="A local exchange speaking Hyperliquid's HTTP/WebSocket protocol.",
    )
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help=f"port (default {DEFAULT_PORT}; 0 = any)")
    p.add_argument("--seed", type=int, default=None, help="seed of the synthetic market")
    p.add_argument("--config", help="TOML configuration file (see docs/simulator.md)")
    p.add_argument("--fund", action="append", type=_funding, default=[], metavar="ADDRESS=USDC",
                   help="credit an account (repeatable)")
    p.add_argument("--fund-sub", action="append", type=_sub_funding, default=[],
                   metavar="MASTER:SUB=USDC",
                   help="credit SUB and make it a sub-account MASTER trades via vaultAddress "
                        "(repeatable; MASTER must be funded)")
    p.add_argument("--volume", action="append", type=_funding, default=[],
                   metavar="ADDRESS=USDC",
                   help="USDC volume the account has already traded: 1 more request per USDC, "
                        "1 more open order per 5M (repeatable)")
    p.add_argument("--no-limits", action="store_true",
                   help="do not enforce the venue's limits (IP weight, WebSocket allowances, "
                        "address budget, open orders); they are still counted")
    p.add_argument("--mainnet-signatures", action="store_true",
                   help="expect mainnet signatures (default: testnet, like the SDK off mainnet)")
    p.add_argument("--flow-rate", type=float, default=None, help="synthetic steps per second")
    p.add_argument("--no-flow", action="store_true", help="no synthetic participants")
    p.add_argument("--idle-timeout", type=float, default=None, help="WS idle disconnect, s")
    p.add_argument("--history-cap", type=int, default=None,
                   help="finished orders remembered per account (default 5000; older ones "
                        "answer unknownOid)")
    p.add_argument("--no-verify-signatures", action="store_true",
                   help="BENCHMARK ONLY: skip signer recovery, attribute actions to the demo")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    config = SimulatorConfig(port=DEFAULT_PORT)
    if args.config:
        config = load_config(args.config, config)
    changes: dict[str, object] = {}
    if args.host is not None:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.mainnet_signatures:
        changes["is_mainnet"] = True
    if args.no_verify_signatures:
        changes["verify_signatures"] = False
    if args.idle_timeout is not None:
        changes["idle_timeout_s"] = args.idle_timeout
    if args.history_cap is not None:
        changes["history_cap"] = args.history_cap
    if args.no_limits:
        changes["enforce_limits"] = False
        changes["enforce_address_rate_limit"] = None
    flow = config.flow
    if args.flow_rate is not None:
        flow = attrs.evolve(flow, steps_per_second=args.flow_rate)
    if args.no_flow:
        flow = attrs.evolve(flow, enabled=False)
    config = attrs.evolve(config, flow=flow, **changes)  # type: ignore[arg-type]
    for address, usdc in args.fund:
        config = config.with_funding(address, usdc)
    for master, sub, usdc in args.fund_sub:
        config = config.with_sub_account(master, sub, usdc)
    for address, volume in args.volume:
        config = config.with_volume(address, volume)
    return config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = build_config(args)
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"sim: bad configuration: {exc}\n")
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sim = start_simulator(config)
    network = "mainnet" if config.is_mainnet else "testnet"
    # The console is this program's interface: the URL line is what users (and tests) read.
    out = sys.stdout
    out.write(f"Hyperliquid simulator listening on {sim.base_url} (ws {sim.ws_url})\n")
    out.write(f"expects {network} signatures; demo account {DEMO_ADDRESS} "
              f"(public throwaway key: venues.simulator.DEMO_PRIVATE_KEY)\n")
    for spec in config.accounts:
        sub = f" (sub-account of {spec.master})" if spec.master else ""
        volume = f", {spec.cum_volume} USDC already traded" if spec.cum_volume else ""
        out.write(f"funded {spec.address} with {spec.usdc} USDC{sub}{volume}\n")
    out.write("venue limits " + ("enforced" if config.enforce_limits else
                                 "NOT enforced (--no-limits)") + "\n")
    out.flush()
    try:
        stop.wait()
    finally:
        sim.stop()
    return 0
