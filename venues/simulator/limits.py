"""The venue's limits (PROTOCOL §14), enforced by default.

Per client IP: REST weight (``/info`` + ``/exchange``, 1200 per minute), WebSocket messages sent
by clients (2000 per minute), ``post`` requests in flight (100), subscriptions (1000), unique
users across user subscriptions (10) and connections (100). Per address: the request budget
(10 000 + 1 per USDC traded, cancels up to min(cap + 100 000, 2 × cap), then one request per
10 s) and the open-order cap (1000 + 1 per 5M USDC traded, at most 5000; reduce-only and trigger
orders stop at 1000).

"Per minute" is modelled as a bucket holding one minute's allowance, refilled continuously:
the most lenient reading of the docs, so every client that keeps to any per-minute reading
(a sliding minute, a bucket) is accepted, while no client gets more than the allowance per
minute in the long run. A client counting fixed calendar minutes can burst twice the allowance
across a minute boundary; this simulator refuses that.

With limits off (``enforce_limits = false``) everything is still counted, so ``/_control/state``
reports what a client used, but nothing is refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any

import attrs

from venues.simulator.accounts import Account

MAX_OPEN_ORDERS_TEXT = "Too many open orders."
PENDING_POSTS_TEXT = "too many pending post requests"
WS_MESSAGES_TEXT = "too many messages sent"
# Info requests the docs price at 2 and 60; every other documented one weighs 20.
_INFO_LIGHT = frozenset({"l2Book", "allMids", "clearinghouseState", "orderStatus",
                         "spotClearinghouseState", "exchangeStatus"})
_INFO_HEAVY = {"userRole": 60}
# Requests whose answer adds 1 weight per N items returned.
_PER_ITEMS = {
    "recentTrades": 20, "historicalOrders": 20, "userFills": 20, "userFillsByTime": 20,
    "fundingHistory": 20, "userFunding": 20, "nonUserFundingUpdates": 20, "twapHistory": 20,
    "userTwapSliceFills": 20, "userTwapSliceFillsByTime": 20, "delegatorHistory": 20,
    "delegatorRewards": 20, "validatorStats": 20, "candleSnapshot": 60,
}
_BATCH_KEYS = ("orders", "cancels", "modifies")


@attrs.frozen(kw_only=True)
class LimitsConfig:
    """The venue's numbers; tests shrink them to reach a limit with a handful of requests."""

    ip_weight: int = 1200  # REST weight per window per IP
    window_s: float = 60.0  # the "minute" of the per-minute limits
    ws_messages: int = 2000  # messages sent by clients per window per IP
    ws_inflight_posts: int = 100
    ws_subscriptions: int = 1000
    ws_users: int = 10  # unique users across user-specific subscriptions per IP
    ws_connections: int = 100
    address_initial: int = 10_000
    address_cancel_extra: int = 100_000
    address_throttle_s: float = 10.0  # once over budget: one request per this many seconds
    open_orders: int = 1000
    open_orders_max: int = 5000
    open_orders_volume_step: int = 5_000_000  # USDC traded per extra open order

    def __attrs_post_init__(self) -> None:
        counts = (self.ip_weight, self.ws_messages, self.ws_inflight_posts,
                  self.ws_subscriptions, self.ws_users, self.ws_connections,
                  self.address_initial, self.open_orders, self.open_orders_max,
                  self.open_orders_volume_step)
        if any(c < 1 for c in counts) or self.address_cancel_extra < 0:
            raise ValueError("limits must be positive integers")
        if self.window_s <= 0 or self.address_throttle_s < 0:
            raise ValueError("limits: window_s must be > 0 and address_throttle_s >= 0")
        if self.open_orders_max < self.open_orders:
            raise ValueError("limits: open_orders_max must be >= open_orders")


# --- request weights ----------------------------------------------------------------------------


