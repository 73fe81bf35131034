"""Benchmark: the market stream actor against the raw WebSocket receive path, side by side.

Run: scripts/bench streams [--frames N] [--coins K] [--runs R] [--seed S]
     (or .venv/bin/python scripts/bench_streams.py ...)

A local aiohttp WebSocket server (127.0.0.1, a spawned process so it has its own core) pushes N
pre-rendered realistic l2Book frames (20+20 levels, ~1.6 KB, K coins in turn, each book a random
walk) as fast as the socket takes them, right after the subscription that triggers it. The same
frames are received, in the same run, by:

  1. reference: websocket-client ``recv_data`` with ``skip_utf8_validation=True``, nothing else;
  2. reference: the same + ``orjson.loads`` per frame;
  3. reference: the same + ``WsFrameParser.parse`` (BookSnapshot) per frame, one thread;
  4. the MarketStream actor in a supervision tree, frames handled inline (the default): the
     reader thread parses each frame → latest book (monotonic, crossed checks) → fan-out to
     one subscriber actor (unbounded mailbox); every frame is parsed and delivered;
  5. the same with ``inline=False``, conflation OFF: reader thread → the actor's mailbox →
     parse → fan-out; every frame parsed and delivered;
  6. ``inline=False`` with conflation ON and a LATEST_WINS subscriber keyed by
     ``market_data_key``: frames received per second, and how many of them were
     parsed/delivered vs. superseded in the conflation slots.

Rates are frames / (receive time of the last frame's processing − receive time of the first
frame); for the actor runs the end is when the subscriber got the newest book of every coin.
"Max backlog" is the largest market-stream mailbox length sampled every 5 ms.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import platform
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

LEVELS = 20


def book_frames(n: int, coins: list[str], seed: int) -> list[bytes]:
    """Random-walk books per coin, 20+20 levels, a few sizes change per frame."""
    rng = random.Random(seed)
    state: dict[str, dict[str, Any]] = {}
    for i, coin in enumerate(coins):
        state[coin] = {"mid": 1_000 * (i + 1) * 7, "sizes": {}, "t": 1_754_450_974_231}
    frames = []
    for k in range(n):
        coin = coins[k % len(coins)]
        st = state[coin]
        if rng.random() < 0.15:
            st["mid"] += rng.choice((-1, 1)) * rng.randint(1, 3)
        mid, sizes = st["mid"], st["sizes"]
        bid_prices = [mid - 1 - i for i in range(LEVELS)]
        ask_prices = [mid + 1 + i for i in range(LEVELS)]
        for px in bid_prices + ask_prices:
            if px not in sizes or rng.random() < 0.08:
                sizes[px] = (f"{rng.randint(1, 900_000) / 100_000:.5f}", rng.randint(1, 30))
        if len(sizes) > 400:
            for px in [p for p in sizes if abs(p - mid) > 60]:
                del sizes[px]
        st["t"] += rng.randint(500, 700)
        data = {
            "coin": coin,
            "time": st["t"],
            "levels": [
                [{"px": f"{p}.0", "sz": sizes[p][0], "n": sizes[p][1]} for p in bid_prices],
                [{"px": f"{p}.0", "sz": sizes[p][0], "n": sizes[p][1]} for p in ask_prices],
            ],
        }
        frames.append(orjson.dumps({"channel": "l2Book", "data": data}))
    return frames


def coin_names(k: int) -> list[str]:
    base = ["BTC", "ETH", "SOL", "HYPE", "ARB", "AVAX", "DOGE", "LINK", "OP", "SUI", "APT", "TIA"]
    return [base[i] if i < len(base) else f"C{i}" for i in range(k)]


# -- the server process ---------------------------------------------------------------------------


def serve(n: int, coins: list[str], seed: int, pipe: Connection) -> None:
    from tests.support.streams import LocalWsServer

    frames = book_frames(n, coins, seed)
    trigger = coins[-1]

    def on_subscribe(subscription: dict[str, Any]) -> list[bytes]:
        if subscription.get("type") == "l2Book" and subscription.get("coin") == trigger:
            return frames
        return []

    server = LocalWsServer(on_subscribe=on_subscribe).start()
    pipe.send(server.url)
    pipe.recv()  # until told to stop
    server.stop()


# -- references -----------------------------------------------------------------------------------


def reference(url: str, n: int, trigger: str, work: Callable[[bytes], object] | None) -> float:
    import websocket

    ws = websocket.create_connection(url, skip_utf8_validation=True, timeout=30)
    try:
        ws.send(orjson.dumps({"method": "subscribe",
                              "subscription": {"type": "l2Book", "coin": trigger}}))
        recv = ws.recv_data
        start = 0.0
        count = 0
        while count < n:
            _, data = recv()
            if not data.startswith(b'{"channel":"l2Book"'):
                continue
            if count == 0:
                start = time.perf_counter()
            if work is not None:
                work(data)
            count += 1
        return (n - 1) / (time.perf_counter() - start)
    finally:
        ws.close()


# -- the actor runs -------------------------------------------------------------------------------


MODES = {
    "inline": "inline (default): reader thread parses, fans out; every frame delivered",
    "off": "through the mailbox, conflation off: every frame parsed and delivered",
    "on": "through the mailbox, conflated per coin, LATEST_WINS subscriber",
}


def actor_run(url: str, n: int, coins: list[str], seed: int, *, mode: str) -> dict[str, Any]:
    """One run of the MarketStream actor; ``mode`` is a key of `MODES`."""
    conflate = mode == "on"
    from actors.market_stream import MarketStream, MarketStreamPeers
    from actors.streaming import LinkConfig, MarketStreamConfig, market_data_key
    from messages.commands import SubscribeMarket
    from messages.enums import MarketChannel
    from messages.feed import FeedConnected
    from messages.market import BookSnapshot
    from messages.streams import GetStreamStats, MarketStreamStats
    from supervision import (
        ChildContext,
        ChildSpec,
        Overflow,
        SupervisedActor,
        SupervisionTree,
        SupervisorSpec,
    )
    from tests.support.supervision import Collector, EventRecorder

    finals: dict[str, int] = {}
    for frame in book_frames(n, coins, seed)[-len(coins):]:
        data = orjson.loads(frame)["data"]
        finals[f"{data['coin']}-USD"] = data["time"] * 1_000_000
    done = threading.Event()
    seen: dict[str, Any] = {"first_ts": None, "end": 0, "delivered": 0}

    class Subscriber(SupervisedActor):
        def handle(self, message: Any) -> None:
            if type(message) is not BookSnapshot:
                return
            if seen["first_ts"] is None:
                seen["first_ts"] = message.ts_init
            seen["delivered"] += 1
            if message.ts_event == finals[message.trading_pair]:
                finals_seen.add(message.trading_pair)
                if len(finals_seen) == len(finals):
                    seen["end"] = time.time_ns()
                    done.set()

    finals_seen: set[str] = set()
    events = EventRecorder()
    config = MarketStreamConfig(link=LinkConfig(url=url), conflate=conflate,
                                inline=mode == "inline", stale_after_s=60)

    def market(ctx: ChildContext) -> MarketStream:
        return MarketStream(ctx, config=config, peers=MarketStreamPeers(
            event_sinks=("events",),
            subscriber_path=lambda sid: sid if sid == "subscriber" else None))

    subscriber_spec = (
        ChildSpec(id="subscriber", factory=Subscriber, overflow=Overflow.LATEST_WINS,
                  key=market_data_key, mailbox_limit=None)
        if conflate else ChildSpec(id="subscriber", factory=Subscriber, mailbox_limit=None)
    )
    tree = SupervisionTree(SupervisorSpec(id="bench", children=[
        ChildSpec(id="events", factory=lambda ctx: Collector(ctx, events)),
        subscriber_spec,
        ChildSpec(id="market", factory=market, mailbox_limit=None),
    ])).start()
    try:
        events.wait_for(FeedConnected, timeout=10)
        handle = tree.handle("market")
        for coin in coins:  # the last coin's l2Book subscription triggers the blast
            handle.tell(SubscribeMarket(trading_pair=f"{coin}-USD", subscriber_id="subscriber",
                                        channels=(MarketChannel.BOOK,)))
        backlog = 0
        while not done.wait(0.005):
            backlog = max(backlog, handle.pending())
        stats = handle.ask(GetStreamStats(), timeout=10)
        assert isinstance(stats, MarketStreamStats)
    finally:
        tree.stop()
    seconds = (seen["end"] - seen["first_ts"]) / 1e9
    received = stats.frames - 1 - len(coins) + stats.conflated  # minus greeting and acks
    return {
        "rate": n / seconds,
        "parsed": stats.books,
        "conflated": stats.conflated,
        "delivered": seen["delivered"],
        "received": received,
        "backlog": backlog,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--coins", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n, coins, seed = args.frames, coin_names(args.coins), args.seed

    from venues.hyperliquid.payloads import WsFrameParser

    frames = book_frames(min(n, 2000), coins, seed)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{n:,} l2Book frames per run, {len(coins)} coins, "
          f"{sum(map(len, frames)) / len(frames):,.0f} bytes average; median of {args.runs} runs")
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=serve, args=(n, coins, seed, theirs), daemon=True)
    server.start()
    try:
        url = ours.recv()
        trigger = coins[-1]
        rows: dict[str, list[float]] = {}
        extra: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        for _ in range(args.runs):
            rows.setdefault("raw", []).append(reference(url, n, trigger, None))
            rows.setdefault("orjson", []).append(reference(url, n, trigger, orjson.loads))
            rows.setdefault("parse", []).append(
                reference(url, n, trigger, functools.partial(WsFrameParser().parse, ts_init=0)))
            for mode in MODES:
                result = actor_run(url, n, coins, seed, mode=mode)
                extra[mode].append(result)
                rows.setdefault(mode, []).append(result["rate"])
    finally:
        ours.send("stop")
        server.join(10)
        if server.is_alive():
            server.terminate()

    def show(label: str, key: str, note: str = "") -> None:
        values = rows[key]
        print(f"  {label:<74} {statistics.median(values):>9,.0f} frames/s "
              f"[{min(values):,.0f}–{max(values):,.0f}]{note}")

    print("references (one thread, no actor):")
    show("websocket-client recv, skip_utf8_validation", "raw")
    show("  + orjson.loads", "orjson")
    show("  + WsFrameParser.parse -> BookSnapshot", "parse")
    print("MarketStream actor (frames -> books -> fan-out to 1 subscriber actor):")
    for mode, label in MODES.items():
        run = extra[mode][len(extra[mode]) // 2]
        show(label, mode, f"  parsed {run['parsed']:,}, superseded {run['conflated']:,}, "
                          f"delivered {run['delivered']:,}, max backlog {run['backlog']:,}")
    floor = 20_000
    verdict = "meets" if statistics.median(rows["inline"]) >= floor else "MISSES"
    print(f"target: >= {floor:,} frames/s fully processed (inline, the default): {verdict}")


if __name__ == "__main__":
    main()
