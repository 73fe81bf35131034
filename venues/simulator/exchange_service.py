"""``POST /exchange``: decode, recover the signer, apply the venue's checks, run the action.

Order of checks, as on the venue: body shape (422) → signer recovered from the EIP-712
signature over the *canonical* action → the signer must be an account or one of its API wallets
("User or API Wallet 0x… does not exist." otherwise — with a wrong key, a tampered field or the
wrong network flag the recovered address is a random one) → expiry → nonce → vault → action.
"""

from __future__ import annotations

from typing import Any

from venues.hyperliquid import signing
from venues.simulator import leverage
from venues.simulator.actions import (
    ApproveAgentAction,
    CancelAction,
    ExchangeRequest,
    ModifyAction,
    NoopAction,
    OrderAction,
    ScheduleCancelAction,
    UnsupportedAction,
    UpdateIsolatedMarginAction,
    UpdateLeverageAction,
    parse_exchange_body,
)
from venues.simulator.agents import AgentRegistry
from venues.simulator.config import SimulatorConfig
from venues.simulator.engine import Engine
from venues.simulator.limits import Limits
from venues.simulator.model import Errors, Filled, PlaceOutcome, Rejected, Resting, wire
from venues.simulator.nonces import NonceTracker

DEFAULT_OK = {"status": "ok", "response": {"type": "default"}}


def err(message: str) -> dict[str, Any]:
    return {"status": "err", "response": message}


def ok(kind: str, statuses: list[Any]) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}}


def status_json(outcome: PlaceOutcome) -> Any:
    if isinstance(outcome, Resting):
        resting: dict[str, Any] = {"oid": outcome.oid}
        if outcome.cloid is not None:
            resting["cloid"] = outcome.cloid
        return {"resting": resting}
    if isinstance(outcome, Filled):
        filled: dict[str, Any] = {
            "totalSz": wire(outcome.total_sz), "avgPx": wire(outcome.avg_px), "oid": outcome.oid,
        }
        if outcome.cloid is not None:
            filled["cloid"] = outcome.cloid
        return {"filled": filled}
    if isinstance(outcome, Rejected):
        return {"error": outcome.error}
    return outcome.status