def info_weight(body: Any) -> int:
    """The weight of an ``/info`` body before its answer is known."""
    kind = body.get("type") if isinstance(body, dict) else None
    if kind in _INFO_LIGHT:
        return 2
    return _INFO_HEAVY.get(kind, 20) if isinstance(kind, str) else 20


def info_extra_weight(body: Any, answer: Any) -> int:
    """What the items of an answer add (``userFills``: +1 per 20 fills, …)."""
    kind = body.get("type") if isinstance(body, dict) else None
    per = _PER_ITEMS.get(kind) if isinstance(kind, str) else None
    if per is None or not isinstance(answer, list):
        return 0
    return len(answer) // per


def batch_length(action: Any) -> int:
    """The number of orders, cancels or modifies in an action (1 for other actions)."""
    if isinstance(action, dict):
        for key in _BATCH_KEYS:
            items = action.get(key)
            if isinstance(items, list):
                return max(1, len(items))
    return 1


def usage_kind(transport: str, body: Any) -> str:
    """What a request spends its units on, for the usage counters: ``rest info:orderStatus``,
    ``ws post action:order``, ``ws subscribe``, ``ws ping``…"""
    if not isinstance(body, dict):
        return transport
    if transport == "ws":
        method = body.get("method")
        if method != "post":
            return f"ws {method if method in ('ping', 'subscribe', 'unsubscribe') else 'other'}"
        request = body.get("request")
        if not isinstance(request, dict):
            return "ws post"
        transport, body = f"ws post {request.get('type')}", request.get("payload")
        if not isinstance(body, dict):
            return transport
    action = body.get("action")
    kind = action.get("type") if isinstance(action, dict) else body.get("type")
    return f"{transport}:{kind if isinstance(kind, str) else '?'}"


def exchange_weight(body: Any) -> int:
    """``1 + floor(n / 40)`` for a batch of n."""
    action = body.get("action") if isinstance(body, dict) else None
    return 1 + batch_length(action) // 40


# --- per-IP allowances -------------------------------------------------------------------------


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``capacity`` per ``window_s``.

    Kept in integer units of 1/window_ns token, so a client pacing itself exactly at the
    allowance is never refused by a rounding error."""

    def __init__(self, capacity: int, window_s: float, now_ns: int) -> None:
        self.capacity = capacity
        self._window_ns = max(1, round(window_s * 1e9))
        self._full = capacity * self._window_ns
        self._level = self._full
        self._last_ns = now_ns

    def _refill(self, now_ns: int) -> None:
        if now_ns > self._last_ns:
            self._level = min(self._full, self._level + (now_ns - self._last_ns) * self.capacity)
            self._last_ns = now_ns

    @property
    def tokens(self) -> float:
        return self._level / self._window_ns

    def available(self, now_ns: int) -> float:
        self._refill(now_ns)
        return self.tokens

    def take(self, amount: int, now_ns: int, *, force: bool = False) -> bool:
        """Take ``amount`` if there is that much (always with ``force``, possibly into debt)."""
        self._refill(now_ns)
        need = amount * self._window_ns
        if self._level < need and not force:
            return False
        self._level -= need
        return True


@attrs.define
class _IpState:
    weight: TokenBucket
    messages: TokenBucket
    inflight_posts: int = 0
    peak_inflight_posts: int = 0
    connections: int = 0
    subscriptions: int = 0
    users: Counter[str] = attrs.Factory(Counter)
    weight_charged: int = 0
    requests: int = 0
    ws_messages: int = 0
    by_kind: Counter[str] = attrs.Factory(Counter)
    """Units (REST weight, WS messages) by what spent them: where a client's budget goes."""


REFUSAL_KINDS = ("ip_weight", "ws_messages", "ws_inflight_posts", "ws_subscriptions",
                 "ws_users", "ws_connections", "address_budget", "open_orders")


