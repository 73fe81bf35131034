"""Faults on demand: what the next requests and WebSocket frames suffer.

Counted faults (``*_next``, ``http_error_count``) are deterministic and what tests use; rates
are seeded random for soak runs. Stalls and delays are applied by the server shell; this
module only decides.

A mangled frame replaces the frame it hits with one of three kinds, in turn for ``_next`` and
chosen by the seeded generator for ``_rate``: JSON cut in the middle, a text frame whose bytes
are not UTF-8, and valid JSON of the wrong shape. An oversized frame (``ws_oversize_next``) is a
syntactically valid l2Book-like frame of ``ws_oversize_bytes`` sent before the frame it hits.
"""

from __future__ import annotations

import random
from typing import Any

import attrs
import orjson

HTTP_ERROR_STATUSES = (429, 500, 502, 503, 504)
MANGLE_KINDS = ("truncated", "invalid_utf8", "wrong_shape")
OVERSIZE_BYTES = 16 << 20
# What the WebSocket writer sends: text, or raw bytes sent as a TEXT frame (possibly not UTF-8).
Frame = str | bytes


@attrs.define(kw_only=True)
class FaultPlan:
    delay_s: float = 0.0  # added before every HTTP response and WS post answer
    http_error_status: int = 0  # 429 or 5xx
    http_error_count: int = 0  # answer the next N /info and /exchange requests with it
    http_error_path: str = ""  # "/exchange" or "/info": only requests to that path; "" both
    ws_post_error_next: int = 0  # answer the next N WS posts {"type":"error"} unprocessed
    ws_post_error_status: int = 502  # the HTTP status the post error mirrors
    ws_post_error_kind: str = ""  # "action" or "info": only posts of that type; "" both
    ws_drop_next: int = 0
    ws_duplicate_next: int = 0
    ws_reorder_next: int = 0  # hold a frame back and send it after the next one
    ws_drop_rate: float = 0.0
    ws_duplicate_rate: float = 0.0
    ws_reorder_rate: float = 0.0
    ws_mangle_next: int = 0  # replace the next N frames with malformed ones (kinds in turn)
    ws_mangle_rate: float = 0.0
    ws_oversize_next: int = 0  # send an oversized frame before each of the next N frames
    ws_oversize_bytes: int = OVERSIZE_BYTES

    def __attrs_post_init__(self) -> None:
        if self.http_error_count and self.http_error_status not in HTTP_ERROR_STATUSES:
            raise ValueError(f"http_error_status must be one of {HTTP_ERROR_STATUSES}")
        if self.ws_post_error_status not in HTTP_ERROR_STATUSES:
            raise ValueError(f"ws_post_error_status must be one of {HTTP_ERROR_STATUSES}")
        if self.http_error_path not in ("", "/info", "/exchange"):
            raise ValueError("http_error_path must be '', '/info' or '/exchange'")
        if self.ws_post_error_kind not in ("", "action", "info"):
            raise ValueError("ws_post_error_kind must be '', 'action' or 'info'")
        rates = (self.ws_drop_rate, self.ws_duplicate_rate, self.ws_reorder_rate,
                 self.ws_mangle_rate)
        if self.delay_s < 0 or any(not 0 <= r <= 1 for r in rates):
            raise ValueError("delay_s must be >= 0 and rates in [0, 1]")
        counts = (self.http_error_count, self.ws_post_error_next, self.ws_drop_next,
                  self.ws_duplicate_next,
                  self.ws_reorder_next, self.ws_mangle_next, self.ws_oversize_next)
        if any(c < 0 for c in counts):
            raise ValueError("fault counts must be >= 0")
        if not 1024 <= self.ws_oversize_bytes <= 1 << 30:
            raise ValueError("ws_oversize_bytes must be in [1 KiB, 1 GiB]")


FAULT_FIELDS = frozenset(a.name for a in attrs.fields(FaultPlan))


