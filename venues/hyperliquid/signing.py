"""Hyperliquid signatures (PROTOCOL §7-8), byte-identical to the official SDK.

L1 actions (orders, cancels, leverage…) are signed with the "phantom agent" scheme: the action
is msgpack-encoded, followed by the nonce, the vault marker and the optional expiry; the keccak of
those bytes is the ``connectionId`` of an EIP-712 ``Agent`` message. User-signed actions (fund
movements, agent approval) are plain EIP-712 typed data.

`L1Signer` is the fast path: it keeps a parsed coincurve key and builds the EIP-712 digest from
precomputed constants (no eth-account on the hot path). The module functions with the SDK's
names accept a 0x-hex key or 32 bytes and are convenient, not fast.
"""

from __future__ import annotations

from typing import Any

import coincurve
import msgpack

from venues.hyperliquid.keys import SecretKey, address_from_public_key, keccak256

Signature = dict[str, Any]

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

_ZERO_ADDRESS_WORD = bytes(32)
EIP712_DOMAIN_TYPEHASH = keccak256(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
AGENT_TYPEHASH = keccak256(b"Agent(string source,bytes32 connectionId)")
L1_CHAIN_ID = 1337
USER_SIGNED_DOMAIN_NAME = "HyperliquidSignTransaction"


def _uint256(n: int) -> bytes:
    return n.to_bytes(32, "big")


def domain_separator(name: str, version: str, chain_id: int) -> bytes:
    return keccak256(
        EIP712_DOMAIN_TYPEHASH
        + keccak256(name.encode())
        + keccak256(version.encode())
        + _uint256(chain_id)
        + _ZERO_ADDRESS_WORD
    )


L1_DOMAIN_SEPARATOR = domain_separator("Exchange", "1", L1_CHAIN_ID)
_SOURCE_HASH = {True: keccak256(b"a"), False: keccak256(b"b")}

_packer = msgpack.Packer(use_bin_type=True)


def _address_bytes(address: str) -> bytes:
    text = address[2:] if address.startswith(("0x", "0X")) else address
    if len(text) != 40:
        raise ValueError("address must be 20 bytes of hex")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError("address must be 20 bytes of hex") from None


def action_hash_input(
    action: dict[str, Any],
    nonce: int,
    vault_address: str | None = None,
    expires_after: int | None = None,
) -> bytes:
    """The bytes whose keccak is the action hash (the ``connectionId``)."""
    data = bytearray(_packer.pack(action))
    data += nonce.to_bytes(8, "big")
    if vault_address is None:
        data += b"\x00"
    else:
        data += b"\x01" + _address_bytes(vault_address)
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return bytes(data)


def action_hash(
    action: dict[str, Any],
    nonce: int,
    vault_address: str | None = None,
    expires_after: int | None = None,
) -> bytes:
    """keccak256(msgpack(action) ‖ nonce ‖ vault marker ‖ expiry) — the L1 ``connectionId``."""
    return keccak256(action_hash_input(action, nonce, vault_address, expires_after))


def agent_struct_hash(connection_id: bytes, *, is_mainnet: bool) -> bytes:
    return keccak256(AGENT_TYPEHASH + _SOURCE_HASH[is_mainnet] + connection_id)


def l1_digest(connection_id: bytes, *, is_mainnet: bool) -> bytes:
    """EIP-712 digest of the phantom agent ``{source: "a"|"b", connectionId}``."""
    return keccak256(
        b"\x19\x01" + L1_DOMAIN_SEPARATOR + agent_struct_hash(connection_id, is_mainnet=is_mainnet)
    )


def render_signature(r: int, s: int, v: int) -> Signature:
    """The SDK's rendering: lowercase hex without zero padding."""
    return {"r": hex(r), "s": hex(s), "v": v}


def parse_signature(signature: Any) -> bytes:
    """A 65-byte recoverable signature from ``{"r", "s", "v"}``; ``ValueError`` if malformed.

    Accepts zero-padded and unpadded hex (both are used by SDKs in production).
    """
    if not isinstance(signature, dict):
        raise ValueError("signature must be an object with r, s, v")
    try:
        r = int(signature["r"], 16)
        s = int(signature["s"], 16)
        v = signature["v"]
    except (KeyError, TypeError, ValueError):
        raise ValueError("signature must have hex r, s and integer v") from None
    if isinstance(v, bool) or not isinstance(v, int) or v not in (27, 28, 0, 1):
        raise ValueError("signature v must be 27 or 28")
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise ValueError("signature r and s must be in [1, n)")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v - 27 if v >= 27 else v])