class Limits:
    """Every limit's state and refusal counters; one per simulator, used on its thread."""

    def __init__(self, config: LimitsConfig, *, enforce: bool, enforce_address: bool,
                 monotonic_ns: Callable[[], int]) -> None:
        self.config = config
        self.enforce = enforce
        self.enforce_address = enforce_address
        self._now = monotonic_ns
        self._ips: dict[str, _IpState] = {}
        self.refusals: dict[str, int] = dict.fromkeys(REFUSAL_KINDS, 0)
        # Accounts exempt from the open-order cap: the synthetic market's own participants.
        self.exempt: set[str] = set()

    def _ip(self, ip: str) -> _IpState:
        state = self._ips.get(ip)
        if state is None:
            now = self._now()
            cfg = self.config
            state = self._ips[ip] = _IpState(
                weight=TokenBucket(cfg.ip_weight, cfg.window_s, now),
                messages=TokenBucket(cfg.ws_messages, cfg.window_s, now),
            )
        return state

    def _refuse(self, kind: str) -> bool:
        """Count a refusal; True if it is enforced."""
        self.refusals[kind] += 1
        return self.enforce

    # --- REST ---------------------------------------------------------------------------------

    def take_weight(self, ip: str, weight: int, kind: str = "rest") -> bool:
        """Charge a request's weight; False means answer 429."""
        state = self._ip(ip)
        now = self._now()
        if not state.weight.take(weight, now):
            if self._refuse("ip_weight"):
                return False
            state.weight.take(weight, now, force=True)
        state.weight_charged += weight
        state.requests += 1
        state.by_kind[kind] += weight
        return True

    def charge_weight(self, ip: str, weight: int, kind: str = "rest") -> None:
        """Weight known only after answering (items returned): may leave the IP in debt."""
        if weight > 0:
            state = self._ip(ip)
            state.weight.take(weight, self._now(), force=True)
            state.weight_charged += weight
            state.by_kind[kind] += weight

    # --- WebSocket ----------------------------------------------------------------------------

    def connect(self, ip: str) -> bool:
        state = self._ip(ip)
        if state.connections >= self.config.ws_connections and self._refuse("ws_connections"):
            return False
        state.connections += 1
        return True

    def disconnect(self, ip: str, pending_posts: int) -> None:
        state = self._ip(ip)
        state.connections = max(0, state.connections - 1)
        state.inflight_posts = max(0, state.inflight_posts - pending_posts)

    def take_message(self, ip: str, kind: str = "ws") -> bool:
        state = self._ip(ip)
        state.ws_messages += 1
        state.by_kind[kind] += 1
        now = self._now()
        if not state.messages.take(1, now):
            if self._refuse("ws_messages"):
                return False
            state.messages.take(1, now, force=True)
        return True

    def post_started(self, ip: str) -> bool:
        state = self._ip(ip)
        if (state.inflight_posts >= self.config.ws_inflight_posts
                and self._refuse("ws_inflight_posts")):
            return False
        state.inflight_posts += 1
        state.peak_inflight_posts = max(state.peak_inflight_posts, state.inflight_posts)
        return True

    def post_finished(self, ip: str) -> None:
        state = self._ip(ip)
        state.inflight_posts = max(0, state.inflight_posts - 1)

    def subscribe(self, ip: str, user: str | None) -> str:
        """Count a new subscription; the refusal kind if it is over a limit, else ``""``."""
        state = self._ip(ip)
        if state.subscriptions >= self.config.ws_subscriptions:
            if self._refuse("ws_subscriptions"):
                return "ws_subscriptions"
        elif (user is not None and user not in state.users
              and len(state.users) >= self.config.ws_users and self._refuse("ws_users")):
            return "ws_users"
        state.subscriptions += 1
        if user is not None:
            state.users[user] += 1
        return ""

    def unsubscribe(self, ip: str, user: str | None) -> None:
        state = self._ip(ip)
        state.subscriptions = max(0, state.subscriptions - 1)
        if user is not None:
            state.users[user] -= 1
            if state.users[user] <= 0:
                del state.users[user]

    # --- per address --------------------------------------------------------------------------

    def request_cap(self, account: Account) -> int:
        """``nRequestsCap``: the initial buffer plus one request per whole USDC traded."""
        return self.config.address_initial + int(account.cum_volume)

    def charge_address(self, account: Account, n: int, *, is_cancel: bool, now_ms: int) -> str:
        """Count an action of ``n`` requests; the venue's refusal text if over budget.

        The venue lets an address send while its count stays below ``nRequestsCap``; its
        refusals print ``nRequestsCap - 1`` (every refusal seen in the wild reads that way,
        e.g. ``(14295 > 14294)`` at $4295.52 traded). A refused request counts too.
        """
        cap = self.request_cap(account)
        if is_cancel:
            cap = min(cap + self.config.address_cancel_extra, 2 * cap)
        account.n_requests += n
        over = account.n_requests >= cap
        throttle_ms = int(self.config.address_throttle_s * 1000)
        if over and account.last_allowed_ms is not None:
            over = now_ms - account.last_allowed_ms < throttle_ms
        if over and self.enforce_address:
            self.refusals["address_budget"] += 1
            return (
                f"Too many cumulative requests sent ({account.n_requests} > {cap - 1}) for "
                f"cumulative volume traded ${_volume_text(account.cum_volume)}. Place taker "
                f"orders to free up 1 request per USDC traded."
            )
        if over:
            self.refusals["address_budget"] += 1
        account.last_allowed_ms = now_ms
        return ""

    def open_order_refusal(
        self, user: str, live: int, cum_volume: Decimal, *, reduce_only_or_trigger: bool
    ) -> bool:
        """True if a new order must be rejected (``tooManyOpenOrdersRejected``)."""
        if user in self.exempt:
            return False
        cfg = self.config
        earned = int(cum_volume) // cfg.open_orders_volume_step
        cap = min(cfg.open_orders_max, cfg.open_orders + earned)
        if reduce_only_or_trigger:
            cap = min(cap, cfg.open_orders)
        return live >= cap and self._refuse("open_orders")

    # --- reporting ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        now = self._now()
        ips: dict[str, Any] = {}
        for ip, s in self._ips.items():
            ips[ip] = {
                "weight_available": round(s.weight.available(now), 3),
                "weight_charged": s.weight_charged, "requests": s.requests,
                "ws_messages": s.ws_messages,
                "ws_messages_available": round(s.messages.available(now), 3),
                "ws_inflight_posts": s.inflight_posts,
                "ws_peak_inflight_posts": s.peak_inflight_posts,
                "ws_connections": s.connections, "ws_subscriptions": s.subscriptions,
                "ws_users": len(s.users),
                "usage_by_kind": dict(s.by_kind),
            }
        return {"enforced": self.enforce, "address_budget_enforced": self.enforce_address,
                "refusals": dict(self.refusals), "ips": ips}

    def reset(self) -> None:
        """Forget every IP's usage (connection and subscription counts are kept)."""
        for ip, s in list(self._ips.items()):
            fresh = _IpState(weight=TokenBucket(self.config.ip_weight, self.config.window_s,
                                                self._now()),
                             messages=TokenBucket(self.config.ws_messages, self.config.window_s,
                                                  self._now()))
            fresh.connections, fresh.subscriptions, fresh.users = (
                s.connections, s.subscriptions, s.users)
            fresh.inflight_posts = s.inflight_posts
            self._ips[ip] = fresh
        self.refusals = dict.fromkeys(REFUSAL_KINDS, 0)


def _volume_text(volume: Decimal) -> str:
    """``$4295.52``, ``$197575``: cents, no trailing zeros (as the venue's refusals show)."""
    cents = volume.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    text = format(cents, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def limits_from_mapping(data: Mapping[str, Any]) -> LimitsConfig:
    try:
        return LimitsConfig(**data)
    except TypeError as exc:
        raise ValueError(f"bad [limits]: {exc}") from None
