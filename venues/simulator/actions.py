"""Decoding ``/exchange`` bodies the way the venue does, and the canonical action it hashes.

The venue deserializes the JSON action into typed structs and re-serializes those (struct field
order, canonical number strings, lowercase hex, absent optionals) before recovering the signer.
`parse_exchange_body` does the same: the returned ``canonical`` dict is what gets hashed, so a
client that signed anything else (other key order, ``"100.0"``, an uppercase cloid, a present
``null``) recovers a different, random address — exactly the venue's failure mode.
Shape errors raise `DeserializeError`, which the HTTP layer answers with 422.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from venues.hyperliquid.numbers import decimal_to_wire
from venues.simulator.model import OrderRequest, Trigger

Json = Any
DESERIALIZE_TEXT = "Failed to deserialize the JSON body into the target type"
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_HEX = frozenset("0123456789abcdefABCDEF")
TIFS = ("Gtc", "Ioc", "Alo", "FrontendMarket")
GROUPINGS = ("na", "normalTpsl", "positionTpsl")
U64 = 1 << 64
# Real venue actions the simulator does not implement: answered with an error, not a 422.
UNSUPPORTED = frozenset({
    "twapOrder", "twapCancel", "usdSend", "spotSend", "withdraw3", "usdClassTransfer",
    "sendAsset", "approveBuilderFee", "reserveRequestWeight", "vaultTransfer",
    "subAccountTransfer", "subAccountSpotTransfer", "createSubAccount", "setReferrer",
    "tokenDelegate", "topUpIsolatedOnlyMargin", "evmUserModify", "convertToMultiSigUser",
    "multiSig", "userDexAbstraction", "cDeposit", "cWithdraw",
})


class DeserializeError(ValueError):
    """The body does not fit the venue's types (HTTP 422)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{DESERIALIZE_TEXT}: {detail}")


def require(cond: bool, detail: str) -> None:
    if not cond:
        raise DeserializeError(detail)


def as_obj(value: Json, what: str) -> dict[str, Any]:
    require(isinstance(value, dict), f"{what}: expected an object")
    return value  # type: ignore[no-any-return]


def as_int(value: Json, what: str, lo: int = 0, hi: int = U64) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and lo <= value < hi
    require(ok, f"{what}: expected an integer")
    return value  # type: ignore[no-any-return]


def as_bool(value: Json, what: str) -> bool:
    require(isinstance(value, bool), f"{what}: expected a boolean")
    return value  # type: ignore[no-any-return]


def as_str(value: Json, what: str) -> str:
    require(isinstance(value, str), f"{what}: expected a string")
    return value  # type: ignore[no-any-return]


def _number(value: Json, what: str) -> tuple[Decimal, str]:
    text = as_str(value, what)
    require(_NUMBER.fullmatch(text) is not None, f"{what}: invalid number")
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise DeserializeError(f"{what}: invalid number") from None
    return d, decimal_to_wire(d)


def _hex(value: Json, what: str, n_bytes: int) -> str:
    text = as_str(value, what)
    ok = len(text) == 2 + 2 * n_bytes and text[:2] == "0x" and _HEX.issuperset(text[2:])
    require(ok, f"{what}: expected 0x and {2 * n_bytes} hex digits")
    return text.lower()


def address(value: Json, what: str = "address") -> str:
    return _hex(value, what, 20)


def cloid(value: Json, what: str = "cloid") -> str:
    return _hex(value, what, 16)


def _optional(obj: dict[str, Any], key: str) -> Any:
    value = obj.get(key)
    return None if value is None else value


@attrs.frozen
class OrderAction:
    orders: tuple[OrderRequest, ...]
    grouping: str
    has_builder: bool


@attrs.frozen
class CancelAction:
    cancels: tuple[tuple[int, int | str], ...]
    by_cloid: bool


@attrs.frozen
class ModifyAction:
    modifies: tuple[tuple[int | str, OrderRequest], ...]
    batch: bool


@attrs.frozen
class ScheduleCancelAction:
    time: int | None


@attrs.frozen
class UpdateLeverageAction:
    asset: int
    is_cross: bool
    leverage: int


@attrs.frozen
class UpdateIsolatedMarginAction:
    asset: int
    is_buy: bool
    ntli: int


@attrs.frozen
class NoopAction:
    pass


@attrs.frozen
class ApproveAgentAction:
    agent_address: str
    agent_name: str
    nonce: int
    hyperliquid_chain: str


@attrs.frozen
class UnsupportedAction:
    type: str


Action = (
    OrderAction | CancelAction | ModifyAction | ScheduleCancelAction | UpdateLeverageAction
    | UpdateIsolatedMarginAction | NoopAction | ApproveAgentAction | UnsupportedAction
)


