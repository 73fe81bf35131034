"""A small client of the local exchange: signed request bodies and a keep-alive HTTP client
(standard library only).

Deliberately public: the project's tests and benchmarks use it, and so can a user's own tests
of a strategy against `scripts/sim` (docs/simulator.md). It is not the runtime's venue client
(that is `venues.hyperliquid`): it signs and posts exactly what it is given, so a test can send
what the runtime never would (stale nonces, bad signatures, oversized batches)."""

from __future__ import annotations

import http.client
import itertools
import json
from typing import Any
from urllib.parse import urlparse

from venues.hyperliquid.signing import L1Signer, sign_user_signed_action

Json = Any


def signed_body(
    signer: L1Signer,
    action: dict[str, Any],
    nonce: int,
    *,
    vault_address: str | None = None,
    expires_after: int | None = None,
) -> dict[str, Any]:
    """An ``/exchange`` body for an L1 action, signed like the SDK signs it."""
    return {
        "action": action,
        "nonce": nonce,
        "signature": signer.sign_action(action, nonce, vault_address, expires_after),
        "vaultAddress": vault_address,
        "expiresAfter": expires_after,
    }


def user_signed_body(
    key: str, message: dict[str, Any], nonce: int, *, is_mainnet: bool
) -> dict[str, Any]:
    return {
        "action": message,
        "nonce": nonce,
        "signature": sign_user_signed_action(key, message, is_mainnet=is_mainnet),
        "vaultAddress": None,
        "expiresAfter": None,
    }


class NonceSource:
    """Strictly increasing millisecond nonces starting at ``start_ms``."""

    def __init__(self, start_ms: int) -> None:
        self._counter = itertools.count(start_ms)

    def __call__(self) -> int:
        return next(self._counter)


class HttpClient:
    """One keep-alive connection; returns ``(status, parsed JSON or text)``."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        url = urlparse(base_url)
        self._conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port,
                                                timeout=timeout)

    def post(
        self, path: str, body: Json, content_type: str = "application/json"
    ) -> tuple[int, Json]:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self._conn.request("POST", path, body=payload, headers={"Content-Type": content_type})
        response = self._conn.getresponse()
        raw = response.read()
        text = raw.decode()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(text)
        return response.status, text

    def close(self) -> None:
        self._conn.close()


class WsClient:
    """A blocking WebSocket client for tests (websocket-client), bounded by ``timeout``."""

    def __init__(self, ws_url: str, timeout: float = 5.0) -> None:
        import websocket

        self._ws = websocket.create_connection(ws_url, timeout=timeout,
                                               skip_utf8_validation=True)
        self.greeting = self._ws.recv()

    def send(self, message: Json) -> None:
        self._ws.send(json.dumps(message))

    def recv(self) -> Json:
        """The next JSON frame; raises on timeout and `ConnectionError` once the server closed
        the socket."""
        import websocket

        try:
            text = self._ws.recv()
        except websocket.WebSocketConnectionClosedException as exc:
            raise ConnectionError("the server closed the WebSocket") from exc
        if not text and not self._ws.connected:
            raise ConnectionError("the server closed the WebSocket")
        return json.loads(text)

    def recv_channel(self, channel: str, limit: int = 1000) -> Json:
        """The next frame on ``channel`` (skipping up to ``limit`` others)."""
        for _ in range(limit):
            frame = self.recv()
            if frame.get("channel") == channel:
                return frame
        raise AssertionError(f"no {channel!r} frame within {limit} frames")

    def subscribe(self, subscription: dict[str, Any]) -> None:
        self.send({"method": "subscribe", "subscription": subscription})
        ack = self.recv_channel("subscriptionResponse")
        if ack["data"]["subscription"] != subscription:
            raise AssertionError(f"unexpected ack {ack}")

    def close(self) -> None:
        self._ws.close()
