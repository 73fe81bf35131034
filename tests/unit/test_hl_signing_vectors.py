"""Every signing vector produced by the official SDK, through the public API."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from tests.helpers import load_recorded, load_vectors
from venues.hyperliquid import signing
from venues.hyperliquid.keys import SecretKey

L1 = load_vectors("signing_l1.json")["cases"]
USER = load_vectors("signing_user.json")["cases"]
SDK_TESTS = load_recorded("sdk_signing_test_vectors.json")["cases"]


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [str(c.get("id") or c.get("name")) for c in cases]


def test_vector_counts_match_the_protocol_notes() -> None:
    assert len(L1) == 77
    assert len(USER) == 17


@pytest.mark.parametrize("case", L1, ids=_ids(L1))
def test_l1_vector(case: dict[str, Any]) -> None:
    exp = case["expected"]
    action, nonce = case["action"], case["nonce"]
    vault, expires = case["vault_address"], case["expires_after"]
    assert msgpack.packb(action).hex() == exp["action_msgpack_hex"]
    hash_input = signing.action_hash_input(action, nonce, vault, expires)
    assert hash_input.hex() == exp["hash_input_hex"]
    connection_id = signing.action_hash(action, nonce, vault_address=vault, expires_after=expires)
    assert "0x" + connection_id.hex() == exp["connection_id_hex"]
    assert "0x" + signing.L1_DOMAIN_SEPARATOR.hex() == exp["eip712_domain_separator_hex"]
    struct = signing.agent_struct_hash(connection_id, is_mainnet=case["is_mainnet"])
    assert "0x" + struct.hex() == exp["eip712_struct_hash_hex"]
    digest = signing.l1_digest(connection_id, is_mainnet=case["is_mainnet"])
    assert "0x" + digest.hex() == exp["eip712_digest_hex"]
    sig = signing.sign_l1_action(
        case["private_key"],
        action,
        nonce,
        vault_address=vault,
        expires_after=expires,
        is_mainnet=case["is_mainnet"],
    )
    assert sig == exp["signature"]
    assert sig == case["request_body"]["signature"]
    for rendering in (exp["signature"], exp["signature_padded"]):
        recovered = signing.recover_l1_signer(
            action,
            nonce,
            rendering,
            vault_address=vault,
            expires_after=expires,
            is_mainnet=case["is_mainnet"],
        )
        assert recovered == exp["recovered_address"].lower() == case["address"].lower()


@pytest.mark.parametrize("case", L1[:5], ids=_ids(L1[:5]))
def test_key_as_bytes_gives_the_same_signature(case: dict[str, Any]) -> None:
    raw = bytes.fromhex(case["private_key"][2:])
    sig = signing.sign_l1_action(
        raw, case["action"], case["nonce"], is_mainnet=case["is_mainnet"],
        vault_address=case["vault_address"], expires_after=case["expires_after"],
    )
    assert sig == case["expected"]["signature"]


@pytest.mark.parametrize("case", USER, ids=_ids(USER))
def test_user_signed_vector(case: dict[str, Any]) -> None:
    exp = case["expected"]
    primary, fields = signing.USER_SIGNED_TYPES[case["signed_message"]["type"]]
    assert primary == exp["primary_type"]
    assert [{"name": n, "type": t} for n, t in fields] == exp["eip712_types"][primary]
    digest = signing.user_signed_digest(case["signed_message"])
    assert "0x" + digest.hex() == exp["eip712_digest_hex"]
    sig = signing.sign_user_signed_action(
        case["private_key"], case["signed_message"], is_mainnet=case["is_mainnet"]
    )
    assert sig == exp["signature"] == case["request_body"]["signature"]
    assert signing.recover_user_signed_signer(case["signed_message"], sig) == case[
        "address"
    ].lower()
    assert signing.user_signed_nonce(case["signed_message"]) == case["request_body"]["nonce"]


def test_user_signed_action_refuses_the_wrong_network() -> None:
    case = USER[0]
    with pytest.raises(ValueError, match="hyperliquidChain"):
        signing.sign_user_signed_action(
            case["private_key"], case["signed_message"], is_mainnet=not case["is_mainnet"]
        )


@pytest.mark.parametrize("case", SDK_TESTS, ids=_ids(SDK_TESTS))
def test_sdk_repository_signing_asserts(case: dict[str, Any]) -> None:
    if "message_signed" in case:
        # The SDK's tests sign these without a "type" key; the EIP-712 encoding ignores it, so
        # the type only selects the primary type here.
        kind = "usdSend" if case["name"].startswith("usdSend") else "withdraw3"
        message = {"type": kind, **case["message_signed"]}
        sig = signing.sign_user_signed_action(
            case["private_key"], message, is_mainnet=case["is_mainnet"]
        )
        assert sig == case["expected"]["signature"]
        return
    connection_id = signing.action_hash(
        case["action"], case["nonce"], case["vault_address"], case["expires_after"]
    )
    assert "0x" + connection_id.hex() == case["expected"]["connection_id_hex"]
    if "private_key" not in case:
        return  # the SDK test only asserts the connection id for this one
    sig = signing.sign_l1_action(
        case["private_key"],
        case["action"],
        case["nonce"],
        vault_address=case["vault_address"],
        expires_after=case["expires_after"],
        is_mainnet=case["is_mainnet"],
    )
    assert sig == case["expected"]["signature"]


def test_fast_signer_matches_the_functional_api() -> None:
    case = L1[0]
    signer = signing.L1Signer(case["private_key"], is_mainnet=case["is_mainnet"])
    assert signer.address == case["address"].lower()
    assert signer.sign_action(case["action"], case["nonce"]) == case["expected"]["signature"]


def test_tampered_action_recovers_a_different_address() -> None:
    case = L1[0]
    tampered = {**case["action"], "grouping": "normalTpsl"}
    recovered = signing.recover_l1_signer(
        tampered, case["nonce"], case["expected"]["signature"], is_mainnet=case["is_mainnet"]
    )
    assert recovered != case["address"].lower()
    wrong_network = signing.recover_l1_signer(
        case["action"], case["nonce"], case["expected"]["signature"],
        is_mainnet=not case["is_mainnet"],
    )
    assert wrong_network != case["address"].lower()


@pytest.mark.parametrize(
    "bad",
    [
        "0x1234",
        "zz" * 32,
        b"\x01" * 31,
        "0x" + "00" * 32,  # zero is not a valid scalar
        "0x" + "ff" * 32,  # above the curve order
        12345,
    ],
)
def test_bad_keys_raise_clear_errors_without_echoing(bad: Any) -> None:
    with pytest.raises(ValueError, match="private key") as info:
        SecretKey(bad)
    text = str(info.value)
    if isinstance(bad, str):
        assert bad not in text
        assert bad[2:] not in text


def test_key_never_appears_in_repr_or_pickle() -> None:
    import pickle

    case = L1[0]
    key = SecretKey(case["private_key"])
    signer = signing.L1Signer(key, is_mainnet=True)
    hex_key = case["private_key"][2:]
    for text in (repr(key), str(key), repr(signer), str(signer)):
        assert hex_key not in text.lower()
        assert case["address"].lower() in text
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        pickle.dumps(signer)


@pytest.mark.parametrize(
    "sig",
    [
        {"r": "0x0", "s": "0x1", "v": 27},
        {"r": "0x1", "s": "0x1", "v": 29},
        {"r": "zz", "s": "0x1", "v": 27},
        {"r": "0x1"},
        "not a signature",
        {"r": hex(signing.SECP256K1_N), "s": "0x1", "v": 27},
    ],
)
def test_malformed_signatures_are_rejected(sig: Any) -> None:
    with pytest.raises(ValueError, match=r"signature|signer"):
        signing.recover_l1_signer({"type": "noop"}, 1, sig, is_mainnet=True)
