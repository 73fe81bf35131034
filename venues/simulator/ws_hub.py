"""WebSocket protocol logic: subscriptions, fan-out of engine events, ``post`` and ping.

Transport-free: a connection is an id plus an `Outbox` that accepts text frames. The server
shell feeds engine events to `publish` and received frames to `admit` (counts the message and
a ``post`` in flight against the IP's limits; refusals answer on the ``error`` channel), then
`handle` (possibly later: the server answers after its simulated latency); `on_text` does both.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

import attrs
import orjson

from venues.simulator import render
from venues.simulator.actions import DESERIALIZE_TEXT, DeserializeError, address
from venues.simulator.engine import Engine
from venues.simulator.info_service import aggregate_by_time
from venues.simulator.limits import PENDING_POSTS_TEXT, WS_MESSAGES_TEXT, Limits, usage_kind
from venues.simulator.model import (
    BookChanged,
    Event,
    Fill,
    FillsHappened,
    OrderUpdated,
    SystemCanceled,
    TradePrinted,
)

log = logging.getLogger(__name__)

CONNECTED_TEXT = "Websocket connection established."
LOCAL_IP = "local"  # the client IP of connections registered without one (unit tests)
USER_KINDS = frozenset({"orderUpdates", "userEvents", "userFills", "notification"})
Key = tuple[Any, ...]
Handler = Callable[[Any], Any]
_INVALID = object()


@attrs.frozen
class Inbound:
    """A received frame admitted for handling."""

    text: str
    msg: Any  # the parsed JSON, or _INVALID
    is_post: bool


# The venue's texts are not published: the simulator's own wording, with the subscription
# echoed so a client can match the refusal to its request (as it does "Already subscribed").
SUBSCRIPTION_REFUSALS = {
    "ws_subscriptions": "Too many subscriptions",
    "ws_users": "Too many users across user subscriptions",
}


def _user_of(key: Key) -> str | None:
    return str(key[1]) if key[0] in USER_KINDS else None


class Outbox(Protocol):
    def send(self, text: str) -> None: ...


def frame(channel: str, data: Any) -> str:
    return orjson.dumps({"channel": channel, "data": data}).decode()


class WsHub:
    def __init__(self, engine: Engine, info: Handler, exchange: Handler, limits: Limits,
                 post_error: Callable[[str], int | None] = lambda kind: None) -> None:
        self._engine = engine
        self._post_error = post_error
        """A fault: the status a post of this type is answered with, unprocessed, or None."""
        self._info = info
        self._exchange = exchange
        self._limits = limits
        self._ips: dict[int, str] = {}
        self._pending_posts: dict[int, int] = {}
        self._outboxes: dict[int, Outbox] = {}
        self._subs: dict[int, dict[Key, dict[str, Any]]] = {}
        self._index: dict[Key, set[int]] = defaultdict(set)
        self._last_bbo: dict[str, str] = {}
        self._last_mids: str = ""

    # --- connections -------------------------------------------------------------------------

    def connect(self, conn_id: int, outbox: Outbox, ip: str = LOCAL_IP) -> bool:
        """Register a connection; False if its IP already has its maximum of connections."""
        if not self._limits.connect(ip):
            return False
        self._ips[conn_id] = ip
        self._pending_posts[conn_id] = 0
        self._outboxes[conn_id] = outbox
        self._subs[conn_id] = {}
        return True

    def disconnect(self, conn_id: int) -> None:
        ip = self._ips.pop(conn_id, None)
        if ip is None:
            return
        self._outboxes.pop(conn_id, None)
        self._limits.disconnect(ip, self._pending_posts.pop(conn_id, 0))
        for key in self._subs.pop(conn_id, {}):
            self._index[key].discard(conn_id)
            self._limits.unsubscribe(ip, _user_of(key))

    def connections(self) -> list[int]:
        return list(self._outboxes)

    def subscriber_count(self, key: Key) -> int:
        return len(self._index.get(key, ()))

    def _send(self, conn_id: int, text: str) -> None:
        outbox = self._outboxes.get(conn_id)
        if outbox is not None:
            outbox.send(text)

    def _fan_out(self, key: Key, text: str) -> None:
        for conn_id in list(self._index.get(key, ())):
            self._send(conn_id, text)

    # --- inbound -----------------------------------------------------------------------------

    def on_text(self, conn_id: int, text: str) -> None:
        inbound = self.admit(conn_id, text)
        if inbound is not None:
            self.handle(conn_id, inbound)

    def admit(self, conn_id: int, text: str) -> Inbound | None:
        """Count a received frame against the IP's limits; None if refused (answered on the
        ``error`` channel, a post's refusal ending in ``id=<its id>`` as the venue's does)."""
        ip = self._ips.get(conn_id)
        if ip is None:
            return None
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            msg = _INVALID
        is_post = isinstance(msg, dict) and msg.get("method") == "post"
        suffix = f" id={msg.get('id')}" if is_post else ""
        if not self._limits.take_message(ip, usage_kind("ws", msg)):
            self._send(conn_id, frame("error", WS_MESSAGES_TEXT + suffix))
            return None
        if is_post:
            if not self._limits.post_started(ip):
                self._send(conn_id, frame("error", PENDING_POSTS_TEXT + suffix))
                return None
            self._pending_posts[conn_id] += 1
        return Inbound(text, msg, is_post)

    def handle(self, conn_id: int, inbound: Inbound) -> None:
        """Answer an admitted frame (a no-op once its connection is gone)."""
        ip = self._ips.get(conn_id)
        if ip is None:
            return
        try:
            self._dispatch(conn_id, inbound.text, inbound.msg)
        finally:
            if inbound.is_post:
                self._pending_posts[conn_id] -= 1
                self._limits.post_finished(ip)

    def _dispatch(self, conn_id: int, text: str, msg: Any) -> None:
        if msg is _INVALID:
            self._send(conn_id, frame("error", f"Invalid JSON: {text[:100]}"))
            return
        method = msg.get("method") if isinstance(msg, dict) else None
        if method == "ping":
            self._send(conn_id, '{"channel":"pong"}')
        elif method in ("subscribe", "unsubscribe"):
            self._subscription(conn_id, method, msg.get("subscription"))
        elif method == "post":
            self._post(conn_id, msg)
        else:
            self._send(conn_id, frame("error", f"Unknown method: {text[:100]}"))

    def _key(self, sub: Any) -> Key | None:
        if not isinstance(sub, dict) or not isinstance(sub.get("type"), str):
            return None
        kind = sub["type"]
        coin = sub.get("coin")
        try:
            if kind in ("l2Book", "trades", "bbo"):
                if coin not in self._engine.books:
                    return None
                if kind == "l2Book":
                    n_sig, mantissa = sub.get("nSigFigs"), sub.get("mantissa")
                    if n_sig not in (None, 2, 3, 4, 5) or mantissa not in (None, 1, 2, 5):
                        return None
                    return (kind, coin, n_sig, mantissa if n_sig == 5 else None)
                return (kind, coin)
            if kind == "allMids":
                return (kind,) if not sub.get("dex") else None
            if kind in ("orderUpdates", "userEvents", "user", "notification", "userFills"):
                user = address(sub.get("user"), "user")
                if kind == "userFills":
                    return (kind, user, bool(sub.get("aggregateByTime")))
                return ("userEvents" if kind == "user" else kind, user)
        except DeserializeError:
            return None
        return None

    def _subscription(self, conn_id: int, method: str, sub: Any) -> None:
        key = self._key(sub)
        shown = orjson.dumps(sub).decode()
        if key is None:
            self._send(conn_id, frame("error", f"Invalid subscription {shown}"))
            return
        subs = self._subs[conn_id]
        ip = self._ips[conn_id]
        if method == "subscribe":
            if key in subs:
                self._send(conn_id, frame("error", f"Already subscribed: {shown}"))
                return
            refusal = self._limits.subscribe(ip, _user_of(key))
            if refusal:
                self._send(conn_id, frame("error", f"{SUBSCRIPTION_REFUSALS[refusal]}: {shown}"))
                return
            subs[key] = sub
            self._index[key].add(conn_id)
        else:
            if key not in subs:
                self._send(conn_id, frame("error", f"Already unsubscribed: {shown}"))
                return
            del subs[key]
            self._index[key].discard(conn_id)
            self._limits.unsubscribe(ip, _user_of(key))
        self._send(conn_id, frame("subscriptionResponse", {"method": method, "subscription": sub}))
        if method == "subscribe":
            self._snapshot(conn_id, key)

    def _snapshot(self, conn_id: int, key: Key) -> None:
        """What a new subscriber receives at once (documented in docs/simulator.md)."""
        engine = self._engine
        kind = key[0]
        if kind == "l2Book":
            self._send(conn_id, frame("l2Book", render.l2_book(engine, key[1], key[2], key[3])))
        elif kind == "bbo":
            self._send(conn_id, frame("bbo", self._bbo(key[1], render.bbo_levels(engine, key[1]))))
        elif kind == "allMids":
            # Every engine change is published at once, so this is also what every other
            # subscriber last received.
            self._last_mids = frame("allMids", {"mids": self._mids()})
            self._send(conn_id, self._last_mids)
        elif kind == "userFills":
            fills = engine.reg.fills(key[1])[-2000:]
            self._send(conn_id, frame("userFills", self._user_fills(key, fills, snapshot=True)))

    def _post(self, conn_id: int, msg: dict[str, Any]) -> None:
        post_id = msg.get("id")
        request = msg.get("request")
        if not isinstance(post_id, int) or not isinstance(request, dict):
            self._send(conn_id, frame("error", "Invalid post request: needs an integer id"))
            return
        kind, payload = request.get("type"), request.get("payload")
        failed = self._post_error(str(kind))
        response: dict[str, Any]
        if failed is not None:
            response = {"type": "error", "payload": f"{failed} Server Error (simulated)"}
            self._send(conn_id, frame("post", {"id": post_id, "response": response}))
            return
        try:
            if kind == "info":
                data = self._info(payload)
                info_type = payload.get("type") if isinstance(payload, dict) else None
                response = {"type": "info", "payload": {"type": info_type, "data": data}}
            elif kind == "action":
                response = {"type": "action", "payload": self._exchange(payload)}
            else:
                response = {"type": "error", "payload": f"Unknown post type {str(kind)[:40]}"}
        except DeserializeError as exc:
            response = {"type": "error", "payload": f"422 Unprocessable Entity: {exc}"}
        self._send(conn_id, frame("post", {"id": post_id, "response": response}))

    # --- outbound ----------------------------------------------------------------------------

    def _mids(self) -> dict[str, str]:
        return {c.name: render.px(self._engine.mark(c.name)) for c in self._engine.coins}

    def _user_fills(self, key: Key, fills: list[Fill], *, snapshot: bool) -> dict[str, Any]:
        if key[2]:
            fills = aggregate_by_time(fills)
        data: dict[str, Any] = {"user": key[1], "fills": [render.fill(f) for f in fills]}
        if snapshot:
            data = {"isSnapshot": True, **data}
        return data

    def _wanted(self, key: Key) -> bool:
        return bool(self._index.get(key))

    def _bbo(self, coin: str, levels: list[dict[str, Any] | None]) -> dict[str, Any]:
        return {"coin": coin, "time": self._engine.now_ms(), "bbo": levels}

    def publish(self, events: list[Event]) -> None:
        if not events or not self._outboxes:
            return
        coins: set[str] = set()
        trades: dict[str, list[TradePrinted]] = defaultdict(list)
        updates: dict[str, list[OrderUpdated]] = defaultdict(list)
        fills: dict[str, list[Fill]] = defaultdict(list)
        cancels: dict[str, list[SystemCanceled]] = defaultdict(list)
        for ev in events:
            if isinstance(ev, BookChanged):
                coins.add(ev.coin)
            elif isinstance(ev, TradePrinted):
                coins.add(ev.coin)
                trades[ev.coin].append(ev)
            elif isinstance(ev, OrderUpdated):
                updates[ev.user].append(ev)
            elif isinstance(ev, FillsHappened):
                fills[ev.user].extend(ev.fills)
            else:
                cancels[ev.user].append(ev)
        for coin in sorted(coins):
            self._publish_book(coin)
            if trades.get(coin) and self._wanted(("trades", coin)):
                data = [render.trade(t) for t in trades[coin]]
                self._fan_out(("trades", coin), frame("trades", data))
        if coins and self._wanted(("allMids",)):
            mids = frame("allMids", {"mids": self._mids()})
            if mids != self._last_mids:
                self._last_mids = mids
                self._fan_out(("allMids",), mids)
        for user, ups in updates.items():
            if self._wanted(("orderUpdates", user)):
                data = [render.ws_order(u) for u in ups]
                self._fan_out(("orderUpdates", user), frame("orderUpdates", data))
        for user, fs in fills.items():
            for aggregate in (False, True):
                key = ("userFills", user, aggregate)
                if self._wanted(key):
                    payload = self._user_fills(key, fs, snapshot=False)
                    self._fan_out(key, frame("userFills", payload))
            if self._wanted(("userEvents", user)):
                event = {"fills": [render.fill(f) for f in fs]}
                self._fan_out(("userEvents", user), frame("user", event))
        for user, cs in cancels.items():
            if self._wanted(("userEvents", user)):
                gone = {"nonUserCancel": [{"coin": c.coin, "oid": c.oid} for c in cs]}
                self._fan_out(("userEvents", user), frame("user", gone))

    def _publish_book(self, coin: str) -> None:
        engine = self._engine
        for key in [k for k in self._index if k[0] == "l2Book" and k[1] == coin]:
            if self._wanted(key):
                self._fan_out(key, frame("l2Book", render.l2_book(engine, coin, key[2], key[3])))
        levels = render.bbo_levels(engine, coin)
        shown = orjson.dumps(levels).decode()
        if shown != self._last_bbo.get(coin):
            self._last_bbo[coin] = shown
            if self._wanted(("bbo", coin)):
                self._fan_out(("bbo", coin), frame("bbo", self._bbo(coin, levels)))


__all__ = ["CONNECTED_TEXT", "DESERIALIZE_TEXT", "Inbound", "Outbox", "WsHub", "frame"]
