"""The runtime's configuration: a TOML file plus command-line overrides.

Every field has a default so ``scripts/run`` with no arguments works (the embedded local
exchange and the demo strategy). Bad values raise `ConfigError` naming the key; keys are never
accepted inline (only a key file, an environment variable or an encrypted keystore).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from actors.executing.core import ExecutionConfig
from actors.executing.pacing import PacingConfig
from actors.gating.normalize import RiskConfig
from actors.gating.pressure import PressureConfig
from actors.order_tracking.config import TrackerConfig
from actors.publishing.core import PublisherConfig
from actors.signing.config import SignerConfig
from messages.pairs import validate_trading_pair
from venues.hyperliquid.transport import DEFAULT_MAX_FRAME_BYTES, MIN_MAX_FRAME_BYTES

if TYPE_CHECKING:
    from actors.load_generator import LoadSettings

Network = Literal["sim", "testnet", "mainnet"]
NETWORK_URLS = {
    "mainnet": "https://api.hyperliquid.xyz",
    "testnet": "https://api.hyperliquid-testnet.xyz",
}


class ConfigError(ValueError):
    pass


@attrs.frozen(kw_only=True)
class VenueConfig:
    network: Network = "sim"
    url: str | None = None
    """Any Hyperliquid-compatible endpoint (a standalone local exchange…); signs for testnet
    unless ``network = "mainnet"``."""
    confirm_mainnet: bool = False
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    """Largest WebSocket message accepted from the venue (streams and the post channel); a
    larger one drops the connection, which reconnects (`venues.hyperliquid.transport`)."""


@attrs.frozen(kw_only=True)
class AccountConfig:
    key_file: Path | None = None
    key_env: str | None = None
    keystore: Path | None = None
    keystore_password_env: str | None = None
    account: str | None = None
    """The master account when the key is an agent (API) wallet."""
    vault: str | None = None
    """Trade for this vault / sub-account of the master: its orders, fills and positions are
    the ones queried, subscribed and cancelled (the key still signs)."""
    allow_insecure_key_file: bool = False
    """Accept a key file that users other than its owner may read (refused by default)."""


@attrs.frozen(kw_only=True)
class SimulatorSettings:
    seed: int = 7
    config: Path | None = None
    port: int = 0


@attrs.frozen(kw_only=True)
class StrategyConfig:
    kind: Literal["market_maker", "load", "none"] = "market_maker"
    id: str = "mm"
    trading_pair: str = "BTC-USD"
    edge_bps: Decimal = Decimal("-0.5")
    requote_bps: Decimal = Decimal("0.5")
    quote_notional: Decimal = Decimal(25)
    max_position_notional: Decimal = Decimal(200)


def _load_schedule(value: Any) -> tuple[tuple[float, float], ...]:
    try:
        steps = tuple((float(rate), float(seconds)) for rate, seconds in value)
    except (TypeError, ValueError):
        raise ValueError("schedule must be a list of [submits per second, seconds] pairs, "
                         f"not {value!r}") from None
    return steps


@attrs.frozen(kw_only=True)
class LoadConfig:
    """``[load]``: the load strategy's settings (``[strategy] kind = "load"``; see
    actors/load_generator.py)."""

    schedule: tuple[tuple[float, float], ...] = attrs.field(
        default=((10.0, 60.0),), converter=_load_schedule)
    order_notional: Decimal = Decimal(20)
    rest_distance_bps: Decimal = Decimal(50)
    cross_fraction: float = 0.1
    modify_fraction: float = 0.1
    modify_hold_s: float = 1.0
    start_at: float | None = None
    """Unix time (s) the schedule counts from (a restarted runtime resumes it); default: the
    strategy's start."""
    seed: int = 0


