"""4: the official SDK (hyperliquid-python-sdk) on the same exchange, after the runtime stopped.

Its stamps come from wrapping, in this process only, ``WebsocketManager.on_message`` (frame
received) and urllib3's ``HTTPConnection.request`` (request bytes written).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .common import COIN, SIZE, Options, mono


def run_sdk(url: str, opts: Options) -> dict[str, Any]:
    import urllib3.connection
    from eth_account import Account
    from hyperliquid.exchange import Exchange
    from hyperliquid.info import Info
    from hyperliquid.utils.error import ClientError, ServerError
    from hyperliquid.websocket_manager import WebsocketManager
    from requests import RequestException

    from venues.simulator import DEMO_ADDRESS, DEMO_PRIVATE_KEY

    local = threading.local()
    undo: list[Callable[[], None]] = []

    def patch(owner: Any, name: str, value: Any) -> None:
        original = owner.__dict__[name]
        setattr(owner, name, value)
        undo.append(lambda: setattr(owner, name, original))

    request = urllib3.connection.HTTPConnection.request

    def timed_request(conn: Any, *a: Any, **kw: Any) -> None:
        request(conn, *a, **kw)
        local.sent_ns = mono()

    on_message = WebsocketManager.on_message

    def timed_on_message(manager: Any, ws: Any, message: str) -> None:
        local.frame_ns = mono()
        on_message(manager, ws, message)

    patch(urllib3.connection.HTTPConnection, "request", timed_request)
    patch(WebsocketManager, "on_message", timed_on_message)
    errors: list[str] = []
    oids: list[int] = []
    samples: list[tuple[int, int, int, int]] = []
    active = threading.Event()
    next_ns = [0]
    interval_ns = int(opts.latency_interval_ms * 1e6)
    sdk_errors = (ClientError, ServerError, RequestException, KeyError, ValueError)

    def rested(result: Any) -> int:
        ok = 0
        try:
            for status in result["response"]["data"]["statuses"]:
                if "resting" in status:
                    oids.append(status["resting"]["oid"])
                    ok += 1
                else:
                    errors.append(str(status)[:200])
        except (KeyError, TypeError):
            errors.append(str(result)[:200])
        return ok

    info = None
    out: dict[str, Any] = {}
    try:
        wallet = Account.from_key(DEMO_PRIVATE_KEY)
        exchange = Exchange(wallet, url)
        info = Info(url, skip_ws=False)

        def on_book(msg: Any) -> None:
            t_cb = mono()
            if not active.is_set() or t_cb < next_ns[0]:
                return
            bid = float(msg["data"]["levels"][0][0]["px"])
            local.sent_ns = 0
            try:
                result = exchange.order(COIN, True, float(SIZE), float(int(bid * 0.95)),
                                        {"limit": {"tif": "Alo"}})
            except sdk_errors as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            t_ret = mono()
            if rested(result):
                samples.append((local.frame_ns, t_cb, local.sent_ns, t_ret))
            next_ns[0] = t_ret + interval_ns

        info.subscribe({"type": "l2Book", "coin": COIN}, on_book)
        time.sleep(1.0)
        active.set()
        time.sleep(opts.sdk_s)
        active.clear()
        time.sleep(0.2)
        out["samples"] = samples
        book = info.l2_snapshot(COIN)
        px = float(int(float(book["levels"][0][0]["px"]) * 0.95))
        alo = {"limit": {"tif": "Alo"}}
        order = {"coin": COIN, "is_buy": True, "sz": float(SIZE), "limit_px": px,
                 "order_type": alo, "reduce_only": False}
        cancel_errors: list[str] = []

        def rate(place: Callable[[], Any]) -> float:
            """Orders resting per second of time spent inside the SDK's order calls; resting
            orders are cancelled every 400 (untimed) to stay under the venue's open-order cap."""
            placed, busy = 0, 0.0
            while busy < opts.sdk_seq_s:
                t0 = time.perf_counter()
                try:
                    result = place()
                except sdk_errors as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    result = None
                busy += time.perf_counter() - t0
                if result is not None:
                    placed += rested(result)
                if len(oids) >= 400:
                    cancel_errors.extend(cancel_oids(exchange, oids))
                    oids.clear()
            return placed / busy

        cancel_errors.extend(cancel_oids(exchange, oids))
        oids.clear()
        out["seq_rate"] = rate(lambda: exchange.order(COIN, True, float(SIZE), px, alo))
        out["bulk_rate"] = rate(lambda: exchange.bulk_orders([order] * 40))
        cancel_errors.extend(cancel_oids(exchange, oids))
        out["cancel_errors"] = cancel_errors + cancel_all_sdk(exchange, info, DEMO_ADDRESS)
        out["left_open"] = len(info.open_orders(DEMO_ADDRESS))
    finally:
        active.clear()
        if info is not None:
            info.disconnect_websocket()
        for u in reversed(undo):
            u()
    out["errors"] = errors
    return out


def cancel_oids(exchange: Any, oids: list[int]) -> list[str]:
    """Cancel by venue order id, 40 per action; the refusals' reasons."""
    errors: list[str] = []
    for i in range(0, len(oids), 40):
        result = exchange.bulk_cancel([{"coin": COIN, "oid": oid} for oid in oids[i:i + 40]])
        if result.get("status") != "ok":
            errors.append(str(result.get("response"))[:200])
    return errors


def cancel_all_sdk(exchange: Any, info: Any, address: str) -> list[str]:
    """Cancel every open order of the account, 40 per action, until none is left. The SDK's
    nonce is the millisecond clock, so back-to-back actions can collide ("duplicate nonce"):
    what a rejected action left open is cancelled in the next round."""
    errors: list[str] = []
    for _ in range(10):
        oids = [o["oid"] for o in info.open_orders(address)]
        if not oids:
            break
        errors.extend(cancel_oids(exchange, oids))
    return errors