@attrs.frozen
class ExchangeRequest:
    action: Action
    canonical: dict[str, Any]  # what the venue hashes (L1) or the EIP-712 message (user-signed)
    nonce: int
    signature: dict[str, Any]
    vault_address: str | None
    expires_after: int | None
    user_signed: bool


def _order(wire: Json, what: str) -> tuple[OrderRequest, dict[str, Any]]:
    w = as_obj(wire, what)
    asset = as_int(w.get("a"), f"{what}.a", hi=1 << 32)
    is_buy = as_bool(w.get("b"), f"{what}.b")
    px, px_wire = _number(w.get("p"), f"{what}.p")
    sz, sz_wire = _number(w.get("s"), f"{what}.s")
    reduce_only = as_bool(w.get("r"), f"{what}.r")
    t = as_obj(w.get("t"), f"{what}.t")
    tif: str | None = None
    trigger: Trigger | None = None
    if "limit" in t and "trigger" not in t:
        tif = as_str(as_obj(t["limit"], f"{what}.t.limit").get("tif"), f"{what}.t.limit.tif")
        require(tif in TIFS, f"{what}.t.limit.tif: unknown variant {tif}")
        t_canon: dict[str, Any] = {"limit": {"tif": tif}}
    elif "trigger" in t and "limit" not in t:
        tr = as_obj(t["trigger"], f"{what}.t.trigger")
        is_market = as_bool(tr.get("isMarket"), f"{what}.t.trigger.isMarket")
        trigger_px, trigger_wire = _number(tr.get("triggerPx"), f"{what}.t.trigger.triggerPx")
        tpsl = as_str(tr.get("tpsl"), f"{what}.t.trigger.tpsl")
        require(tpsl in ("tp", "sl"), f"{what}.t.trigger.tpsl: unknown variant {tpsl}")
        trigger = Trigger(is_market=is_market, trigger_px=trigger_px, tpsl=tpsl)
        t_canon = {"trigger": {"isMarket": is_market, "triggerPx": trigger_wire, "tpsl": tpsl}}
    else:
        raise DeserializeError(f"{what}.t: expected limit or trigger")
    canon: dict[str, Any] = {
        "a": asset, "b": is_buy, "p": px_wire, "s": sz_wire, "r": reduce_only, "t": t_canon,
    }
    c = _optional(w, "c")
    if c is not None:
        c = canon["c"] = cloid(c, f"{what}.c")
    req = OrderRequest(
        asset=asset, is_buy=is_buy, px=px, sz=sz, reduce_only=reduce_only, tif=tif,
        trigger=trigger, cloid=c,
    )
    return req, canon


def as_list(value: Json, what: str) -> list[Any]:
    require(isinstance(value, list), f"{what}: expected an array")
    return value  # type: ignore[no-any-return]


def _oid_ref(value: Json, what: str) -> int | str:
    return cloid(value, what) if isinstance(value, str) else as_int(value, what)


Parsed = tuple[Action, dict[str, Any], bool]


def _parse_order(a: dict[str, Any]) -> Parsed:
    orders = [_order(o, f"orders[{i}]") for i, o in enumerate(as_list(a.get("orders"), "orders"))]
    grouping = as_str(a.get("grouping"), "grouping")
    require(grouping in GROUPINGS, f"grouping: unknown variant {grouping}")
    canon: dict[str, Any] = {"type": "order", "orders": [c for _r, c in orders],
                             "grouping": grouping}
    builder = _optional(a, "builder")
    if builder is not None:
        b = as_obj(builder, "builder")
        canon["builder"] = {"b": address(b.get("b"), "builder.b"),
                            "f": as_int(b.get("f"), "builder.f")}
    return OrderAction(tuple(r for r, _c in orders), grouping, builder is not None), canon, False


def _parse_cancel(a: dict[str, Any]) -> Parsed:
    by_cloid = a["type"] == "cancelByCloid"
    cancels: list[tuple[int, int | str]] = []
    items: list[dict[str, Any]] = []
    for i, raw in enumerate(as_list(a.get("cancels"), "cancels")):
        c = as_obj(raw, f"cancels[{i}]")
        ref: int | str
        if by_cloid:
            asset, ref = as_int(c.get("asset"), "asset"), cloid(c.get("cloid"))
            items.append({"asset": asset, "cloid": ref})
        else:
            asset, ref = as_int(c.get("a"), "a"), as_int(c.get("o"), "o")
            items.append({"a": asset, "o": ref})
        cancels.append((asset, ref))
    return CancelAction(tuple(cancels), by_cloid), {"type": a["type"], "cancels": items}, False