@attrs.frozen(kw_only=True)
class RuntimeConfig:
    venue: VenueConfig = attrs.field(factory=VenueConfig)
    account: AccountConfig = attrs.field(factory=AccountConfig)
    simulator: SimulatorSettings = attrs.field(factory=SimulatorSettings)
    publisher: PublisherConfig = attrs.field(factory=PublisherConfig)
    execution: ExecutionConfig = attrs.field(factory=ExecutionConfig)
    """Execution's (``[execution]``; its pacing is ``[execution.pacing]``)."""
    signer: SignerConfig = attrs.field(factory=SignerConfig)
    """The signer's (``[signer]``)."""
    backpressure: PressureConfig = attrs.field(factory=PressureConfig)
    """The risk gate's back-pressure (``[backpressure]``; its rate is derived from
    ``[execution.pacing]``)."""
    risk: RiskConfig = attrs.field(factory=RiskConfig)
    """The risk gate's pre-trade checks (``[risk]``)."""
    tracker: TrackerConfig = attrs.field(factory=TrackerConfig)
    """The order tracker's configuration (``[tracker]``; ``external_orders`` may also be given
    at the top level, as earlier releases read it)."""
    strategy: StrategyConfig = attrs.field(factory=StrategyConfig)
    load: LoadConfig = attrs.field(factory=LoadConfig)
    data_dir: Path = Path("var")
    cancel_on_exit: bool = True
    status_interval_s: float = 1.0
    restart_intensity: int = 20
    """Restarts allowed at the root within ``restart_period_s`` before it escalates (cancel
    everything, halt, exit non-zero)."""
    restart_period_s: float = 60.0
    tune_gc: bool = True
    """Freeze start-up objects and collect the young generation less often (latency)."""
    cpus: tuple[int, ...] | None = None
    """Pin the runtime's threads to these CPUs (the GIL runs one thread at a time: on one core
    a hand-off between actors is a context switch, not a wake-up of an idle CPU)."""
    keep_warm: bool = False
    """Keep the runtime's CPUs busy at idle priority so they never go idle between orders
    (`runtime.keepalive`; costs a full CPU each, gives way to every runtime
    thread)."""

    @property
    def base_url(self) -> str | None:
        if self.venue.url:
            return self.venue.url.rstrip("/")
        return NETWORK_URLS.get(self.venue.network)

    @property
    def is_mainnet(self) -> bool:
        return self.venue.network == "mainnet"


_SECTIONS: dict[str, type] = {
    "venue": VenueConfig, "account": AccountConfig, "simulator": SimulatorSettings,
    "publisher": PublisherConfig, "execution": ExecutionConfig,
    "signer": SignerConfig, "backpressure": PressureConfig, "risk": RiskConfig,
    "tracker": TrackerConfig,
    "strategy": StrategyConfig, "load": LoadConfig,
}


_RENAMED = {("publisher", "hwm"): "sndhwm"}
"""Settings read under an earlier name too (files written for an earlier release)."""
_MOVED = {
    ("execution", "ip_weight_per_minute"): ("execution", "pacing"),
    ("execution", "expires_after_s"): ("signer", None),
    ("execution", "eager_share"): ("signer", None),
    ("execution", "linger_s"): ("signer", None),
    ("execution", "max_queue_delay_s"): ("backpressure", None),
}
"""Settings an earlier release read in another section: (section, key) → (section, sub-table
or None). They are still read there, as if written in their own section."""


_NESTED: dict[str, type] = {"PacingConfig": PacingConfig}
"""Fields that are tables of their own (``[execution.pacing]``), by their annotation."""


def _convert(section: str, cls: type, values: dict[str, Any]) -> Any:
    # A field marked ``configurable=False`` is a fact, not a choice (the venue's minimum
    # order value…): the configuration cannot set it.
    fields = {f.name: f for f in attrs.fields(cls) if f.metadata.get("configurable", True)}
    kwargs: dict[str, Any] = {}
    for given, value in values.items():
        key = _RENAMED.get((section, given), given)
        if key in ("key", "private_key", "secret"):
            raise ConfigError(f"[{section}] {key}: keys are never read from the configuration; "
                              "use key_file, key_env or keystore")
        if key not in fields:
            raise ConfigError(f"[{section}] unknown setting {key!r} "
                              f"(known: {', '.join(sorted(fields))})")
        nested = _NESTED.get(str(fields[key].type))
        if nested is not None:
            if not isinstance(value, dict):
                raise ConfigError(f"[{section}.{key}] must be a table")
            kwargs[key] = _convert(f"{section}.{key}", nested, value)
        else:
            kwargs[key] = _coerce(f"[{section}] {key}", fields[key], value)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{section}] {exc}") from exc


