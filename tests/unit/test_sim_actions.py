"""Decoding /exchange bodies like the venue: the canonical action, signer recovery, 422s."""

from __future__ import annotations

import copy
from typing import Any

import msgpack
import pytest

from tests.helpers import load_vectors
from venues.hyperliquid import signing
from venues.hyperliquid.signing import L1Signer
from venues.simulator.actions import (
    DESERIALIZE_TEXT,
    ApproveAgentAction,
    CancelAction,
    DeserializeError,
    ModifyAction,
    OrderAction,
    parse_exchange_body,
)
from venues.simulator.client import signed_body

L1_CASES = load_vectors("signing_l1.json")["cases"]
USER_CASES = load_vectors("signing_user.json")["cases"]
KEY = "0x" + "11" * 32


def recovered(body: dict[str, Any], *, is_mainnet: bool) -> str:
    req = parse_exchange_body(body)
    if req.user_signed:
        return signing.recover_user_signed_signer(req.canonical, req.signature)
    return signing.recover_l1_signer(
        req.canonical, req.nonce, req.signature, vault_address=req.vault_address,
        expires_after=req.expires_after, is_mainnet=is_mainnet,
    )


@pytest.mark.parametrize("case", L1_CASES, ids=[c["id"] for c in L1_CASES])
def test_every_sdk_l1_vector_canonicalizes_to_its_bytes_and_recovers_its_signer(
    case: dict[str, Any],
) -> None:
    req = parse_exchange_body(case["request_body"])
    assert msgpack.packb(req.canonical).hex() == case["expected"]["action_msgpack_hex"]
    assert recovered(case["request_body"], is_mainnet=case["is_mainnet"]) == case["address"].lower()


@pytest.mark.parametrize(
    "case", [c for c in USER_CASES if c["action"]["type"] == "approveAgent"], ids=lambda c: c["id"]
)
def test_sdk_approve_agent_vectors_recover_their_signer(case: dict[str, Any]) -> None:
    req = parse_exchange_body(case["request_body"])
    assert isinstance(req.action, ApproveAgentAction)
    assert req.action.agent_name == case["signed_message"]["agentName"]
    assert recovered(case["request_body"], is_mainnet=case["is_mainnet"]) == case["address"].lower()


def _order_body(signer: L1Signer, wire: dict[str, Any], nonce: int = 1_700_000_000_000) -> Any:
    action = {"type": "order", "orders": [wire], "grouping": "na"}
    return signed_body(signer, action, nonce)


WIRE = {"a": 1, "b": True, "p": "3000", "s": "0.01", "r": False, "t": {"limit": {"tif": "Gtc"}}}


def test_a_correctly_signed_order_recovers_the_signer_and_decodes() -> None:
    signer = L1Signer(KEY, is_mainnet=False)
    body = _order_body(signer, WIRE)
    assert recovered(body, is_mainnet=False) == signer.address
    action = parse_exchange_body(body).action
    assert isinstance(action, OrderAction)
    (order,) = action.orders
    assert (order.asset, order.is_buy, str(order.px), order.tif) == (1, True, "3000", "Gtc")


@pytest.mark.parametrize(
    "change",
    [
        {"p": "3000.0"},  # trailing zero: the venue hashes "3000"
        {"s": "1e-2"},  # exponent: the venue hashes "0.01"
        {"c": "0x" + "AB" * 16},  # uppercase cloid: the venue hashes lowercase
        {"c": None},  # a present null: the venue omits the field
    ],
)
def test_signing_a_non_canonical_payload_recovers_a_different_address(
    change: dict[str, Any],
) -> None:
    signer = L1Signer(KEY, is_mainnet=False)
    body = _order_body(signer, {**WIRE, **change})
    got = recovered(body, is_mainnet=False)
    assert got != signer.address
    assert got.startswith("0x")
    assert len(got) == 42