class ExchangeService:
    def __init__(
        self, engine: Engine, agents: AgentRegistry, nonces: NonceTracker,
        config: SimulatorConfig, limits: Limits,
    ) -> None:
        self._engine = engine
        self._agents = agents
        self._nonces = nonces
        self._config = config
        self._limits = limits

    def handle(self, body: Any) -> dict[str, Any]:
        """The JSON answer to one ``/exchange`` body; `DeserializeError` means HTTP 422."""
        req = parse_exchange_body(body)
        if isinstance(req.action, UnsupportedAction):
            # Checked first: these may be user-signed, which the L1 hash cannot recover.
            return err(f"Action {req.action.type} is not supported by the simulator.")
        engine = self._engine
        now = engine.now_ms()
        try:
            signer, tx_hash = self._recover(req)
        except ValueError:
            return err("Unable to recover signer.")
        user = self._account_of(signer, req, now)
        if user is None:
            return err(f"User or API Wallet {signer} does not exist.")
        problem = self._envelope_problem(req, now)
        if problem:
            return err(problem)
        nonce_error = self._nonces.check(signer, req.nonce, now)
        if nonce_error:
            return err(nonce_error)
        self._nonces.use(signer, req.nonce)
        if req.vault_address is not None:
            vault = engine.accounts.get(req.vault_address)
            if vault is None or vault.master != user:
                return err(f"Vault not registered: {req.vault_address}")
            user = vault.address
        limited = self._rate_limited(user, req)
        if limited:
            return err(limited)
        return self._dispatch(user, req, tx_hash)

    def _recover(self, req: ExchangeRequest) -> tuple[str, str | None]:
        if not self._config.verify_signatures:
            return self._config.unverified_signer, None
        if req.user_signed:
            digest = signing.user_signed_digest(req.canonical)
            return signing.recover_address(digest, req.signature), None
        connection_id = signing.action_hash(
            req.canonical, req.nonce, req.vault_address, req.expires_after
        )
        digest = signing.l1_digest(connection_id, is_mainnet=self._config.is_mainnet)
        return signing.recover_address(digest, req.signature), "0x" + connection_id.hex()

    def _account_of(self, signer: str, req: ExchangeRequest, now: int) -> str | None:
        if signer in self._engine.accounts:
            return signer
        if req.user_signed:  # API wallets may not sign user-signed actions
            return None
        return self._agents.master_of(signer, now)

    def _envelope_problem(self, req: ExchangeRequest, now: int) -> str:
        if req.user_signed:
            assert isinstance(req.action, ApproveAgentAction)
            expected = "Mainnet" if self._config.is_mainnet else "Testnet"
            if req.action.hyperliquid_chain != expected:
                return f"Invalid hyperliquidChain {req.action.hyperliquid_chain[:16]!r}"
            if req.expires_after is not None or req.vault_address is not None:
                return "User-signed actions take no vaultAddress or expiresAfter"
            if req.action.nonce != req.nonce:
                return "Invalid nonce: the action's nonce must equal the request nonce"
        elif req.expires_after is not None and req.expires_after < now:
            return "Action already expired"
        return ""

    def _rate_limited(self, user: str, req: ExchangeRequest) -> str:
        """The address budget: a batch of n orders, cancels or modifies counts n."""
        action = req.action
        n = 1
        if isinstance(action, OrderAction):
            n = len(action.orders)
        elif isinstance(action, CancelAction):
            n = len(action.cancels)
        elif isinstance(action, ModifyAction):
            n = len(action.modifies)
        return self._limits.charge_address(
            self._engine.accounts[user], max(1, n), is_cancel=isinstance(action, CancelAction),
            now_ms=self._engine.now_ms(),
        )

    def _dispatch(self, user: str, req: ExchangeRequest, tx_hash: str | None) -> dict[str, Any]:
        engine = self._engine
        action = req.action
        if isinstance(action, OrderAction):
            if not action.orders:
                return err("Order list must not be empty.")
            if action.has_builder:
                return err("Builder fee has not been approved.")
            if action.grouping != "na":
                legs = action.orders[1:] if action.grouping == "normalTpsl" else action.orders
                if any(o.trigger is None or not o.reduce_only for o in legs):
                    return err("TP/SL orders must be reduce-only trigger orders.")
            outcomes = engine.place_batch(user, action.orders, action.grouping, tx_hash)
            return ok("order", [status_json(o) for o in outcomes])
        if isinstance(action, CancelAction):
            statuses = [
                "success" if engine.cancel(user, asset, ref) else {"error": Errors.CANCEL_MISSING}
                for asset, ref in action.cancels
            ]
            return ok("cancel", statuses)
        if isinstance(action, ModifyAction):
            outcomes = [engine.modify(user, ref, order, tx_hash) for ref, order in action.modifies]
            if action.batch:
                return ok("order", [status_json(o) for o in outcomes])
            outcome = outcomes[0]
            return err(outcome.error) if isinstance(outcome, Rejected) else DEFAULT_OK
        return self._admin(user, action)

    def _admin(self, user: str, action: object) -> dict[str, Any]:
        engine = self._engine
        problem: str | None = None
        if isinstance(action, ScheduleCancelAction):
            problem = engine.schedule_cancel(user, action.time)
        elif isinstance(action, UpdateLeverageAction):
            problem = leverage.update_leverage(
                engine, user, action.asset, is_cross=action.is_cross, leverage=action.leverage
            )
        elif isinstance(action, UpdateIsolatedMarginAction):
            problem = leverage.update_isolated_margin(engine, user, action.asset, action.ntli)
        elif isinstance(action, ApproveAgentAction):
            if action.agent_address in engine.accounts:
                problem = "Agent address is already a user."
            else:
                problem, replaced = self._agents.approve(
                    user, action.agent_address, action.agent_name
                )
                for old in replaced:
                    self._nonces.forget(old)
        else:
            assert isinstance(action, NoopAction), action
        return err(problem) if problem else DEFAULT_OK
