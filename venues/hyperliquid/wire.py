"""Hyperliquid action wire format (PROTOCOL §5): dicts built in the key order the venue hashes.

The venue re-serialises every action with msgpack in its struct field order before recovering
the signer, so the order of keys here is part of the signature. Optional keys are omitted, never
sent as null. Prices and sizes go through `numbers.float_to_wire`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from messages.ids import ClientOrderId
from venues.hyperliquid.numbers import Number, float_to_wire

Tif = Literal["Gtc", "Ioc", "Alo"]
Tpsl = Literal["tp", "sl"]
Grouping = Literal["na", "normalTpsl", "positionTpsl"]
Action = dict[str, Any]

_TIFS = ("Gtc", "Ioc", "Alo")
_GROUPINGS = ("na", "normalTpsl", "positionTpsl")
_HEX = frozenset("0123456789abcdef")


def _check_cloid(cloid: str) -> str:
    if not isinstance(cloid, str):
        raise ValueError("cloid must be '0x' followed by 32 hex digits")
    # ClientOrderId canonicalises to lowercase: the node re-renders cloids that way before
    # hashing, so a mixed-case cloid would make the signature recover a random address.
    return str(ClientOrderId(cloid))


def _check_asset(asset: int) -> int:
    if isinstance(asset, bool) or not isinstance(asset, int) or asset < 0:
        raise ValueError(f"asset must be a non-negative int, got {asset!r}")
    return asset


def check_address(address: str) -> str:
    """A 0x-prefixed 20-byte hex address, lower-cased (the venue re-renders it lowercase)."""
    if not isinstance(address, str) or len(address) != 42 or not address.startswith("0x"):
        raise ValueError("address must be '0x' followed by 40 hex digits")
    lowered = address.lower()
    if not _HEX.issuperset(lowered[2:]):
        raise ValueError("address must be '0x' followed by 40 hex digits")
    return lowered


def limit_type(tif: Tif) -> dict[str, Any]:
    if tif not in _TIFS:
        raise ValueError(f"tif must be one of {_TIFS}, got {tif!r}")
    return {"limit": {"tif": tif}}


def trigger_type(trigger_px: Number, *, is_market: bool, tpsl: Tpsl) -> dict[str, Any]:
    if tpsl not in ("tp", "sl"):
        raise ValueError(f"tpsl must be 'tp' or 'sl', got {tpsl!r}")
    return {
        "trigger": {
            "isMarket": bool(is_market),
            "triggerPx": float_to_wire(trigger_px),
            "tpsl": tpsl,
        }
    }


def order_type_from_sdk(order_type: dict[str, Any]) -> dict[str, Any]:
    """Accept the SDK's ``OrderType`` dict (any key order, float ``triggerPx``)."""
    if "limit" in order_type:
        return limit_type(order_type["limit"]["tif"])
    if "trigger" in order_type:
        t = order_type["trigger"]
        return trigger_type(t["triggerPx"], is_market=t["isMarket"], tpsl=t["tpsl"])
    raise ValueError("order type must have a 'limit' or a 'trigger' key")


def order_wire(
    *,
    asset: int,
    is_buy: bool,
    price: Number,
    size: Number,
    reduce_only: bool,
    order_type: dict[str, Any],
    cloid: str | None = None,
) -> dict[str, Any]:
    """One ``OrderWire``: ``a, b, p, s, r, t`` and ``c`` when a cloid is given."""
    wire: dict[str, Any] = {
        "a": _check_asset(asset),
        "b": bool(is_buy),
        "p": float_to_wire(price),
        "s": float_to_wire(size),
        "r": bool(reduce_only),
        "t": order_type,
    }
    if cloid is not None:
        wire["c"] = _check_cloid(cloid)
    return wire


def order_action(
    orders: Sequence[dict[str, Any]],
    grouping: Grouping = "na",
    builder: dict[str, Any] | None = None,
) -> Action:
    if not orders:
        raise ValueError("an order action needs at least one order")
    if grouping not in _GROUPINGS:
        raise ValueError(f"grouping must be one of {_GROUPINGS}, got {grouping!r}")
    action: Action = {"type": "order", "orders": list(orders), "grouping": grouping}
    if builder is not None:
        fee = builder["f"]
        if isinstance(fee, bool) or not isinstance(fee, int) or fee < 0:
            raise ValueError("builder fee 'f' must be a non-negative int (tenths of a bp)")
        action["builder"] = {"b": check_address(builder["b"]), "f": fee}
    return action