def _coerce(where: str, field: Any, value: Any) -> Any:
    text = str(field.type)
    if "Decimal" in text and value is not None:
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise ConfigError(f"{where}: not a number: {value!r}") from None
    if "Path" in text and value is not None:
        return Path(str(value))
    if "float" in text and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _move_earlier_placements(data: dict[str, Any]) -> dict[str, Any]:
    moved = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for (section, key), (target, table) in _MOVED.items():
        values = moved.get(section)
        if not isinstance(values, dict) or key not in values:
            continue
        into = moved.setdefault(target, {})
        if not isinstance(into, dict):
            raise ConfigError(f"[{target}] must be a table")
        if table is not None:
            into = into.setdefault(table, {})
            if not isinstance(into, dict):
                raise ConfigError(f"[{target}.{table}] must be a table")
        if key in into:
            raise ConfigError(f"{key} is given twice ([{section}] and its own section)")
        into[key] = values.pop(key)
    return moved


def from_dict(data: dict[str, Any]) -> RuntimeConfig:
    kwargs: dict[str, Any] = {}
    data = _move_earlier_placements(data)
    if "external_orders" in data:
        # Read at the top level by earlier releases; it is the tracker's setting.
        data = dict(data)
        tracker = data.get("tracker", {})
        if not isinstance(tracker, dict):
            raise ConfigError("[tracker] must be a table")
        if "external_orders" in tracker:
            raise ConfigError("external_orders is given twice (top level and [tracker])")
        data["tracker"] = {**tracker, "external_orders": data.pop("external_orders")}
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] must be a table")
            kwargs[key] = _convert(key, _SECTIONS[key], value)
        elif key in ("data_dir",):
            kwargs[key] = Path(str(value))
        elif key in ("cancel_on_exit", "status_interval_s",
                     "restart_intensity", "restart_period_s", "tune_gc", "keep_warm"):
            kwargs[key] = value
        elif key == "cpus":
            if not isinstance(value, list) or not all(isinstance(c, int) for c in value):
                raise ConfigError("cpus must be a list of CPU numbers")
            kwargs[key] = tuple(value)
        else:
            raise ConfigError(f"unknown top-level setting {key!r}")
    config = RuntimeConfig(**kwargs)
    validate(config)
    return config


def load(path: Path | None) -> RuntimeConfig:
    if path is None:
        return RuntimeConfig()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return from_dict(data)


def load_settings(config: RuntimeConfig) -> LoadSettings:
    """The load strategy's settings from ``[load]`` and ``[strategy] trading_pair``; a bad
    value raises ConfigError naming its key."""
    from actors.load_generator import LoadSettings

    load = config.load
    try:
        start_at_ns = None if load.start_at is None else int(load.start_at * 1e9)
        return LoadSettings(
            trading_pair=config.strategy.trading_pair, schedule=load.schedule,
            order_notional=load.order_notional, rest_distance_bps=load.rest_distance_bps,
            cross_fraction=load.cross_fraction, modify_fraction=load.modify_fraction,
            modify_hold_s=load.modify_hold_s, start_at_ns=start_at_ns, seed=load.seed)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"[load] {exc}") from None