def recover_address(digest: bytes, signature: Any) -> str:
    """The lowercase address that signed ``digest``; ``ValueError`` if none can be recovered."""
    sig = parse_signature(signature)
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(sig, digest, hasher=None)
    except (ValueError, TypeError, Exception) as exc:  # coincurve raises bare Exception
        raise ValueError("Unable to recover signer.") from exc
    return address_from_public_key(public_key)


class L1Signer:
    """The fast signer: one parsed key, precomputed EIP-712 constants.

    ``address`` is the signer's (lowercase) address; the key is never exposed.
    """

    __slots__ = ("_key", "_source_hash", "address", "is_mainnet")

    def __init__(self, private_key: str | bytes | SecretKey, *, is_mainnet: bool) -> None:
        self._key = SecretKey(private_key)
        self.address = self._key.address
        self.is_mainnet = is_mainnet
        self._source_hash = _SOURCE_HASH[is_mainnet]

    def sign_action(
        self,
        action: dict[str, Any],
        nonce: int,
        vault_address: str | None = None,
        expires_after: int | None = None,
    ) -> Signature:
        connection_id = keccak256(action_hash_input(action, nonce, vault_address, expires_after))
        return self.sign_connection_id(connection_id)

    def sign_connection_id(self, connection_id: bytes) -> Signature:
        struct_hash = keccak256(AGENT_TYPEHASH + self._source_hash + connection_id)
        digest = keccak256(b"\x19\x01" + L1_DOMAIN_SEPARATOR + struct_hash)
        r, s, v = self._key.sign_digest(digest)
        return {"r": hex(r), "s": hex(s), "v": v}

    def __repr__(self) -> str:
        network = "mainnet" if self.is_mainnet else "testnet"
        return f"L1Signer(address={self.address}, network={network})"

    def __reduce__(self) -> Any:
        raise TypeError("L1Signer holds a key and cannot be pickled")


def sign_l1_action(
    private_key: str | bytes | SecretKey,
    action: dict[str, Any],
    nonce: int,
    *,
    vault_address: str | None = None,
    expires_after: int | None = None,
    is_mainnet: bool,
) -> Signature:
    """Sign an L1 action as the SDK's ``sign_l1_action`` does; returns ``{"r", "s", "v"}``."""
    return L1Signer(private_key, is_mainnet=is_mainnet).sign_action(
        action, nonce, vault_address, expires_after
    )


def recover_l1_signer(
    action: dict[str, Any],
    nonce: int,
    signature: Any,
    *,
    vault_address: str | None = None,
    expires_after: int | None = None,
    is_mainnet: bool,
) -> str:
    """The lowercase address whose key signed this L1 action (as the venue recovers it)."""
    connection_id = action_hash(action, nonce, vault_address, expires_after)
    return recover_address(l1_digest(connection_id, is_mainnet=is_mainnet), signature)


# --- user-signed actions ----------------------------------------------------------------