def cancel_action(cancels: Sequence[tuple[int, int]]) -> Action:
    """Cancel by exchange order id: ``[(asset, oid), ...]``."""
    if not cancels:
        raise ValueError("a cancel action needs at least one cancel")
    return {
        "type": "cancel",
        "cancels": [{"a": _check_asset(a), "o": int(o)} for a, o in cancels],
    }


def cancel_by_cloid_action(cancels: Sequence[tuple[int, str]]) -> Action:
    """Cancel by client order id: ``[(asset, cloid), ...]``."""
    if not cancels:
        raise ValueError("a cancelByCloid action needs at least one cancel")
    return {
        "type": "cancelByCloid",
        "cancels": [{"asset": _check_asset(a), "cloid": _check_cloid(c)} for a, c in cancels],
    }


def _oid_or_cloid(oid: int | str) -> int | str:
    if isinstance(oid, str):
        return _check_cloid(oid)
    if isinstance(oid, bool) or not isinstance(oid, int) or oid < 0:
        raise ValueError("oid must be a non-negative int or a cloid string")
    return oid


def modify_action(oid: int | str, order: dict[str, Any]) -> Action:
    return {"type": "modify", "oid": _oid_or_cloid(oid), "order": order}


def batch_modify_action(modifies: Sequence[tuple[int | str, dict[str, Any]]]) -> Action:
    if not modifies:
        raise ValueError("a batchModify action needs at least one modify")
    return {
        "type": "batchModify",
        "modifies": [{"oid": _oid_or_cloid(o), "order": w} for o, w in modifies],
    }


def schedule_cancel_action(time_ms: int | None) -> Action:
    """Set (``time_ms``) or clear (``None``) the dead-man switch."""
    action: Action = {"type": "scheduleCancel"}
    if time_ms is not None:
        action["time"] = int(time_ms)
    return action


def update_leverage_action(asset: int, *, is_cross: bool, leverage: int) -> Action:
    if isinstance(leverage, bool) or not isinstance(leverage, int) or leverage < 1:
        raise ValueError("leverage must be an int >= 1")
    return {
        "type": "updateLeverage",
        "asset": _check_asset(asset),
        "isCross": bool(is_cross),
        "leverage": leverage,
    }


def update_isolated_margin_action(asset: int, *, is_buy: bool, ntli: int) -> Action:
    """``ntli`` is the USDC amount in micro-units (`numbers.float_to_usd_int`)."""
    if isinstance(ntli, bool) or not isinstance(ntli, int):
        raise ValueError("ntli must be an int (USDC x 1e6)")
    return {
        "type": "updateIsolatedMargin",
        "asset": _check_asset(asset),
        "isBuy": bool(is_buy),
        "ntli": ntli,
    }


def noop_action() -> Action:
    return {"type": "noop"}


def approve_agent_action(
    agent_address: str, agent_name: str | None, nonce: int, *, is_mainnet: bool
) -> tuple[Action, Action]:
    """A user-signed ``approveAgent``: returns ``(signed_message, action_to_send)``.

    Like the SDK, an unnamed agent signs ``agentName: ""`` and sends the action without the key.
    """
    signed: Action = {
        "type": "approveAgent",
        "agentAddress": check_address(agent_address),
        "agentName": agent_name or "",
        "nonce": int(nonce),
        "signatureChainId": "0x66eee",
        "hyperliquidChain": "Mainnet" if is_mainnet else "Testnet",
    }
    sent = dict(signed)
    if not agent_name:
        del sent["agentName"]
    return signed, sent


def exchange_request(
    action: Action,
    nonce: int,
    signature: dict[str, Any],
    *,
    vault_address: str | None = None,
    expires_after: int | None = None,
) -> dict[str, Any]:
    """The body POSTed to ``/exchange`` (the SDK always sends all five keys)."""
    return {
        "action": action,
        "nonce": nonce,
        "signature": signature,
        "vaultAddress": None if vault_address is None else check_address(vault_address),
        "expiresAfter": expires_after,
    }