def test_key_order_of_the_json_does_not_matter_when_the_canonical_order_was_signed() -> None:
    signer = L1Signer(KEY, is_mainnet=False)
    body = _order_body(signer, WIRE)
    shuffled = dict(reversed(list(body["action"]["orders"][0].items())))
    body["action"] = {"grouping": "na", "orders": [shuffled], "type": "order"}
    assert recovered(body, is_mainnet=False) == signer.address


def test_signed_in_the_wrong_key_order_recovers_a_different_address() -> None:
    signer = L1Signer(KEY, is_mainnet=False)
    alphabetical = dict(sorted(WIRE.items()))
    body = _order_body(signer, alphabetical)
    assert recovered(body, is_mainnet=False) != signer.address


def test_tampering_or_the_wrong_network_flag_changes_the_recovered_address() -> None:
    signer = L1Signer(KEY, is_mainnet=False)
    body = _order_body(signer, WIRE)
    tampered = copy.deepcopy(body)
    tampered["action"]["orders"][0]["s"] = "0.02"
    assert recovered(tampered, is_mainnet=False) != signer.address
    assert recovered(body, is_mainnet=True) != signer.address


def test_cancels_and_modifies_decode_with_oids_and_cloids() -> None:
    cloid = "0x" + "0f" * 16
    signer = L1Signer(KEY, is_mainnet=False)
    by_cloid = parse_exchange_body(signed_body(
        signer, {"type": "cancelByCloid", "cancels": [{"asset": 2, "cloid": cloid}]}, 1
    )).action
    assert by_cloid == CancelAction(((2, cloid),), by_cloid=True)
    modify = parse_exchange_body(signed_body(
        signer, {"type": "batchModify", "modifies": [{"oid": cloid, "order": WIRE}]}, 1
    )).action
    assert isinstance(modify, ModifyAction)
    assert modify.batch
    assert modify.modifies[0][0] == cloid


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"action": {"type": "bogus"}, "nonce": 1, "signature": {"r": "0x1", "s": "0x1", "v": 27}},
        {"action": {"type": "noop"}, "nonce": "1", "signature": {"r": "0x1", "s": "0x1", "v": 27}},
        {"action": {"type": "noop"}, "nonce": 1, "signature": {"r": "zz", "s": "0x1", "v": 27}},
        {"action": {"type": "noop"}, "nonce": 1},
        {"action": {"type": "order", "orders": [{**WIRE, "a": True}], "grouping": "na"},
         "nonce": 1, "signature": {"r": "0x1", "s": "0x1", "v": 27}},
        {"action": {"type": "order", "orders": [{**WIRE, "p": "abc"}], "grouping": "na"},
         "nonce": 1, "signature": {"r": "0x1", "s": "0x1", "v": 27}},
        {"action": {"type": "order", "orders": [{**WIRE, "t": {"limit": {"tif": "Day"}}}],
                    "grouping": "na"}, "nonce": 1, "signature": {"r": "0x1", "s": "0x1", "v": 27}},
        {"action": {"type": "order", "orders": [{**WIRE, "c": "0x12"}], "grouping": "na"},
         "nonce": 1, "signature": {"r": "0x1", "s": "0x1", "v": 27}},
        {"action": {"type": "order", "orders": [WIRE], "grouping": "all"},
         "nonce": 1, "signature": {"r": "0x1", "s": "0x1", "v": 27}},
        {"action": {"type": "cancel", "cancels": [{"a": 1}]},
         "nonce": 1, "signature": {"r": "0x1", "s": "0x1", "v": 27}},
        {"action": {"type": "noop"}, "nonce": 1, "signature": {"r": "0x1", "s": "0x1", "v": 27},
         "vaultAddress": "0x1234"},
    ],
)
def test_shape_errors_are_deserialize_errors(body: Any) -> None:
    with pytest.raises(DeserializeError, match=f"^{DESERIALIZE_TEXT}"):
        parse_exchange_body(body)
