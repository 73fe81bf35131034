"""What the venue says about the account's orders, asked through the official SDK's ``Info``.

The judge is an outside client: it connects from its own loopback address (127.0.0.2 when the
machine allows it), so the venue's per-IP weight limit charges it, not the runtime, as a
tester on another machine would be charged.

Why it polls during the soak: the venue (and the local exchange) keeps a bounded order
history per account — ``historicalOrders`` answers the 2,000 most recent orders, and the local
exchange forgets finished orders beyond 5,000, after which ``orderStatus`` by cloid answers
``unknownOid``. At a few hundred orders a second only polling sees every order. Each poll of
``historicalOrders`` (weight 20 + 1 per 20 orders returned) overlaps the previous one when no
more than 2,000 orders were created in between; when one does not, the time between the two
polls is a gap. A cloid the venue never listed was never placed (``unknownOid``) unless its
order was tracked around a gap. At the end the judge asks ``orderStatus`` by cloid
(``query_order_by_cloid``) for every cloid whose listed status was not final or whose order was
tracked around a gap, and for a sample of the rest as a cross-check; an ``unknownOid`` for an
order listed before, with fills, or from a gap is not trusted (the exchange may have forgotten
it), so that order stays unjudged. ``openOrders`` lists what is left open, ``userFillsByTime``
the fills.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any

from .judge import VenueOrder

log = logging.getLogger(__name__)
HISTORY_LIMIT = 2000
"""Orders per ``historicalOrders`` answer, fills per ``userFillsByTime`` page."""
FILLS_REACHABLE = 10_000
RETRY_5XX_S = 0.1
GAP_BEFORE_MS = 30_000
GAP_AFTER_MS = 5_000
"""An order tracked this long before a polling gap opened, or after it closed, may have been
created at the venue inside it (it may wait for the rate budget; the clocks differ a little)."""
FINAL_STATUSES_OPEN = ("open", "triggered")


def make_info(base_url: str, source_ip: str | None) -> Any:
    """An SDK ``Info`` (no WebSocket) whose requests leave from ``source_ip``."""
    from hyperliquid.info import Info
    from requests.adapters import HTTPAdapter

    class SourceAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["source_address"] = (source_ip, 0)
            super().init_poolmanager(*args, **kwargs)

    class SoakInfo(Info):  # type: ignore[misc]
        def post(self, url_path: str, payload: Any = None) -> Any:
            # The session exists only once Info.__init__ started (and asks for the markets).
            if source_ip and not getattr(self, "_mounted", False):
                self.session.mount("http://", SourceAdapter())
                self._mounted = True
            return super().post(url_path, payload)

    return SoakInfo(base_url, skip_ws=True, timeout=15)


def is_rate_limited(exc: BaseException) -> bool:
    return getattr(exc, "status_code", None) == 429


class Evidence:
    def __init__(self, info: Any, account: str, *, source_ip: str | None,
                 sleep: Callable[[float], None] = time.sleep,
                 now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        """``info``: an SDK ``Info`` (`make_info`) or anything answering the same calls."""
        self.account = account
        self.info = info
        self.source_ip = source_ip
        self._sleep = sleep
        self._now_ms = now_ms
        self._last_poll_ms: int | None = None
        self.gap_windows: list[tuple[int, int]] = []
        """(ms, ms): orders the venue created in between may never have been listed."""
        self._lock = threading.Lock()
        self.legs: dict[int, tuple[str, str]] = {}
        """oid → (cloid, status) for every order of the account a poll listed."""
        self.polls = 0
        self.gaps = 0
        self.full_polls = 0
        self._newest_oid = 0
        self.errors: Counter[str] = Counter()
        self.queried = 0
        self.rate_limited = 0

    def _call(self, fn: Callable[[], Any], what: str, attempts: int = 30) -> Any:
        """Call the venue and retry: at once after a 5xx (an injected burst is a few answers;
        waiting would only open a polling gap), with a growing wait after a 429 (the judge
        keeps to its own IP budget)."""
        from hyperliquid.utils.error import ClientError, ServerError
        from requests import RequestException

        delay = 1.0
        for _ in range(attempts):
            try:
                return fn()
            except (ClientError, ServerError, RequestException) as exc:
                if is_rate_limited(exc):
                    self.rate_limited += 1
                    self._sleep(delay)
                    delay = min(delay * 1.5, 10.0)
                else:
                    self.errors[f"{what}: {type(exc).__name__}"] += 1
                    self._sleep(RETRY_5XX_S)
        raise RuntimeError(f"the venue did not answer {what} after {attempts} attempts")

    def poll_history(self, attempts: int = 30) -> int:
        """One ``historicalOrders`` poll; returns how many orders it listed."""
        asked_ms = self._now_ms()
        answer = self._call(lambda: self.info.historical_orders(self.account),
                            "historicalOrders", attempts)
        rows = answer if isinstance(answer, list) else []
        oids: list[int] = []
        created: list[int] = []
        with self._lock:
            for row in rows:
                order = row.get("order") if isinstance(row, dict) else None
                if not isinstance(order, dict) or not isinstance(order.get("oid"), int):
                    continue
                cloid = order.get("cloid")
                if isinstance(cloid, str):
                    self.legs[order["oid"]] = (cloid.lower(), str(row.get("status")))
                oids.append(order["oid"])
                if isinstance(order.get("timestamp"), int):
                    created.append(order["timestamp"])
            if len(rows) >= HISTORY_LIMIT:
                self.full_polls += 1
                if self.polls and oids and min(oids) > self._newest_oid:
                    # Orders created between the last poll and the oldest order listed now may
                    # never have been listed.
                    self.gaps += 1
                    since = self._last_poll_ms if self._last_poll_ms is not None else 0
                    self.gap_windows.append((since, min(created) if created else asked_ms))
            self._last_poll_ms = asked_ms
            if oids:
                self._newest_oid = max(self._newest_oid, *oids)
            self.polls += 1
        return len(rows)

    def latest_status(self) -> dict[str, str]:
        """Per cloid, the status of its newest leg (a modify gives the cloid a new oid)."""
        with self._lock:
            out: dict[str, str] = {}
            for _oid, (cloid, status) in sorted(self.legs.items()):
                out[cloid] = status
            return out

    def fills(self, start_ms: int) -> tuple[dict[str, Decimal], int | None]:
        """The size filled per cloid since ``start_ms`` (``userFillsByTime``, pages of 2,000,
        deduplicated by trade id), and from when the answer is complete: None when every fill
        since ``start_ms`` was reachable (the venue keeps the 10,000 most recent)."""
        by_tid: dict[int, tuple[str, Decimal]] = {}
        since = start_ms
        earliest: int | None = None
        while True:
            page = self._call(functools.partial(self.info.user_fills_by_time, self.account,
                                                since), "userFillsByTime")
            rows = [r for r in page if isinstance(r, dict)] if isinstance(page, list) else []
            for r in rows:
                if isinstance(r.get("cloid"), str) and isinstance(r.get("tid"), int):
                    by_tid[r["tid"]] = (r["cloid"].lower(), Decimal(str(r.get("sz", "0"))))
                if isinstance(r.get("time"), int):
                    earliest = r["time"] if earliest is None else min(earliest, r["time"])
            if len(rows) < HISTORY_LIMIT:
                break
            last = max((r["time"] for r in rows if isinstance(r.get("time"), int)),
                       default=since)
            since = last if last > since else since + 1  # a full page inside one ms
        out: dict[str, Decimal] = {}
        for cloid, size in by_tid.values():
            out[cloid] = out.get(cloid, Decimal(0)) + size
        complete_from = None
        if len(by_tid) >= FILLS_REACHABLE and earliest is not None:
            complete_from = earliest  # older fills may have been forgotten
        return out, complete_from

    def request_cap(self) -> int | None:
        """The address's request budget (``userRateLimit``: 10,000 + 1 per USDC traded)."""
        answer = self._call(lambda: self.info.user_rate_limit(self.account), "userRateLimit")
        cap = answer.get("nRequestsCap") if isinstance(answer, dict) else None
        return cap if isinstance(cap, int) else None

    def open_orders(self) -> tuple[set[str], int]:
        """Cloids open at the venue, and how many open orders there are in all."""
        rows = self._call(lambda: self.info.open_orders(self.account), "openOrders")
        cloids = {str(r["cloid"]).lower() for r in rows
                  if isinstance(r, dict) and isinstance(r.get("cloid"), str)}
        return cloids, len(rows)

    def order_status(self, cloid: str) -> VenueOrder:
        from hyperliquid.utils.types import Cloid

        answer = self._call(lambda: self.info.query_order_by_cloid(
            self.account, Cloid.from_str(cloid)), "orderStatus")
        self.queried += 1
        if isinstance(answer, dict) and answer.get("status") == "order":
            status = answer.get("order", {}).get("status")
            return VenueOrder(status=str(status), source="orderStatus")
        if isinstance(answer, dict) and answer.get("status") == "unknownOid":
            return VenueOrder(status="unknownOid", source="orderStatus")
        return VenueOrder(status=f"unreadable answer {str(answer)[:80]}", source="orderStatus")

    def in_gap(self, tracked_ms: int | None) -> bool:
        """Whether an order tracked then may have been created at the venue inside a polling
        gap (it may wait in the runtime up to ``GAP_BEFORE_MS`` before it leaves)."""
        if not self.gap_windows:
            return False
        if tracked_ms is None:
            return True
        return any(lo - GAP_BEFORE_MS <= tracked_ms <= hi + GAP_AFTER_MS
                   for lo, hi in self.gap_windows)

    def resolve(self, cloids: Collection[str], *, budget_s: float, cross_check: int, seed: int,
                tracked_ms: dict[str, int] | None = None, filled: Collection[str] = ()
                ) -> tuple[dict[str, VenueOrder], dict[str, Any]]:
        """The venue's status for each cloid (and every cloid it listed), within ``budget_s`` of
        ``orderStatus`` queries. ``tracked_ms``: when each order was tracked (to place it
        against polling gaps); ``filled``: cloids with fills at the venue (so placed)."""
        self.poll_history()
        listed = self.latest_status()
        tracked = tracked_ms or {}
        answers: dict[str, VenueOrder] = {}
        to_ask: list[str] = []
        ambiguous: set[str] = set()
        """Not listed and maybe created in a gap: an unknownOid may mean forgotten since."""
        # Orders the venue listed that no subscriber heard of are judged too (lost events).
        for cloid in sorted(set(cloids) | set(listed)):
            status = listed.get(cloid)
            if status is not None and status not in FINAL_STATUSES_OPEN:
                answers[cloid] = VenueOrder(status=status, source="historicalOrders")
            elif status is None and not self.in_gap(tracked.get(cloid)):
                answers[cloid] = VenueOrder(status="unknownOid", source="historicalOrders")
            else:
                to_ask.append(cloid)
                if status is None:
                    ambiguous.add(cloid)
        rng = random.Random(seed)
        sample = rng.sample(sorted(answers), min(cross_check, len(answers)))
        deadline = time.monotonic() + budget_s
        disagreements: list[str] = []
        forgotten = 0
        for cloid in to_ask + sample:
            if time.monotonic() > deadline:
                break
            answer = self.order_status(cloid)
            known = answers.get(cloid)
            if known is not None and known.status != answer.status and not (
                    answer.status == "unknownOid" and known.source == "historicalOrders"):
                # The local exchange forgets finished orders beyond its history: an
                # unknownOid for an order it listed is that, not a disagreement.
                disagreements.append(f"{cloid}: listed {known.status}, orderStatus "
                                     f"{answer.status}")
            if answer.status == "unknownOid" and (known is not None or cloid in listed
                                                  or cloid in ambiguous or cloid in filled):
                # It was listed, filled, or maybe created in a gap: forgotten since, or never
                # placed — the venue cannot tell any more, so it is not judged.
                forgotten += cloid in ambiguous or cloid in filled
                continue
            answers[cloid] = answer
        stats = {"polls": self.polls, "full_polls": self.full_polls, "gaps": self.gaps,
                 "coverage_complete": not self.gap_windows, "gap_windows": self.gap_windows[:20],
                 "ambiguous": len(ambiguous), "ambiguous_forgotten": forgotten,
                 "listed_cloids": len(listed),
                 "order_status_queries": self.queried, "asked_unresolved": len(to_ask),
                 "cross_checked": len(sample), "cross_check_disagreements": disagreements[:20],
                 "rate_limited": self.rate_limited, "errors": dict(self.errors),
                 "source_ip": self.source_ip}
        return answers, stats


