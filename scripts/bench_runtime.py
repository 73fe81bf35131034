#!/usr/bin/env python3
"""Benchmark of the whole runtime against the local exchange, with the official SDK beside it.

Run: scripts/bench runtime [--latency-s 20] [--burst 1000] [--sustained-s 8] [--window 400]
                           [--sdk-s 10] [--flow-rate 80] [--no-stages] [--switch-interval S]
                           [--no-keep-warm] [--stream-frames 50000] [--skip-streams]
                           [--skip-sdk]
(about 80 s in all; everything on 127.0.0.1; the simulator subprocess, the firehose process and
the temporary directory are removed on exit, error or not)

Set-up. The local exchange (``venues.simulator``, signatures verified, synthetic flow at
``--flow-rate`` steps/s, so a BTC l2Book frame every ~12 ms) runs as a SUBPROCESS so that its
event loop does not compete with the runtime for this process's GIL; the runtime (``Runtime``
from ``runtime.launch``: signer, publisher, monitor, journaled order tracker,
execution over the WS ``post`` channel, user stream, market stream) and a benchmark strategy
actor (added with ``strategy_spec``) run in this process, exactly as ``scripts/run`` wires them,
the publisher bound to an ephemeral loopback port, journals in a temporary directory.

1. Tick-to-trade latency. The strategy subscribes to BTC l2Book only. On a BookSnapshot it places
   one post-only (ALO) buy 5% below the best bid (never fills, within the 10% price band) when
   the previous latency order has been answered and at least ``--latency-interval-ms`` have
   passed: one order in flight, like the synchronous SDK loop in 4, and a steady 40 orders/s that
   stays inside the venue's IP weight budget (1200/min, enforced by execution) — the run checks
   that no request waited in execution's rate-limit queue. Accepted orders are cancelled in
   batches every 0.5 s, so open orders stay bounded and cancels share the path as they would.
   Start: the market stream's reader thread got the frame's bytes (websocket-client
   ``recv_data`` returned). End: execution's WS ``post`` of the signed request — stamped both
   when the send is CALLED and when it RETURNS. The bytes reach the kernel in between: CPython
   polls the socket (it has a timeout) and then sends, releasing the GIL around each system
   call, so the sending thread has to win the GIL back from the runtime's other threads twice;
   the "returned" figure (the headline, judged against the target) includes those waits, the
   "called" one excludes even the framing. The same send measured in this process before the
   runtime starts (nothing competing for the GIL) is printed as the reference, and so is the
   path's own work (normalise, track with the journal write, sign) in one thread, back to back
   and after 25 ms of idle each time, next to a CPU-only loop measured the same two ways. The
   latency run is done twice: A with the CPU left to idle between frames (the default), B with
   the runtime's keep-warm helper (``scripts/run --keep-warm``: the CPU kept busy at idle
   priority; ``--no-keep-warm`` skips B). All stamps are
   ``time.monotonic_ns()``. The benchmark takes them by wrapping, in THIS process only, a few
   library callables (no library file is changed): ``FrameRouter.__call__`` (reader thread; the
   frame's wall-clock ``ts_init``, which the BookSnapshot carries, is mapped to the monotonic
   stamp taken at the same moment), ``WsPostTransport.post`` and ``ExecutionCore.signed``
   (request id → client order ids): the headline runs A and B carry only these. A third run S,
   half as long (``--no-stages`` leaves it out), also wraps ``ExecutionCore.submit``,
   ``OrderTrackerCore.handle`` (SubmitOrder only), ``SignerCore.add`` and ``SignerCore._sign``,
   to split the path: frame → strategy.on_book (reader thread: parse → fan-out → strategy
   mailbox), → execution (SubmitOrder built and told), → tracker (normalise, risk), → signer
   (journal, SignOrders), → signed (action built and signed), → execution (SignedAction hop),
   → send called (budget, in-flight entry), → send returned. Each wrapper costs ~0.3-1 µs
   hot, more on a cold CPU, which is why the headline runs go without them. Also shown:
   send returned → the strategy hears OrderAccepted (venue round trip, answer, tracker, event).
2. Throughput. (a) Burst: the strategy submits ``--burst`` far-from-market ALO orders in one
   handler; rate = orders that reached OPEN (the strategy heard OrderAccepted) / (last accepted
   − first submitted); then it cancels them all (rate likewise, up to the last OrderCancelled).
   Real venue budgets apply (the burst fits in them and in the venue's default cap of 1000 open
   orders; it starts once the latency orders are all cancelled). (b) Sustained, for
   ``--sustained-s``: ``--window`` orders in flight; every OrderAccepted is cancelled at once
   and replaced by a new order, so orders and cancels share the path; rate = OrderAccepted per
   second after a 1 s warm-up. A real Hyperliquid account could not sustain this: execution
   enforces the venue's IP weight budget (1200/min; a 39-order action weighs 1, so ≤ 780
   orders/s with nothing else) and the address budget (10 000 requests + 1 per USDC traded).
   For (b) the benchmark lifts those two CLIENT-side budgets (it swaps in subclasses of
   ``WeightBudget`` / ``AddressBudget``, in this process) to measure the path itself; the
   simulator runs with ``--no-limits`` (it counts but refuses nothing). Batching (orders per
   signed action) is counted from the signed actions execution received.
3. Market frames/s through the market stream to a subscriber: the firehose of
   ``scripts/bench_streams.py`` (its code, imported): 50k pre-rendered 20+20-level l2Book frames
   pushed by a WS server in a spawned process, every frame parsed on the reader thread and
   delivered (the default), then through the actor's mailbox without and with conflation; the
   single-thread parse loop is the reference.
4. The official SDK (hyperliquid-python-sdk) on the same exchange, after the runtime stopped:
   ``Info(base_url, skip_ws=False)`` subscribed to BTC l2Book; in its WS callback (same pacing,
   one order at a time) ``Exchange(wallet, base_url).order(...)`` places the same far ALO buy.
   Stamps: frame received (``WebsocketManager.on_message`` entered, the raw text in hand),
   callback entered, request bytes written (urllib3 ``HTTPConnection.request`` returned: headers
   and body sent; the SDK's process has no other busy thread then) and ``order`` returned. Then
   sequential ``order`` calls from one thread, and sequential ``bulk_orders`` of 40 (the
   runtime's batch size): orders resting per second of time spent inside those calls (every 400
   resting orders are cancelled in between, untimed, to stay under the venue's 1000 open-order
   cap). The SDK signs with the millisecond clock as nonce, so back-to-back actions can be
   refused as "duplicate nonce": such refusals are counted and reported.

The demo key is the simulator's public throwaway key (``venues.simulator.DEMO_PRIVATE_KEY``).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# scripts/ too: the runtime_bench package and bench_streams (whose firehose section 3 uses).
sys.path.insert(1, str(REPO / "scripts"))

from runtime_bench.common import Options  # noqa: E402
from runtime_bench.report import Captured, report  # noqa: E402
from runtime_bench.runtime import path_reference, post_reference, run_runtime  # noqa: E402
from runtime_bench.sdk import run_sdk  # noqa: E402
from runtime_bench.simulator import choose_cpus, pin_runtime, simulator  # noqa: E402
from runtime_bench.streams import run_streams  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--latency-s", type=float, default=20.0)
    p.add_argument("--latency-interval-ms", type=float, default=25.0)
    p.add_argument("--burst", type=int, default=1000)
    p.add_argument("--sustained-s", type=float, default=8.0)
    p.add_argument("--window", type=int, default=400)
    p.add_argument("--sdk-s", type=float, default=10.0)
    p.add_argument("--sdk-seq-s", type=float, default=3.0)
    p.add_argument("--flow-rate", type=float, default=80.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--stream-frames", type=int, default=50_000)
    p.add_argument("--no-stages", action="store_true", help="only the end-to-end stamps")
    p.add_argument("--no-keep-warm", action="store_true",
                   help="skip the second latency run (with the runtime's keep-warm helper)")
    p.add_argument("--switch-interval", type=float, default=None,
                   help="sys.setswitchinterval for this process (default: Python's 0.005 s)")
    p.add_argument("--skip-streams", action="store_true")
    p.add_argument("--skip-sdk", action="store_true")
    p.add_argument("--cpus", default="auto",
                   help="CPUs for the runtime and the SDK client (the exchange gets the others): "
                        "'auto' = the last CPU when there are several, 'all' = no pinning, or "
                        "a list such as 1 or 2,3 (the runtime's own --cpus option)")
    return p.parse_args()


def options(args: argparse.Namespace) -> Options:
    return Options(latency_s=args.latency_s, latency_interval_ms=args.latency_interval_ms,
                   burst=args.burst, sustained_s=args.sustained_s, window=args.window,
                   sdk_s=args.sdk_s, sdk_seq_s=args.sdk_seq_s, flow_rate=args.flow_rate,
                   seed=args.seed, stream_frames=args.stream_frames, stages=not args.no_stages,
                   keep_warm=not args.no_keep_warm)


def main() -> int:
    args = parse_args()
    opts = options(args)
    captured = Captured()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().addHandler(captured)
    started = time.monotonic()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    out = sys.stdout.write
    out(f"perpetuum runtime benchmark — python {platform.python_version()} on "
        f"{platform.machine()}, {os.cpu_count()} CPUs, GIL switch interval "
        f"{sys.getswitchinterval() * 1e3:g} ms\n")
    sys.stdout.flush()
    # Before pinning: the firehose's server process and the actor run get every CPU.
    streams = None if args.skip_streams else run_streams(opts.stream_frames)
    pinned = choose_cpus(args.cpus)
    pin_runtime(pinned)
    out(f"runtime pinned to CPUs {pinned or 'none (all)'}\n")
    with tempfile.TemporaryDirectory(prefix="bench-runtime-") as tmp:
        workdir = Path(tmp)
        with simulator(opts.flow_rate, opts.seed, workdir) as (url, sim_log):
            out(f"local exchange {url} (subprocess, signatures verified, flow "
                f"{opts.flow_rate:g} steps/s)\n")
            sys.stdout.flush()
            post_costs = post_reference(url)
            path_costs = path_reference(workdir)
            rt = run_runtime(url, opts, workdir)
            rt["post_reference"] = post_costs
            rt["path_reference"] = path_costs
            sdk = None if args.skip_sdk else run_sdk(url, opts)
            sim_problems = [line for line in sim_log.read_text().splitlines()
                            if " WARNING " in line or " ERROR " in line or "Traceback" in line]
    report(opts, rt, sdk, streams, captured, sim_problems, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
