"""Blocking venue calls for the launcher (main thread only, never inside an actor):
load the markets before the actors start, and cancel everything after the tree has gone down.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson

from messages.ids import ClientOrderId
from messages.tracking import CancelTarget
from venues.hyperliquid import actions, payloads, requests, wire
from venues.hyperliquid.markets import MarketRegistry
from venues.hyperliquid.signing import L1Signer

log = logging.getLogger(__name__)


class VenueUnavailableError(RuntimeError):
    pass


class InfoClient:
    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def post(self, path: str, body: dict[str, Any] | bytes) -> Any:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        request = urllib.request.Request(  # noqa: S310 - the URL is the configured venue
            self.base_url + path, data=data, headers={"Content-Type": "application/json"},
            method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise VenueUnavailableError(
                f"{self.base_url}{path}: HTTP {exc.code} {exc.read()[:200]!r}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise VenueUnavailableError(f"{self.base_url}{path}: {exc}") from None

    def markets(self) -> MarketRegistry:
        meta = payloads.parse_meta(self.post("/info", requests.meta()))
        try:
            spot = payloads.parse_spot_meta(self.post("/info", requests.spot_meta()))
        except (VenueUnavailableError, payloads.PayloadError):
            spot = None  # perps only
        return MarketRegistry.from_meta(meta, spot)


def cancel_everything(
    client: InfoClient, signer: L1Signer, next_nonce: Callable[[], int], account: str,
    markets: MarketRegistry, *, vault_address: str | None = None,
) -> int:
    """Cancel every open order of ``account`` directly (the actors are gone); returns how many
    cancels were sent. Used when the root supervisor escalates.

    The markets are reloaded first when an order names a coin the start-up registry lacks
    (listed since); an order that still cannot be cancelled is logged by id, never skipped
    silently."""
    report = payloads.parse_open_orders(client.post("/info", requests.open_orders(account)),
                                        0).report
    if any(o.trading_pair not in markets for o in report.orders):
        try:
            markets = client.markets()
        except (VenueUnavailableError, payloads.PayloadError) as exc:
            log.error("emergency cancel: could not reload the markets: %s", exc)
    unknown = [o for o in report.orders if o.trading_pair not in markets]
    for order in unknown:
        log.error("emergency cancel: order %s (%s) is on a market the venue's meta does not "
                  "list; it is still live", order.exchange_order_id, order.trading_pair)
    targets = [
        CancelTarget(
            client_order_id=o.client_order_id
            or ClientOrderId.derive("external", int(o.exchange_order_id)),
            trading_pair=o.trading_pair, exchange_order_id=o.exchange_order_id,
            by_exchange_id=o.client_order_id is None,
        )
        for o in report.orders if o.trading_pair in markets
    ]
    sent = 0
    for action, chunk in actions.cancel_actions(targets, markets):
        nonce = next_nonce()
        signature = signer.sign_action(action, nonce, vault_address)
        body = wire.exchange_request(action, nonce, signature, vault_address=vault_address)
        answer = client.post("/exchange", body)
        log.warning("emergency cancel of %d orders: %s", len(chunk), str(answer)[:200])
        sent += len(chunk)
    return sent