USER_SIGNED_TYPES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "usdSend": (
        "HyperliquidTransaction:UsdSend",
        (("hyperliquidChain", "string"), ("destination", "string"), ("amount", "string"),
         ("time", "uint64")),
    ),
    "spotSend": (
        "HyperliquidTransaction:SpotSend",
        (("hyperliquidChain", "string"), ("destination", "string"), ("token", "string"),
         ("amount", "string"), ("time", "uint64")),
    ),
    "withdraw3": (
        "HyperliquidTransaction:Withdraw",
        (("hyperliquidChain", "string"), ("destination", "string"), ("amount", "string"),
         ("time", "uint64")),
    ),
    "usdClassTransfer": (
        "HyperliquidTransaction:UsdClassTransfer",
        (("hyperliquidChain", "string"), ("amount", "string"), ("toPerp", "bool"),
         ("nonce", "uint64")),
    ),
    "sendAsset": (
        "HyperliquidTransaction:SendAsset",
        (("hyperliquidChain", "string"), ("destination", "string"), ("sourceDex", "string"),
         ("destinationDex", "string"), ("token", "string"), ("amount", "string"),
         ("fromSubAccount", "string"), ("nonce", "uint64")),
    ),
    "approveAgent": (
        "HyperliquidTransaction:ApproveAgent",
        (("hyperliquidChain", "string"), ("agentAddress", "address"), ("agentName", "string"),
         ("nonce", "uint64")),
    ),
    "approveBuilderFee": (
        "HyperliquidTransaction:ApproveBuilderFee",
        (("hyperliquidChain", "string"), ("maxFeeRate", "string"), ("builder", "address"),
         ("nonce", "uint64")),
    ),
    "tokenDelegate": (
        "HyperliquidTransaction:TokenDelegate",
        (("hyperliquidChain", "string"), ("validator", "address"), ("wei", "uint64"),
         ("isUndelegate", "bool"), ("nonce", "uint64")),
    ),
}

_TYPEHASHES = {
    kind: keccak256(
        (primary + "(" + ",".join(f"{t} {n}" for n, t in fields) + ")").encode()
    )
    for kind, (primary, fields) in USER_SIGNED_TYPES.items()
}


def user_signed_nonce(message: dict[str, Any]) -> int:
    """The envelope nonce of a user-signed action: its ``time`` or ``nonce`` field."""
    value = message.get("time", message.get("nonce"))
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("user-signed action needs an integer 'time' or 'nonce'")
    return value


def _encode_value(kind: str, value: Any, name: str) -> bytes:
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"field {name!r} must be a string")
        return keccak256(value.encode())
    if kind == "address":
        if not isinstance(value, str):
            raise ValueError(f"field {name!r} must be an address string")
        return bytes(12) + _address_bytes(value)
    if kind == "uint64":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
            raise ValueError(f"field {name!r} must be a uint64")
        return _uint256(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"field {name!r} must be a bool")
        return _uint256(int(value))
    raise AssertionError(kind)


def user_signed_digest(message: dict[str, Any]) -> bytes:
    """EIP-712 digest of a user-signed action (its ``type`` picks the primary type)."""
    kind = message.get("type")
    if kind not in USER_SIGNED_TYPES:
        raise ValueError(f"not a user-signed action type: {str(kind)[:40]!r}")
    _primary, fields = USER_SIGNED_TYPES[kind]
    chain = message.get("signatureChainId")
    if not isinstance(chain, str):
        raise ValueError("user-signed action needs a hex 'signatureChainId'")
    try:
        chain_id = int(chain, 16)
    except ValueError:
        raise ValueError("signatureChainId must be hex") from None
    encoded = bytearray(_TYPEHASHES[kind])
    for name, field_type in fields:
        if name not in message:
            raise ValueError(f"user-signed {kind} needs field {name!r}")
        encoded += _encode_value(field_type, message[name], name)
    struct_hash = keccak256(bytes(encoded))
    return keccak256(
        b"\x19\x01" + domain_separator(USER_SIGNED_DOMAIN_NAME, "1", chain_id) + struct_hash
    )


def _check_chain(message: dict[str, Any], *, is_mainnet: bool) -> None:
    expected = "Mainnet" if is_mainnet else "Testnet"
    if message.get("hyperliquidChain") != expected:
        raise ValueError(
            f"message is for hyperliquidChain={str(message.get('hyperliquidChain'))[:16]!r} "
            f"but is_mainnet={is_mainnet}"
        )


def sign_user_signed_action(
    private_key: str | bytes | SecretKey, message: dict[str, Any], *, is_mainnet: bool
) -> Signature:
    """Sign a user-signed action; ``message`` is exactly what is signed (it carries
    ``signatureChainId`` and ``hyperliquidChain``, which must agree with ``is_mainnet``)."""
    _check_chain(message, is_mainnet=is_mainnet)
    r, s, v = SecretKey(private_key).sign_digest(user_signed_digest(message))
    return render_signature(r, s, v)


def recover_user_signed_signer(message: dict[str, Any], signature: Any) -> str:
    return recover_address(user_signed_digest(message), signature)
