#!/usr/bin/env python3
"""Benchmark the local Hyperliquid exchange (venues/simulator).

1. Order actions per second accepted over HTTP with signature verification: pre-signed ALO
   orders posted by keep-alive clients; side by side, the same requests to a simulator that
   skips signer recovery, and a no-op control endpoint (the HTTP stack alone).
2. l2Book fan-out: 10 WebSocket clients subscribed to one fast-moving book; per-client
   update rate and lag (receive time - book time) in the first and the last second.

Each simulator runs in its own process (scripts/sim), the clients in this one.
Usage: scripts/bench_sim.py [--orders 6000] [--concurrency 8] [--ws-clients 10]
                            [--ws-seconds 8] [--flow-rate 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import aiohttp
import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from venues.hyperliquid.numbers import decimal_to_wire  # noqa: E402
from venues.hyperliquid.signing import L1Signer  # noqa: E402
from venues.simulator.client import signed_body  # noqa: E402
from venues.simulator.config import DEMO_PRIVATE_KEY  # noqa: E402


@contextmanager
def simulator(*args: str) -> Iterator[str]:
    """Run scripts/sim in a subprocess; yields its base URL."""
    cmd = [str(REPO / "scripts" / "sim"), "--port", "0", "--log-level", "WARNING", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "listening on " in line:
                yield line.split("listening on ")[1].split()[0]
                return
            if not line and proc.poll() is not None:
                break
        raise RuntimeError("the simulator did not start")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def order_bodies(n: int) -> list[bytes]:
    """Pre-signed resting ALO bids on ETH, far below the market, one nonce each."""
    signer = L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False)
    start = int(time.time() * 1000)
    bodies = []
    for i in range(n):
        px = decimal_to_wire(Decimal(1000 + i % 900) + Decimal(i % 7) / 10)
        action = {"type": "order", "orders": [{"a": 1, "b": True, "p": px, "s": "0.01",
                                               "r": False, "t": {"limit": {"tif": "Alo"}}}],
                  "grouping": "na"}
        bodies.append(orjson.dumps(signed_body(signer, action, start + i)))
    return bodies


async def post_all(url: str, bodies: list[bytes], concurrency: int, expect: bytes) -> float:
    """Post every body with ``concurrency`` keep-alive connections; returns requests/s."""
    queue = iter(bodies)
    accepted = 0
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            nonlocal accepted
            for body in queue:
                async with session.post(url, data=body, headers=headers) as resp:
                    text = await resp.read()
                    if resp.status == 200 and expect in text:
                        accepted += 1
        # Warm the connections, then time.
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if accepted != len(bodies):
        raise RuntimeError(f"only {accepted}/{len(bodies)} requests were accepted")
    return len(bodies) / elapsed


def bench_http(n_orders: int, concurrency: int) -> None:
    print(f"== HTTP: {n_orders} order actions, {concurrency} keep-alive connections")
    bodies = order_bodies(n_orders)
    with simulator("--no-flow", "--no-limits") as url:
        verified = asyncio.run(post_all(url + "/exchange", bodies, concurrency, b'"resting"'))
        noop = asyncio.run(post_all(url + "/_control/ping", [b"{}"] * n_orders, concurrency,
                                    b'"ok"'))
    with simulator("--no-flow", "--no-limits", "--no-verify-signatures") as url:
        unverified = asyncio.run(post_all(url + "/exchange", bodies, concurrency, b'"resting"'))
    print(f"  order actions/s, signatures verified : {verified:8.0f}   (target >= 2000)")
    print(f"  order actions/s, no signature check  : {unverified:8.0f}   (reference)")
    print(f"  no-op control endpoint requests/s    : {noop:8.0f}   (reference: HTTP stack)")


async def ws_client(url: str, seconds: float, arrivals: list[tuple[float, float]]) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.receive()  # "Websocket connection established."
        await ws.send_str('{"method":"subscribe","subscription":{"type":"l2Book","coin":"ETH"}}')
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ws.receive(timeout=left)
            except TimeoutError:
                break
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            if msg.data.startswith('{"channel":"l2Book"'):
                data = orjson.loads(msg.data)["data"]
                arrivals.append((time.time(), data["time"] / 1000))


def bench_ws(n_clients: int, seconds: float, flow_rate: float) -> None:
    print(f"== WebSocket: l2Book ETH fan-out to {n_clients} clients for {seconds:.0f} s "
          f"(synthetic flow {flow_rate:.0f} steps/s)")
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as fh:
        fh.write('[[coins]]\nname = "ETH"\nsz_decimals = 4\nmax_leverage = 25\nmid = "3500"\n'
                 f'[flow]\nsteps_per_second = {flow_rate}\nlevels = 20\n'
                 'taker_probability = 0.3\n')
        config = fh.name
    try:
        with simulator("--config", config, "--idle-timeout", "120") as url:
            ws_url = "ws" + url[len("http"):] + "/ws"
            per_client: list[list[tuple[float, float]]] = [[] for _ in range(n_clients)]

            async def run() -> None:
                await asyncio.gather(*(ws_client(ws_url, seconds, a) for a in per_client))

            asyncio.run(run())
    finally:
        os.unlink(config)
    print("  client  updates/s  lag first 1s (ms)  lag last 1s (ms)")
    rates = []
    for i, arrivals in enumerate(per_client):
        if len(arrivals) < 2:
            print(f"  {i:6d}  no updates")
            continue
        t0, t1 = arrivals[0][0], arrivals[-1][0]
        rate = (len(arrivals) - 1) / (t1 - t0)
        first = [(r - b) * 1000 for r, b in arrivals if r - t0 <= 1.0]
        last = [(r - b) * 1000 for r, b in arrivals if t1 - r <= 1.0]
        rates.append(rate)
        print(f"  {i:6d}  {rate:9.0f}  {statistics.mean(first):17.1f}  "
              f"{statistics.mean(last):16.1f}")
    if rates:
        print(f"  min rate {min(rates):.0f}/s per client (target >= 200/s, no lag growth)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=6000)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--ws-clients", type=int, default=10)
    p.add_argument("--ws-seconds", type=float, default=8.0)
    p.add_argument("--flow-rate", type=float, default=300.0)
    args = p.parse_args()
    bench_http(args.orders, args.concurrency)
    bench_ws(args.ws_clients, args.ws_seconds, args.flow_rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