class FaultInjector:
    def __init__(self, seed: int = 0) -> None:
        self.plan = FaultPlan()
        self._rng = random.Random(seed)  # noqa: S311 - reproducible chaos, not cryptography
        self.counts: dict[str, int] = {"http_errors": 0, "ws_post_errors": 0,
                                       "ws_dropped": 0, "ws_duplicated": 0,
                                       "ws_reordered": 0, "ws_mangled": 0, "ws_oversized": 0}
        self.counts.update({f"ws_mangled_{kind}": 0 for kind in MANGLE_KINDS})
        self._mangle_turn = 0
        self._oversize: tuple[int, bytes] | None = None

    def set(self, **changes: Any) -> FaultPlan:
        unknown = set(changes) - FAULT_FIELDS
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        self.plan = attrs.evolve(self.plan, **changes)
        return self.plan

    def clear(self) -> None:
        self.plan = FaultPlan()

    def take_http_error(self, path: str = "") -> int | None:
        if self.plan.http_error_count <= 0:
            return None
        if self.plan.http_error_path and path != self.plan.http_error_path:
            return None
        self.plan.http_error_count -= 1
        self.counts["http_errors"] += 1
        return self.plan.http_error_status

    def take_post_error(self, kind: str) -> int | None:
        """The status a WS post of ``kind`` ("action"/"info") is answered with, unprocessed, or
        None (the venue answers such posts with a ``{"type": "error"}`` response mirroring the
        HTTP status the REST call would have got, PROTOCOL §15.5)."""
        plan = self.plan
        if plan.ws_post_error_next <= 0 or (plan.ws_post_error_kind
                                            and kind != plan.ws_post_error_kind):
            return None
        plan.ws_post_error_next -= 1
        self.counts["ws_post_errors"] += 1
        return plan.ws_post_error_status

    def _take(self, counter: str, rate: float) -> bool:
        remaining: int = getattr(self.plan, counter)
        if remaining > 0:
            setattr(self.plan, counter, remaining - 1)
            return True
        return rate > 0 and self._rng.random() < rate

    def ws_filter(self) -> WsFaultFilter:
        return WsFaultFilter(self)

    def mangle(self, text: str) -> Frame | None:
        """A malformed replacement for ``text`` if a mangle fault hits it, else None."""
        plan = self.plan
        if plan.ws_mangle_next > 0:
            plan.ws_mangle_next -= 1
            kind = MANGLE_KINDS[self._mangle_turn % len(MANGLE_KINDS)]
            self._mangle_turn += 1
        elif plan.ws_mangle_rate > 0 and self._rng.random() < plan.ws_mangle_rate:
            kind = self._rng.choice(MANGLE_KINDS)
        else:
            return None
        self.counts["ws_mangled"] += 1
        self.counts[f"ws_mangled_{kind}"] += 1
        return mangled(text, kind)

    def oversize(self) -> bytes | None:
        """The oversized frame if an oversize fault hits the next frame, else None."""
        if self.plan.ws_oversize_next <= 0:
            return None
        self.plan.ws_oversize_next -= 1
        self.counts["ws_oversized"] += 1
        size = self.plan.ws_oversize_bytes
        if self._oversize is None or self._oversize[0] != size:
            self._oversize = (size, oversized_book_frame(size))
        return self._oversize[1]


def mangled(text: str, kind: str) -> Frame:
    """``text`` made malformed in one of the `MANGLE_KINDS` ways."""
    if kind == "truncated":
        return text[: max(1, len(text) // 2)]
    if kind == "invalid_utf8":
        raw = text.encode()
        cut = len(raw) // 2
        return raw[:cut] + b"\xff\xfe" + raw[cut:]
    try:
        channel = orjson.loads(text).get("channel", "l2Book")
    except (orjson.JSONDecodeError, AttributeError):
        channel = "l2Book"
    # Parses, names a real channel, but its data is not what that channel carries.
    return orjson.dumps({"channel": channel, "data": [{"unexpected": True}, 42, None]}).decode()


def oversized_book_frame(size: int) -> bytes:
    """A syntactically valid l2Book frame of at least ``size`` bytes (one huge bid side)."""
    level = b'{"px":"1.0","sz":"1.0","n":1},'
    head = b'{"channel":"l2Book","data":{"coin":"ETH","time":0,"levels":[['
    tail = b'{"px":"1.0","sz":"1.0","n":1}],[]]}}'
    count = max(0, (size - len(head) - len(tail)) // len(level) + 1)
    return head + level * count + tail


class WsFaultFilter:
    """Per-connection frame mangling (a held frame belongs to one connection)."""

    def __init__(self, injector: FaultInjector) -> None:
        self._inj = injector
        self._held: Frame | None = None

    def apply(self, text: str) -> list[Frame]:
        inj = self._inj
        plan = inj.plan
        if inj._take("ws_drop_next", plan.ws_drop_rate):
            inj.counts["ws_dropped"] += 1
            return []
        first: list[Frame] = []
        big = inj.oversize()
        if big is not None:
            first.append(big)
        frame: Frame = text
        bad = inj.mangle(text)
        if bad is not None:
            frame = bad
        out = [*first, frame]
        if inj._take("ws_duplicate_next", plan.ws_duplicate_rate):
            inj.counts["ws_duplicated"] += 1
            out.append(frame)
        if self._held is None and inj._take("ws_reorder_next", plan.ws_reorder_rate):
            inj.counts["ws_reordered"] += 1
            self._held = frame
            out.remove(frame)
            return out
        if self._held is not None:
            out.append(self._held)
            self._held = None
        return out