def pick_source_ip(venue_host: str) -> str | None:
    """127.0.0.2 when the venue is on loopback and the address can be bound, else None."""
    import socket

    if not venue_host.startswith("127."):
        return None
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.2", 0))
    except OSError:
        return None
    return "127.0.0.2"


class Poller(threading.Thread):
    """Polls ``historicalOrders`` every ``every_s`` until stopped."""

    def __init__(self, evidence: Evidence, every_s: float) -> None:
        super().__init__(name="soak-history-poller", daemon=True)
        self.evidence = evidence
        self.every_s = every_s
        self.stop_event = threading.Event()
        self.paused_until = 0.0
        """time.monotonic() before which it does not poll."""

    def run(self) -> None:
        """Polls start ``every_s`` apart (a slow poll does not push the next one back); a
        failed one is tried again after a second."""
        next_at = time.monotonic() + self.every_s
        while not self.stop_event.wait(max(0.0, next_at - time.monotonic())):
            now = time.monotonic()
            if now < self.paused_until:
                next_at = self.paused_until  # a 5xx burst is meant for the runtime first
                continue
            try:
                self.evidence.poll_history(attempts=20)
            except RuntimeError as exc:
                log.warning("history poll failed: %s", exc)
                next_at = time.monotonic() + 1.0
                continue
            next_at = now + self.every_s
