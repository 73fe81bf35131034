"""Simulator configuration: coins, funded accounts, fees, synthetic flow, network flag.

Everything has a default, so ``SimulatorConfig()`` is a working exchange: four coins with
mainnet-like size decimals, the public demo account funded, mainnet tier-0 fees and a gentle
synthetic market. ``load_config(path)`` reads the same fields from TOML (see docs/simulator.md).
"""

from __future__ import annotations

import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from venues.hyperliquid.keys import SecretKey, keccak256
from venues.hyperliquid.wire import check_address
from venues.simulator.limits import LimitsConfig, limits_from_mapping

# A PUBLIC THROWAWAY key: anyone can derive it from the seed string. It exists so the simulator
# and the runtime work out of the box offline. Never fund it on a real network.
DEMO_PRIVATE_KEY = "0x" + keccak256(b"perpetuum-demo-key").hex()
DEMO_ADDRESS = SecretKey(DEMO_PRIVATE_KEY).address
DEMO_USDC = Decimal(1_000_000)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not out.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return out


@attrs.frozen(kw_only=True)
class CoinSpec:
    """One perpetual: its asset id is its position in ``SimulatorConfig.coins``."""

    name: str
    sz_decimals: int
    max_leverage: int
    mid: Decimal = attrs.field(converter=_decimal)

    def __attrs_post_init__(self) -> None:
        if not self.name or not 0 <= self.sz_decimals <= 6:
            raise ValueError(f"bad coin {self.name!r}: szDecimals must be in 0..6")
        if self.max_leverage < 1 or self.mid <= 0:
            raise ValueError(f"bad coin {self.name!r}: maxLeverage >= 1 and mid > 0 required")


DEFAULT_COINS = (
    CoinSpec(name="BTC", sz_decimals=5, max_leverage=40, mid=Decimal(100000)),
    CoinSpec(name="ETH", sz_decimals=4, max_leverage=25, mid=Decimal(3500)),
    CoinSpec(name="SOL", sz_decimals=2, max_leverage=20, mid=Decimal(150)),
    CoinSpec(name="HYPE", sz_decimals=2, max_leverage=10, mid=Decimal(30)),
)


@attrs.frozen(kw_only=True)
class FeeSchedule:
    maker: Decimal = attrs.field(default=Decimal("0.00015"), converter=_decimal)
    taker: Decimal = attrs.field(default=Decimal("0.00045"), converter=_decimal)


@attrs.frozen(kw_only=True)
class FlowConfig:
    """Synthetic participants: a random-walk mid, makers quoting ``levels`` per side, takers."""

    enabled: bool = True
    steps_per_second: float = 2.0
    levels: int = 10
    taker_probability: float = 0.3
    # Largest mid move per step, in ticks.
    max_move_ticks: int = 3

    def __attrs_post_init__(self) -> None:
        if self.steps_per_second <= 0 or self.levels < 1 or not 0 <= self.taker_probability <= 1:
            raise ValueError("flow: steps_per_second > 0, levels >= 1, taker_probability in [0,1]")


@attrs.frozen(kw_only=True)
class AccountSpec:
    """A funded account. ``master`` makes it a sub-account the master may trade through
    ``vaultAddress``. ``cum_volume`` is the USDC volume it has already traded: it raises the
    address's request budget (1 per USDC) and open-order cap (1 per 5M), so a long soak can
    run with a large budget honestly."""

    address: str = attrs.field(converter=check_address)
    usdc: Decimal = attrs.field(converter=_decimal)
    master: str | None = attrs.field(
        default=None, converter=attrs.converters.optional(check_address)
    )
    cum_volume: Decimal = attrs.field(default=Decimal(0), converter=_decimal)

    def __attrs_post_init__(self) -> None:
        if self.cum_volume < 0:
            raise ValueError(f"account {self.address}: cum_volume must be >= 0")
        if self.master == self.address:
            raise ValueError(f"account {self.address} cannot be its own master")


