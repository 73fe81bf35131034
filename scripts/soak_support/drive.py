"""The soak's timeline: start everything, follow the seeded plan, stop cleanly, judge."""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .evidence import Evidence, Poller, make_info, pick_source_ip
from .judge import EventRecord
from .options import Action, Options, Plan, build_plan
from .report import Outcome, build_summary, first_times, print_summary, write_json
from .runtime import (
    RssSampler,
    RuntimeProcess,
    StartFailedError,
    accepts_config,
    config_toml,
)
from .subscribers import Subscriber, library, make
from .venue import Venue, VenueError, new_key

log = logging.getLogger(__name__)
USDC = 1_000_000
VOLUME = 100_000_000
"""Initial cumulative volume: an address budget of 100M requests, so the budget (10,000 + 1 per
USDC traded) does not end the soak; every other limit stays on."""
STARTUP_GRACE_S = 10.0
"""The load schedule starts this long after the soak (the runtime needs a few seconds)."""
DRAIN_S = 3.0
POLL_PAUSE_S = 5.0
"""The judge does not poll for this long after a 5xx burst is set up."""
RESTART_RETRY_S = 30.0
"""A runtime that failed to restart is tried again this often."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def say(text: str) -> None:
    print(text, flush=True)


class Sampler(threading.Thread):
    """Samples what the runtime's IP used at the venue every ``every_s``: (wall ns, REST weight,
    WebSocket messages, order and cancel entries the account sent)."""

    def __init__(self, venue: Venue, account: str, every_s: float = 2.0) -> None:
        super().__init__(name="soak-usage", daemon=True)
        self.venue = venue
        self.account = account
        self.every_s = every_s
        self.samples: list[tuple[int, float, float, float]] = []
        self.kinds: list[tuple[int, dict[str, float]]] = []
        """(wall ns, units spent so far by kind) at each sample."""
        self.stop_event = threading.Event()
        self.supported = True

    def sample(self) -> None:
        try:
            usage = self.venue.usage(account=self.account)
        except VenueError:
            return
        if usage is None:
            self.supported = False
        else:
            now = time.time_ns()
            self.samples.append((now, *usage[:3]))
            self.kinds.append((now, usage[3]))

    def run(self) -> None:
        while not self.stop_event.wait(self.every_s):
            self.sample()


class Soak:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.work = (opts.work_dir or Path(tempfile.mkdtemp(prefix="perpetuum-soak-")))
        self.work.mkdir(parents=True, exist_ok=True)
        self.venue = Venue(self.work, seed=opts.seed, flow_rate=opts.flow_rate)
        self._dump = (open(opts.dump_events, "w", encoding="utf-8")  # noqa: SIM115
                      if opts.dump_events else None)
        self.records = [EventRecord(f"sub{i + 1}", dump=self._dump if i == 0 else None)
                        for i in range(opts.subscribers)]
        self.late = EventRecord("late")
        self.subscribers: list[Subscriber] = []
        self.late_subscriber: Subscriber | None = None
        self.notes: list[str] = []
        self.incidents: list[str] = []
        self.executed: list[str] = []
        self.runtime: RuntimeProcess | None = None
        self.replay: str | None = None
        self._next_report = 0.0
        self.poller: Poller | None = None
        self._began = 0.0
        self._retry_at = 0.0
        """When to try starting a runtime that failed to (re)start (0: it has not failed)."""

    # --- set-up ---------------------------------------------------------------------------------
    def setup(self) -> tuple[str, Evidence, Plan, dict[str, Any]]:
        opts = self.opts
        self.venue.start()
        account = new_key(self.work / "soak.key")
        self.venue.fund(account, USDC, VOLUME)
        source_ip = pick_source_ip("127.0.0.1")
        evidence = Evidence(make_info(self.venue.base_url, source_ip), account,
                            source_ip=source_ip)
        limits = self.venue.state().get("limits")
        cap = evidence.request_cap()
        fields = self.venue.fault_fields()
        capabilities = {
            "limits_enforced": isinstance(limits, dict) and bool(limits.get("enforced")),
            "weight_counters": isinstance(limits, dict) and "ips" in limits,
            "address_request_cap": cap,
            "initial_volume_applied": isinstance(cap, int) and cap >= VOLUME,
            "mangled_frames": "ws_mangle_next" in fields,
            "subscriber_library": library() is not None,
            "judge_source_ip": source_ip or "127.0.0.1 (shared with the runtime)",
        }
        if not capabilities["limits_enforced"]:
            self.notes.append("the simulator does not report enforced limits")
        if not capabilities["initial_volume_applied"]:
            self.notes.append(f"no initial cumulative volume (address cap {cap}): the address "
                              "budget may end the soak")
        if not capabilities["mangled_frames"]:
            self.notes.append("the simulator has no mangled-frame faults")
        if not capabilities["subscriber_library"]:
            self.notes.append("no subscriber library (actors.publishing.subscriber): "
                              "subscribers use a raw SUB socket and cannot replay")
        plan = build_plan(opts, fault_fields=fields)
        return account, evidence, plan, capabilities

    def _subscriber(self, name: str, endpoint: str, record: EventRecord) -> Subscriber:
        sub = make(name, endpoint, record, replay=self.replay)
        sub.start()
        sub.ready.wait(10)
        return sub

    # --- the run ----------------------------------------------------------------------------
    def _configure(self, plan: Plan, grace: float) -> tuple[list[str], str, float]:
        """scripts/run's arguments, the events endpoint and the schedule's start. The replay
        endpoint is offered to the runtime; a runtime that refuses the setting runs without."""
        opts = self.opts
        config = self.work / "runtime.toml"

        def toml(start_at: float) -> str:
            return config_toml(pair=opts.pair, schedule=plan.schedule, start_at=start_at,
                               seed=opts.seed, max_submits_per_s=opts.max_submits_per_s,
                               replay=self.replay)

        self.replay = f"tcp://127.0.0.1:{free_port()}"
        accepted, why = accepts_config(toml(0.0), config, self.work / "soak.key")
        if not accepted:
            self.notes.append(f"the runtime has no replay endpoint setting ({why})")
            self.replay = None
            accepted, why = accepts_config(toml(0.0), config, self.work / "soak.key")
            if not accepted:
                raise RuntimeError(f"scripts/run refuses the soak's configuration: {why}")
        start_at = time.time() + grace
        config.write_text(toml(start_at), encoding="utf-8")
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        args = ["--venue-url", self.venue.base_url, "--key-file", str(self.work / "soak.key"),
                "--data-dir", str(self.work / "data"), "--publish", endpoint,
                "--config", str(config)]
        if opts.chaos_kill_every_s > 0:
            args += ["--chaos-kill-every", f"{opts.chaos_kill_every_s:g}"]
        return args, endpoint, start_at

    def _all_subscribers(self) -> list[Subscriber]:
        return [*self.subscribers, *([self.late_subscriber] if self.late_subscriber else [])]

    def run(self) -> int:
        opts = self.opts
        self._began = time.time()
        account, evidence, plan, capabilities = self.setup()
        grace = STARTUP_GRACE_S / 2 if opts.quick else STARTUP_GRACE_S
        args, endpoint, start_at = self._configure(plan, grace)
        capabilities["replay_endpoint"] = self.replay
        say(f"soak: exchange {self.venue.base_url}, account {account}, events {endpoint}, "
            f"files in {self.work}")
        say(f"soak: load {list(plan.schedule)} from +{grace:g}s; "
            f"{sum(a.kind == 'kill' for a in plan.actions)} kill -9, "
            f"{sum(a.kind in ('fault', 'drop_ws', 'stall') for a in plan.actions)} venue "
            f"faults, actor chaos every {opts.chaos_kill_every_s:g}s")
        for note in self.notes:
            say(f"soak: note: {note}")
        for record in self.records:
            self.subscribers.append(self._subscriber(record.name, endpoint, record))
        poller = self.poller = Poller(evidence, opts.poll_every_s)
        evidence.poll_history()
        poller.start()
        weights = Sampler(self.venue, account)
        weights.sample()
        weights.start()
        runtime = self.runtime = RuntimeProcess(args, self.work / "runtime.log")
        runtime.start()
        rss = RssSampler(runtime)
        rss.start()
        for action in plan.actions:
            self._wait_until(start_at + action.at_s, runtime, start_at)
            self._execute(action, runtime, endpoint)
        self._wait_until(start_at + plan.total_s, runtime, start_at)
        self._control("clear_faults", {})
        weights.sample()
        say("soak: stopping the runtime (SIGINT: it cancels its open orders)")
        stop = runtime.stop()
        weights.sample()
        time.sleep(DRAIN_S)  # events published during the stop are still on their way
        all_subs = self._all_subscribers()
        for sub in all_subs:
            sub.stop()
            sub.join(10)
        for thread in (poller, rss, weights):
            thread.stop_event.set()
            thread.join(30)  # the judge's SDK session is used by one thread at a time
        say("soak: asking the venue about every order")
        open_cloids, open_count = evidence.open_orders()
        records = [*self.records, self.late]
        cloids: set[str] = set()
        for record in records:
            cloids.update(record.last)
        venue_fills, fills_from = evidence.fills(int(self._began * 1000))
        tracked_ms = {c: ns // 1_000_000
                      for c, ns in first_times(records, "tracked_ns").items()}
        answers, evidence_stats = evidence.resolve(
            cloids, budget_s=opts.judge_budget_s, cross_check=opts.cross_check, seed=opts.seed,
            tracked_ms=tracked_ms, filled=set(venue_fills))
        evidence_stats["fills_cloids"] = len(venue_fills)
        evidence_stats["fills_complete_from_ms"] = fills_from
        if evidence.source_ip:
            try:
                evidence_stats["judge_ip_usage"] = self.venue.usage(evidence.source_ip)
            except VenueError as exc:
                evidence_stats["judge_ip_usage"] = str(exc)
        outcome = Outcome(
            opts=opts, plan=plan, start_ns=int(start_at * 1e9), capabilities=capabilities,
            records=records, late_started=self.late_subscriber is not None,
            subscriber_mode=(self.subscribers[0].mode if self.subscribers else ""),
            subscriber_errors=[f"{s.name}: {s.error}" for s in all_subs if s.error],
            subscriber_notices={s.name: dict(s.notices) for s in all_subs if s.notices},
            notice_samples=[n for s in all_subs for n in s.notice_samples[:3]],
            answers=answers, open_cloids=open_cloids, open_count=open_count,
            venue_fills=venue_fills, fills_complete_from_ms=fills_from,
            evidence=evidence_stats, usage=weights.samples if weights.supported else None,
            usage_kinds=weights.kinds if weights.supported else None,
            rss=rss.samples, stop=stop, runtime_starts=runtime.starts,
            runtime_start_seconds=runtime.start_seconds,
            runtime_start_retries=runtime.start_retries, incidents=self.incidents,
            executed=self.executed, notes=self.notes, log_path=runtime.log_path,
            work_dir=self.work)
        summary = build_summary(outcome)
        print_summary(summary, say)
        if opts.out is not None:
            write_json(opts.out, summary)
            say(f"soak: summary written to {opts.out}")
        return 0 if summary["passed"] else 1

    def _wait_until(self, when: float, runtime: RuntimeProcess, start_at: float) -> None:
        while True:
            now = time.time()
            if now >= when:
                return
            if not runtime.alive() and now >= self._retry_at:
                if self._retry_at == 0.0:
                    code = runtime.proc.poll() if runtime.proc is not None else None
                    self._incident(f"+{now - start_at:.0f}s: the runtime exited by itself "
                                   f"(exit {code}); restarting it")
                self._restart(runtime, now - start_at)
            if now >= self._next_report:
                self._progress(now - start_at)
                self._next_report = now + (15 if self.opts.quick else 30)
            time.sleep(min(0.2, max(0.0, when - now)))

    def _incident(self, text: str) -> None:
        self.incidents.append(text)
        say(f"soak: {text}")

    def _restart(self, runtime: RuntimeProcess, elapsed: float) -> None:
        """Start the runtime again; a failure is an incident, retried every 30 s."""
        try:
            runtime.start()
        except StartFailedError as exc:
            self._incident(f"+{elapsed:.0f}s: the runtime did not (re)start: exit {exc.code}: "
                           f"{exc.reason}")
            self._retry_at = time.time() + RESTART_RETRY_S
            return
        self._retry_at = 0.0

    def _progress(self, elapsed: float) -> None:
        events = " ".join(f"{r.name} {r.events}" for r in [*self.records, self.late])
        say(f"soak: [{elapsed:7.1f}s] events {events}")

    def _control(self, op: str, body: dict[str, Any]) -> None:
        try:
            self.venue.control(op, body)
        except VenueError as exc:
            self.incidents.append(f"control {op} failed: {exc}")

    def _execute(self, action: Action, runtime: RuntimeProcess, endpoint: str) -> None:
        self.executed.append(f"+{action.at_s:.0f}s {action.kind} {action.params or ''}".strip())
        if self.opts.verbose:
            say(f"soak: {self.executed[-1]}")
        if action.kind == "kill":
            say(f"soak: +{action.at_s:.0f}s kill -9 of the runtime (pid {runtime.pid}), "
                "restart with the same data dir")
            runtime.kill9()
            self._restart(runtime, action.at_s)
        elif action.kind == "late_subscriber":
            say(f"soak: +{action.at_s:.0f}s a late subscriber starts")
            self.late_subscriber = self._subscriber("late", endpoint, self.late)
        elif action.kind in ("fault", "clear"):
            if "http_error_count" in action.params and self.poller is not None:
                # The judge's polls would take the errors meant for the runtime.
                self.poller.paused_until = time.monotonic() + POLL_PAUSE_S
            self._control("faults", action.params)
        elif action.kind in ("drop_ws", "stall"):
            self._control(action.kind, action.params)

    def shutdown(self, *, keep: bool) -> None:
        """Whatever happened: no process of ours left running."""
        if self.runtime is not None and self.runtime.alive():
            self.runtime.kill9()
        for sub in self._all_subscribers():
            sub.stop()
        self.venue.stop()
        if self._dump is not None:
            self._dump.close()
        if self.opts.work_dir is None and not self.opts.keep and not keep:
            shutil.rmtree(self.work, ignore_errors=True)
        elif keep:
            say(f"soak: files kept in {self.work}")


def main(opts: Options) -> int:
    logging.basicConfig(level=logging.INFO if opts.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    soak = Soak(opts)
    keep = False
    try:
        code = soak.run()
        keep = code != 0  # the logs and the journal explain a failure
        return code
    except (VenueError, RuntimeError) as exc:
        keep = True
        say(f"soak: FAILED to run: {exc}")
        return 2
    except KeyboardInterrupt:
        keep = True
        say("soak: interrupted")
        return 130
    finally:
        soak.shutdown(keep=keep)
