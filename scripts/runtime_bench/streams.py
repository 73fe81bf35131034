"""3: market frames/s through the market stream, with ``scripts/bench_streams.py``'s firehose."""

from __future__ import annotations

import multiprocessing


def run_streams(frames: int) -> dict[str, float]:
    import functools

    import bench_streams

    from venues.hyperliquid.payloads import WsFrameParser

    coins, seed = bench_streams.coin_names(8), 1
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=bench_streams.serve, args=(frames, coins, seed, theirs),
                         daemon=True)
    server.start()
    try:
        url = ours.recv()
        parse = bench_streams.reference(
            url, frames, coins[-1], functools.partial(WsFrameParser().parse, ts_init=0))
        inline = bench_streams.actor_run(url, frames, coins, seed, mode="inline")
        off = bench_streams.actor_run(url, frames, coins, seed, mode="off")
        on = bench_streams.actor_run(url, frames, coins, seed, mode="on")
    finally:
        ours.send("stop")
        server.join(10)
        if server.is_alive():
            server.terminate()
            server.join(5)
    return {"parse": parse, "inline": inline["rate"], "inline_delivered": inline["delivered"],
            "off": off["rate"], "off_delivered": off["delivered"],
            "on": on["rate"], "on_parsed": on["parsed"]}
