"""Benchmark: time to sign one single-order L1 action, ours vs eth-account, on the same input.

Run: scripts/bench sign   (or .venv/bin/python scripts/bench_sign.py [--n N])
Prints p50/p99 per path and checks both produce the same signature.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_account import Account

from venues.hyperliquid import signing, wire

KEY = "0x" + "1f" * 32


def _action() -> dict[str, Any]:
    order = wire.order_wire(
        asset=0, is_buy=True, price="65123", size="0.0123", reduce_only=False,
        order_type=wire.limit_type("Gtc"), cloid="0x" + "ab" * 16,
    )
    return wire.order_action([order])


def _eth_account_sign(action: dict[str, Any], nonce: int) -> dict[str, Any]:
    """The SDK's path: action hash, then eth-account typed-data signing of the phantom agent."""
    connection_id = signing.action_hash(action, nonce)
    full_message = {
        "domain": {"chainId": 1337, "name": "Exchange", "verifyingContract": "0x" + "0" * 40,
                   "version": "1"},
        "types": {
            "Agent": [{"name": "source", "type": "string"},
                      {"name": "connectionId", "type": "bytes32"}],
            "EIP712Domain": [{"name": "name", "type": "string"},
                             {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"},
                             {"name": "verifyingContract", "type": "address"}],
        },
        "primaryType": "Agent",
        "message": {"source": "a", "connectionId": connection_id},
    }
    signed = Account.sign_typed_data(KEY, full_message=full_message)
    return {"r": hex(signed.r), "s": hex(signed.s), "v": signed.v}


def _measure(fn: Callable[[int], Any], n: int) -> list[float]:
    samples = []
    base = 1_800_000_000_000
    for i in range(min(200, n)):  # warm-up
        fn(base + i)
    gc.collect()
    for i in range(n):
        t0 = time.perf_counter_ns()
        fn(base + 1000 + i)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return samples


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    action = _action()
    signer = signing.L1Signer(KEY, is_mainnet=True)
    assert signer.sign_action(action, 1) == _eth_account_sign(action, 1), "signatures differ"

    from eth_keys.backends import get_backend

    print(f"eth_keys backend: {type(get_backend()).__name__}")
    ours = _measure(lambda nonce: signer.sign_action(action, nonce), args.n)
    eth_n = max(500, args.n // 5)
    theirs = _measure(lambda nonce: _eth_account_sign(action, nonce), eth_n)
    print(f"{'path':<44} {'n':>6} {'p50 µs':>9} {'p99 µs':>9} {'mean µs':>9}")
    for name, samples in (
        ("perpetuum L1Signer (msgpack+keccak+coincurve)", ours),
        ("eth-account Account.sign_typed_data", theirs),
    ):
        print(f"{name:<44} {len(samples):>6} {_pct(samples, .5):>9.1f} {_pct(samples, .99):>9.1f}"
              f" {statistics.fmean(samples):>9.1f}")
    print(f"speed-up at p50: {_pct(theirs, .5) / _pct(ours, .5):.1f}x "
          f"(target: p50 <= 70 µs and >= 4x)")


if __name__ == "__main__":
    main()