@attrs.frozen(kw_only=True)
class SimulatorConfig:
    coins: tuple[CoinSpec, ...] = DEFAULT_COINS
    accounts: tuple[AccountSpec, ...] = (AccountSpec(address=DEMO_ADDRESS, usdc=DEMO_USDC),)
    fees: FeeSchedule = FeeSchedule()
    flow: FlowConfig = FlowConfig()
    seed: int = 1
    # False = expect testnet signatures (source "b", hyperliquidChain "Testnet"), like the
    # official SDK does for any base URL that is not mainnet's.
    is_mainnet: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    idle_timeout_s: float = 60.0
    # Finished orders remembered per account (orderStatus, historicalOrders); older ones answer
    # unknownOid. The venue keeps far more; a long soak judging every order raises it.
    history_cap: int = 5000
    # The venue's limits (IP weight, WebSocket allowances, address budget, open orders; see
    # venues/simulator/limits.py). On by default: a client that passes here respects them.
    # Off only for tests that must exceed them for reasons unrelated to limits (benchmarks).
    enforce_limits: bool = True
    limits: LimitsConfig = attrs.Factory(LimitsConfig)
    # The address budget alone: None follows ``enforce_limits``; True/False overrides it.
    enforce_address_rate_limit: bool | None = None
    # BENCHMARK ONLY: skip signature recovery and attribute every action to
    # ``unverified_signer``. Never use it to test a client's signing.
    verify_signatures: bool = True
    unverified_signer: str = DEMO_ADDRESS

    def __attrs_post_init__(self) -> None:
        names = [c.name for c in self.coins]
        if not names or len(set(names)) != len(names):
            raise ValueError("coins must be non-empty with unique names")
        if self.idle_timeout_s <= 0:
            raise ValueError("idle_timeout_s must be > 0")
        if self.history_cap < 2000:
            raise ValueError("history_cap must be >= 2000 (historicalOrders answers 2000)")

    @property
    def address_budget_enforced(self) -> bool:
        if self.enforce_address_rate_limit is None:
            return self.enforce_limits
        return self.enforce_address_rate_limit

    def _with_account(self, address: str, **changes: Any) -> SimulatorConfig:
        address = check_address(address)
        accounts = list(self.accounts)
        for i, spec in enumerate(accounts):
            if spec.address == address:
                usdc = spec.usdc + changes.pop("usdc", Decimal(0))
                volume = spec.cum_volume + changes.pop("cum_volume", Decimal(0))
                accounts[i] = attrs.evolve(spec, usdc=usdc, cum_volume=volume, **changes)
                break
        else:
            changes.setdefault("usdc", Decimal(0))
            accounts.append(AccountSpec(address=address, **changes))
        return attrs.evolve(self, accounts=tuple(accounts))

    def with_funding(self, address: str, usdc: Decimal) -> SimulatorConfig:
        """A copy with ``usdc`` more on ``address`` (added to an existing entry)."""
        return self._with_account(address, usdc=usdc)

    def with_volume(self, address: str, usdc: Decimal) -> SimulatorConfig:
        """A copy in which ``address`` has already traded ``usdc`` more volume."""
        return self._with_account(address, cum_volume=usdc)

    def with_sub_account(self, master: str, sub: str, usdc: Decimal) -> SimulatorConfig:
        """A copy with ``sub`` a sub-account of ``master`` (which must be an account too),
        credited with ``usdc``."""
        master = check_address(master)
        if not any(spec.address == master for spec in self.accounts):
            raise ValueError(f"master {master} of sub-account {sub} is not an account")
        return self._with_account(sub, usdc=usdc, master=master)


_TOP_KEYS = {
    "coins", "accounts", "fees", "flow", "seed", "is_mainnet", "host", "port",
    "idle_timeout_s", "enforce_address_rate_limit", "enforce_limits", "limits", "history_cap",
}


def config_from_dict(data: dict[str, Any], base: SimulatorConfig | None = None) -> SimulatorConfig:
    """Build a config from parsed TOML; unknown keys are an error (typos must not pass)."""
    base = base or SimulatorConfig()
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ValueError(f"unknown simulator config keys: {sorted(unknown)}")
    changes: dict[str, Any] = {}
    try:
        if "coins" in data:
            changes["coins"] = tuple(CoinSpec(**c) for c in data["coins"])
        if "accounts" in data:
            changes["accounts"] = tuple(AccountSpec(**a) for a in data["accounts"])
        if "fees" in data:
            changes["fees"] = FeeSchedule(**data["fees"])
        if "flow" in data:
            changes["flow"] = FlowConfig(**data["flow"])
        if "limits" in data:
            changes["limits"] = limits_from_mapping(data["limits"])
    except TypeError as exc:
        raise ValueError(f"bad simulator config: {exc}") from None
    for key in ("seed", "is_mainnet", "host", "port", "idle_timeout_s",
                "enforce_address_rate_limit", "enforce_limits", "history_cap"):
        if key in data:
            changes[key] = data[key]
    return attrs.evolve(base, **changes)


def load_config(path: str | Path, base: SimulatorConfig | None = None) -> SimulatorConfig:
    with open(path, "rb") as fh:
        return config_from_dict(tomllib.load(fh), base)
