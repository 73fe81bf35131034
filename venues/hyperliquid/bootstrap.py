"""Blocking venue calls for the launcher (main thread only, never inside an actor):
load the markets and check who trades for whom before the actors start, and cancel everything
after the tree has gone down.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import attrs
import orjson

from messages.ids import ClientOrderId
from messages.signing import CancelTarget
from venues.hyperliquid import actions, payloads, requests, wire
from venues.hyperliquid.markets import MarketRegistry
from venues.hyperliquid.models import JsonObject, UserRole
from venues.hyperliquid.signing import L1Signer

log = logging.getLogger(__name__)


class VenueUnavailableError(RuntimeError):
    pass


class AccountRoleError(ValueError):
    """The configured key, account and vault do not fit together at the venue (a user
    mistake: the message says what to change)."""


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

    def user_role(self, address: str) -> UserRole:
        """``userRole`` (PROTOCOL §3.13): user, agent (``data.user`` = its master), subAccount
        (``data.master``), vault or missing. Weight 60: call it at start-up only."""
        answer = self.post("/info", {"type": "userRole", "user": wire.check_address(address)})
        try:
            return payloads.parse_user_role(answer)
        except payloads.PayloadError as exc:
            raise VenueUnavailableError(f"{self.base_url}/info userRole: {exc}") from None

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


@attrs.frozen(kw_only=True)
class Accounts:
    """Who is who when trading: all lower-case addresses."""

    signer: str
    """The key's address: the master itself or one of its agent (API) wallets."""
    master: str
    """The account the key signs for (the key's own address unless it is an agent)."""
    trading: str
    """The account whose orders, fills and positions these are: the vault / sub-account when
    one is configured (every L1 action carries it as ``vaultAddress``), else the master. Every
    query, subscription and emergency cancel uses this address."""

    @property
    def vault(self) -> str | None:
        return self.trading if self.trading != self.master else None


def _field(role: UserRole, key: str) -> str | None:
    data = role.data
    value = data.get(key) if isinstance(data, JsonObject) else None
    return value.lower() if isinstance(value, str) else None


def resolve_accounts(client: InfoClient, signer: str, *, account: str | None = None,
                     vault: str | None = None) -> Accounts:
    """Check with the venue's ``userRole`` that the key may trade for the configured account
    and vault, and return the addresses to use; `AccountRoleError` says what is wrong.

    Refused: an agent key without ``account`` (or with another master's), an agent's or a
    sub-account's address given as ``account``, an ``account`` whose agent the key is not, a
    vault that is a plain account, an agent, unknown to the venue, or a sub-account of another
    master. A vault's leader is not in ``userRole``: if the key's master does not lead it the
    venue refuses the orders ("Vault not registered")."""
    signer = wire.check_address(signer)
    master = wire.check_address(account) if account else signer
    given = master != signer
    if given:
        role = client.user_role(master)
        if role.role == "agent":
            raise AccountRoleError(
                f"account {master} is an agent (API) wallet of {_field(role, 'user')}, not an "
                "account: give the master's address as --account / [account] account")
        if role.role in ("subAccount", "vault"):
            hint = f"--account {_field(role, 'master')} --vault {master}" if (
                role.role == "subAccount") else f"--vault {master} with the leader's key"
            raise AccountRoleError(
                f"account {master} is a {role.role}: it has no key or agents of its own; trade "
                f"it with {hint}")
    role = client.user_role(signer)
    if role.role == "agent":
        owner = _field(role, "user")
        if not given:
            raise AccountRoleError(
                f"the key {signer} is an agent (API) wallet of {owner}: pass --account {owner} "
                "([account] account) so queries and the user stream use the master account")
        if owner != master:
            raise AccountRoleError(
                f"the key {signer} is an agent of {owner}, not of the configured account "
                f"{master}")
    elif role.role in ("subAccount", "vault"):
        raise AccountRoleError(
            f"the key's address {signer} is a {role.role}: sub-accounts and vaults have no keys "
            "of their own; sign with the master's key (or its agent) and pass --vault "
            f"{signer}")
    elif role.role == "missing":
        raise AccountRoleError(
            f"the venue does not know the key's address {signer}: "
            + (f"approve it as an agent of {master} (approveAgent) first; an agent that expired "
               "or was replaced is forgotten" if given else
               "deposit to it first, or, if it is an agent (API) wallet, pass --account "
               "<master address>"))
    elif given:
        raise AccountRoleError(
            f"--account {master} was given, but the key {signer} is an account of its own "
            f"(role {role.role!r}), not an agent wallet of {master}: approve it as an agent of "
            f"{master} (approveAgent) or drop --account")
    if not vault:
        return Accounts(signer=signer, master=master, trading=master)
    vault = wire.check_address(vault)
    if vault == master:
        raise AccountRoleError(f"vault {vault} is the account itself: drop --vault")
    role = client.user_role(vault)
    if role.role == "subAccount":
        owner = _field(role, "master")
        if owner != master:
            raise AccountRoleError(
                f"vault {vault} is a sub-account of {owner}, not of the signer's master "
                f"{master}")
    elif role.role != "vault":
        what = {"user": "an account of its own (trade it with its own key or agent: "
                        f"--account {vault})",
                "agent": f"an agent (API) wallet of {_field(role, 'user')}",
                "missing": "unknown to the venue"}.get(role.role, f"of role {role.role!r}")
        raise AccountRoleError(f"vault {vault} is not a sub-account or vault: it is {what}")
    return Accounts(signer=signer, master=master, trading=vault)
