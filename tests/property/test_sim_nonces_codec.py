"""Nonce rules against a model, and the action codec: canonical signing always recovers the
signer, any non-canonical number string never does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from venues.hyperliquid import signing
from venues.hyperliquid.numbers import decimal_to_wire
from venues.hyperliquid.signing import L1Signer
from venues.simulator.actions import parse_exchange_body
from venues.simulator.client import signed_body
from venues.simulator.nonces import MS_PER_DAY, NonceTracker

NOW = 1_750_000_000_000
KEPT = 5
SIGNERS = ("0x" + "01" * 20, "0x" + "02" * 20)


class NonceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tracker = NonceTracker(kept=KEPT)
        self.kept: dict[str, list[int]] = {s: [] for s in SIGNERS}

    def _model_accepts(self, signer: str, nonce: int) -> bool:
        if not NOW - 2 * MS_PER_DAY < nonce < NOW + MS_PER_DAY:
            return False
        kept = self.kept[signer]
        if nonce in kept:
            return False
        return len(kept) < KEPT or nonce > min(kept)

    @rule(
        signer=st.sampled_from(SIGNERS),
        nonce=st.one_of(
            st.integers(NOW - 20, NOW + 20),
            st.integers(NOW - 3 * MS_PER_DAY, NOW + 2 * MS_PER_DAY),
        ),
    )
    def offer(self, signer: str, nonce: int) -> None:
        expected = self._model_accepts(signer, nonce)
        error = self.tracker.check(signer, nonce, NOW)
        assert (error is None) == expected, error
        if error is None:
            self.tracker.use(signer, nonce)
            self.kept[signer] = sorted([*self.kept[signer], nonce])[-KEPT:]

    @invariant()
    def a_used_nonce_is_never_accepted_again(self) -> None:
        for signer, kept in self.kept.items():
            for nonce in kept:
                assert self.tracker.check(signer, nonce, NOW) is not None


NonceMachine.TestCase.settings = settings(max_examples=80, stateful_step_count=40,
                                          deadline=None)
TestNonces = NonceMachine.TestCase

SIGNER = L1Signer("0x" + "42" * 32, is_mainnet=False)
prices = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal(10**6), places=5,
                     allow_nan=False, allow_infinity=False)


def _recover(body: dict[str, Any]) -> str:
    req = parse_exchange_body(body)
    return signing.recover_l1_signer(req.canonical, req.nonce, req.signature,
                                     vault_address=req.vault_address,
                                     expires_after=req.expires_after, is_mainnet=False)


def _action(px: str, sz: str, cloid: str | None) -> dict[str, Any]:
    wire: dict[str, Any] = {"a": 0, "b": True, "p": px, "s": sz, "r": False,
                            "t": {"limit": {"tif": "Gtc"}}}
    if cloid is not None:
        wire["c"] = cloid
    return {"type": "order", "orders": [wire], "grouping": "na"}


@settings(max_examples=60, deadline=None)
@given(px=prices, sz=prices, cloid=st.none() | st.binary(min_size=16, max_size=16).map(
    lambda b: "0x" + b.hex()), nonce=st.integers(0, 2**63))
def test_canonical_signing_always_recovers_the_signer(
    px: Decimal, sz: Decimal, cloid: str | None, nonce: int
) -> None:
    action = _action(decimal_to_wire(px), decimal_to_wire(sz), cloid)
    body = signed_body(SIGNER, action, nonce)
    assert _recover(body) == SIGNER.address
    assert parse_exchange_body(body).canonical == action


@settings(max_examples=60, deadline=None)
@given(px=prices, style=st.sampled_from(["trailing zero", "exponent", "leading zero"]))
def test_non_canonical_strings_never_recover_the_signer(px: Decimal, style: str) -> None:
    canonical = decimal_to_wire(px)
    if style == "trailing zero":
        text = canonical + ("0" if "." in canonical else ".0")
    elif style == "exponent":
        text = canonical + "e0"
    else:
        text = "0" + canonical
    assert Decimal(text) == px
    assert text != canonical
    body = signed_body(SIGNER, _action(text, "1", None), 1)
    assert _recover(body) != SIGNER.address
