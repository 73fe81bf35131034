"""Benchmark: WebSocket payload parsing (l2Book frames and userFills frames), side by side.

Run: .venv/bin/python scripts/bench_parse.py [--frames N] [--seed S]

Prints, in one run on the same generated frames:
  * l2Book frames/s for orjson.loads alone (the floor any parser pays),
  * json.loads + naive conversion (a Decimal and a PriceLevel per number/level),
  * WsFrameParser.parse (orjson + interned levels → BookSnapshot),
  * fills/s for userFills frames through WsFrameParser.parse,
and the interning caches' hit rates. Frames come from a random-walk book (20+20 levels, sizes
that change a few levels per frame, the mid moving by ticks), each frame used once, so cache
hits are the ones a live stream would get.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from messages.market import BookSnapshot, PriceLevel
from venues.hyperliquid.payloads import MarketParser, WsFrameParser

LEVELS = 20
TICK = Decimal("1")


def book_frames(n: int, rng: random.Random) -> list[bytes]:
    """A BTC-like book: integer ticks, 5-decimal sizes, a few levels change per block."""
    mid = 97_000
    sizes: dict[int, tuple[str, int]] = {}
    frames = []
    t = 1_754_450_974_231
    for _ in range(n):
        if rng.random() < 0.15:
            mid += rng.choice((-1, 1)) * rng.randint(1, 3)
        bid_prices = [mid - 1 - i for i in range(LEVELS)]
        ask_prices = [mid + 1 + i for i in range(LEVELS)]
        for px in bid_prices + ask_prices:
            if px not in sizes or rng.random() < 0.08:
                sizes[px] = (f"{rng.randint(1, 900_000) / 100_000:.5f}", rng.randint(1, 30))
        if len(sizes) > 400:
            for px in [p for p in sizes if abs(p - mid) > 60]:
                del sizes[px]
        t += rng.randint(500, 700)
        data = {
            "coin": "BTC",
            "time": t,
            "levels": [
                [{"px": f"{p}.0", "sz": sizes[p][0], "n": sizes[p][1]} for p in bid_prices],
                [{"px": f"{p}.0", "sz": sizes[p][0], "n": sizes[p][1]} for p in ask_prices],
            ],
        }
        frames.append(orjson.dumps({"channel": "l2Book", "data": data}))
    return frames


def fill_frames(n: int, rng: random.Random) -> tuple[list[bytes], int]:
    frames, count = [], 0
    tid, oid, t = 118_906_512_037_719, 90_542_681, 1_681_222_254_710
    for _ in range(n):
        fills = []
        for _ in range(rng.randint(1, 4)):
            tid += rng.randint(1, 1000)
            t += rng.randint(1, 500)
            fills.append({
                "coin": "BTC", "px": f"{rng.randint(96_000, 98_000)}.0",
                "sz": f"{rng.randint(1, 50_000) / 100_000:.5f}", "side": rng.choice("BA"),
                "time": t, "startPosition": "0.1234", "dir": "Open Long",
                "closedPnl": "0.0", "hash": "0x" + f"{rng.getrandbits(256):064x}",
                "oid": oid + rng.randint(0, 20), "crossed": rng.random() < 0.5,
                "fee": "0.012345", "tid": tid, "cloid": f"0x{rng.getrandbits(128):032x}",
                "feeToken": "USDC",
            })
        count += len(fills)
        frames.append(orjson.dumps({"channel": "userFills", "data": {
            "user": "0x" + "ab" * 20, "fills": fills}}))
    return frames, count


def naive_book(raw: bytes, ts_init: int) -> BookSnapshot:
    data = json.loads(raw)["data"]
    bids, asks = data["levels"]
    return BookSnapshot(
        trading_pair=data["coin"] + "-USD",
        bids=tuple(PriceLevel(price=Decimal(x["px"]), size=Decimal(x["sz"]), orders=x["n"])
                   for x in bids),
        asks=tuple(PriceLevel(price=Decimal(x["px"]), size=Decimal(x["sz"]), orders=x["n"])
                   for x in asks),
        ts_event=data["time"] * 1_000_000,
        ts_init=ts_init,
    )


def rate(fn: Callable[[bytes, int], Any], frames: list[bytes]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for i, raw in enumerate(frames):
            fn(raw, i)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return len(frames) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--frames", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    frames = book_frames(args.frames, rng)
    avg = sum(map(len, frames)) / len(frames)
    print(f"l2Book: {len(frames)} distinct frames, 20+20 levels, {avg:.0f} bytes average")

    market = MarketParser()
    parser = WsFrameParser(market)
    ref = rate(lambda raw, _ts: orjson.loads(raw), frames)
    naive = rate(naive_book, frames)
    ours = rate(parser.parse, frames)
    check = parser.parse(frames[-1], 0)
    assert check == naive_book(frames[-1], 0), "parsers disagree"

    levels = len(frames) * 2 * LEVELS
    lvl_hit = 1 - market.level_misses / levels
    print(f"  orjson.loads only (reference)       {ref:>10,.0f} frames/s")
    print(f"  json.loads + naive conversion       {naive:>10,.0f} frames/s")
    print(f"  WsFrameParser.parse -> BookSnapshot {ours:>10,.0f} frames/s   "
          f"({ours / naive:.1f}x naive, {ours / ref:.2f}x of orjson alone)")
    print(f"  level cache: {market.level_misses:,} misses / {levels:,} levels "
          f"= {lvl_hit:.1%} hits, {market.level_clears} clears (bound "
          f"{market.level_cache_size:,})")
    print(f"  decimal cache: {market.decimals.misses:,} misses (only parsed on a level miss), "
          f"{market.decimals.clears} clears, {len(market.decimals):,} entries now")

    cold = MarketParser(level_cache_size=1, decimal_cache_size=1)
    cold_rate = rate(WsFrameParser(cold).parse, frames[:5000])
    print(f"  same parser with caches disabled    {cold_rate:>10,.0f} frames/s   "
          "(every level a miss)")

    fframes, nfills = fill_frames(max(args.frames // 3, 1000), rng)
    fill_parser = WsFrameParser()
    f_rate = rate(fill_parser.parse, fframes)
    f_ref = rate(lambda raw, _ts: orjson.loads(raw), fframes)
    per = nfills / len(fframes)
    print(f"userFills: {len(fframes)} frames, {nfills} fills ({per:.1f}/frame)")
    print(f"  orjson.loads only (reference)       {f_ref * per:>10,.0f} fills/s")
    print(f"  WsFrameParser.parse -> FillsReported {f_rate * per:>9,.0f} fills/s")


if __name__ == "__main__":
    main()