def _parse_modify(a: dict[str, Any]) -> Parsed:
    batch = a["type"] == "batchModify"
    raw_mods = as_list(a.get("modifies"), "modifies") if batch else [a]
    mods: list[tuple[int | str, OrderRequest]] = []
    items: list[dict[str, Any]] = []
    for i, raw in enumerate(raw_mods):
        m = as_obj(raw, f"modifies[{i}]")
        ref = _oid_ref(m.get("oid"), "oid")
        req, order_wire = _order(m.get("order"), "order")
        mods.append((ref, req))
        items.append({"oid": ref, "order": order_wire})
    canon = {"type": "batchModify", "modifies": items} if batch else {"type": "modify", **items[0]}
    return ModifyAction(tuple(mods), batch), canon, False


def _parse_schedule_cancel(a: dict[str, Any]) -> Parsed:
    time = _optional(a, "time")
    canon: dict[str, Any] = {"type": "scheduleCancel"}
    if time is not None:
        time = canon["time"] = as_int(time, "time")
    return ScheduleCancelAction(time), canon, False


def _parse_update_leverage(a: dict[str, Any]) -> Parsed:
    asset = as_int(a.get("asset"), "asset")
    is_cross = as_bool(a.get("isCross"), "isCross")
    lev = as_int(a.get("leverage"), "leverage", hi=1 << 32)
    canon = {"type": "updateLeverage", "asset": asset, "isCross": is_cross, "leverage": lev}
    return UpdateLeverageAction(asset, is_cross, lev), canon, False


def _parse_isolated_margin(a: dict[str, Any]) -> Parsed:
    asset = as_int(a.get("asset"), "asset")
    is_buy = as_bool(a.get("isBuy"), "isBuy")
    ntli = as_int(a.get("ntli"), "ntli", lo=-(1 << 63), hi=1 << 63)
    canon = {"type": "updateIsolatedMargin", "asset": asset, "isBuy": is_buy, "ntli": ntli}
    return UpdateIsolatedMarginAction(asset, is_buy, ntli), canon, False


def _parse_noop(_a: dict[str, Any]) -> Parsed:
    return NoopAction(), {"type": "noop"}, False


def _parse_approve_agent(a: dict[str, Any]) -> Parsed:
    agent = address(a.get("agentAddress"), "agentAddress")
    name = as_str(a.get("agentName", ""), "agentName")  # the SDK omits an empty name
    nonce = as_int(a.get("nonce"), "nonce")
    chain = as_str(a.get("hyperliquidChain"), "hyperliquidChain")
    sig_chain = as_str(a.get("signatureChainId"), "signatureChainId")
    require(sig_chain[:2] == "0x" and 2 < len(sig_chain) <= 66
          and _HEX.issuperset(sig_chain[2:]), "signatureChainId: expected hex")
    message = {
        "type": "approveAgent", "hyperliquidChain": chain, "agentAddress": agent,
        "agentName": name, "nonce": nonce, "signatureChainId": sig_chain,
    }
    return ApproveAgentAction(agent, name, nonce, chain), message, True


_PARSERS = {
    "order": _parse_order,
    "cancel": _parse_cancel,
    "cancelByCloid": _parse_cancel,
    "modify": _parse_modify,
    "batchModify": _parse_modify,
    "scheduleCancel": _parse_schedule_cancel,
    "updateLeverage": _parse_update_leverage,
    "updateIsolatedMargin": _parse_isolated_margin,
    "noop": _parse_noop,
    "approveAgent": _parse_approve_agent,
}


def parse_action(raw: Json) -> Parsed:
    """``(typed action, canonical dict, user_signed)``; `DeserializeError` on a bad shape."""
    a = as_obj(raw, "action")
    kind = as_str(a.get("type"), "action.type")
    parser = _PARSERS.get(kind)
    if parser is not None:
        return parser(a)
    if kind in UNSUPPORTED:
        return UnsupportedAction(kind), dict(a), False
    raise DeserializeError(f"action.type: unknown variant `{kind[:40]}`")


def parse_exchange_body(body: Json) -> ExchangeRequest:
    b = as_obj(body, "body")
    action, canonical, user_signed = parse_action(b.get("action"))
    nonce = as_int(b.get("nonce"), "nonce")
    sig = as_obj(b.get("signature"), "signature")
    for part in ("r", "s"):
        text = as_str(sig.get(part), f"signature.{part}")
        require(text[:2] == "0x" and 2 < len(text) <= 66 and _HEX.issuperset(text[2:]),
                f"signature.{part}: expected 0x-hex")
    as_int(sig.get("v"), "signature.v", hi=256)
    vault = _optional(b, "vaultAddress")
    expires = _optional(b, "expiresAfter")
    return ExchangeRequest(
        action=action, canonical=canonical, nonce=nonce, signature=sig,
        vault_address=None if vault is None else address(vault, "vaultAddress"),
        expires_after=None if expires is None else as_int(expires, "expiresAfter"),
        user_signed=user_signed,
    )