def validate(config: RuntimeConfig) -> None:
    venue = config.venue
    if venue.network not in ("sim", "testnet", "mainnet"):
        raise ConfigError(f"[venue] network must be sim, testnet or mainnet, not "
                          f"{venue.network!r}")
    if venue.network == "mainnet" and not venue.confirm_mainnet:
        raise ConfigError("mainnet trades real money: pass --i-understand-this-is-mainnet "
                          "(or [venue] confirm_mainnet = true) to proceed")
    if venue.network != "sim" and not (config.account.key_file or config.account.key_env
                                       or config.account.keystore):
        raise ConfigError(f"network {venue.network!r} needs a key: --key-file, --key-env or "
                          "--keystore")
    if venue.url is not None and not venue.url.startswith(("http://", "https://")):
        raise ConfigError(f"[venue] url must start with http:// or https://, got {venue.url!r}")
    if config.strategy.kind not in ("market_maker", "load", "none"):
        raise ConfigError(f"[strategy] kind must be market_maker, load or none, not "
                          f"{config.strategy.kind!r}")
    if config.strategy.kind == "load":
        load_settings(config)
    try:
        validate_trading_pair(config.strategy.trading_pair)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[strategy] trading_pair: {exc}") from None
    if config.cpus is not None:
        available = os.sched_getaffinity(0)
        if not config.cpus or not set(config.cpus) <= available:
            raise ConfigError(f"cpus {list(config.cpus)} must be a non-empty subset of the "
                              f"available CPUs {sorted(available)}")
    for name in ("cancel_on_exit", "tune_gc", "keep_warm"):
        if not isinstance(getattr(config, name), bool):
            raise ConfigError(f"{name} must be true or false")
    if config.publisher.format not in ("json", "msgpack"):
        raise ConfigError("[publisher] format must be json or msgpack")
    _check_risky_settings(config)


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
MAX_FRAME_LIMIT = 1 << 30


def publisher_addresses(publisher: PublisherConfig) -> dict[str, str]:
    """Every endpoint the publisher binds, by setting name: each ``*address`` setting, so an
    endpoint added beside the PUB (a replay socket…) is checked like it without a change here."""
    found: dict[str, str] = {}
    for field in attrs.fields(type(publisher)):
        value = getattr(publisher, field.name)
        if field.name.endswith("address") and isinstance(value, str) and value:
            found[field.name] = value
    if "replay_address" not in found:
        # Derived from the publish address; a malformed one is reported on its own.
        with contextlib.suppress(ValueError):
            found["replay_address"] = publisher.replay_endpoint
    return found


def is_local_endpoint(endpoint: str) -> bool:
    """Whether a ZMQ endpoint can only be reached from this machine: ``ipc://``, ``inproc://``
    or ``tcp://`` on a loopback address (``127.0.0.0/8``, ``::1``, ``localhost``, ``lo``).
    ``*``, ``0.0.0.0``, a LAN address, another interface or transport: not local."""
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        return False
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host = rest.rpartition(":")[0].strip("[]")
    if host in ("localhost", "lo"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_risky_settings(config: RuntimeConfig) -> None:
    publisher = config.publisher
    for name in ("allow_remote",):
        if not isinstance(getattr(publisher, name), bool):
            raise ConfigError(f"[publisher] {name} must be true or false")
    if not isinstance(config.account.allow_insecure_key_file, bool):
        raise ConfigError("[account] allow_insecure_key_file must be true or false")
    if not publisher.allow_remote:
        for name, endpoint in publisher_addresses(publisher).items():
            if not is_local_endpoint(endpoint):
                raise ConfigError(
                    f"[publisher] {name} {endpoint!r} can be reached from other machines, and "
                    "order events are published without authentication. Bind a loopback "
                    "address (tcp://127.0.0.1:PORT), or pass --allow-remote-publish "
                    "([publisher] allow_remote = true) to publish beyond this machine on "
                    "purpose")
    for name in ("account", "vault"):
        value = getattr(config.account, name)
        if value is not None and not (isinstance(value, str) and _ADDRESS.fullmatch(value)):
            raise ConfigError(f"[account] {name} must be an address (0x and 40 hex digits), "
                              f"not {str(value)[:60]!r}")
    size = config.venue.max_frame_bytes
    if isinstance(size, bool) or not isinstance(size, int) or not (
        MIN_MAX_FRAME_BYTES <= size <= MAX_FRAME_LIMIT
    ):
        raise ConfigError(f"[venue] max_frame_bytes must be an integer from "
                          f"{MIN_MAX_FRAME_BYTES} to {MAX_FRAME_LIMIT}, not {size!r}")
