"""Runtime configuration: TOML tables and command-line flags in, clear errors for bad values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import pytest

from actors.publishing.core import PublisherConfig
from runtime.config import (
    ConfigError,
    RuntimeConfig,
    from_dict,
    load,
    publisher_addresses,
    validate,
)
from runtime.credentials import load_key
from runtime.launch import config_from_args, parser
from venues.hyperliquid.transport import DEFAULT_MAX_FRAME_BYTES
from venues.simulator import DEMO_ADDRESS, DEMO_PRIVATE_KEY


def _args(*argv: str) -> RuntimeConfig:
    return config_from_args(parser().parse_args(list(argv)))


def test_no_configuration_runs_the_embedded_exchange_with_the_demo_strategy() -> None:
    config = load(None)
    assert config.venue.network == "sim"
    assert config.strategy.kind == "market_maker"
    assert config.keep_warm is False
    assert config.cpus is None


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "perpetuum.toml"
    path.write_text('keep_warm = true\n[strategy]\ntrading_pair = "ETH-USD"\n')
    cpu = min(os.sched_getaffinity(0))
    config = _args("--config", str(path), "--pair", "SOL-USD", "--cpus", str(cpu))
    assert config.strategy.trading_pair == "SOL-USD"
    assert config.keep_warm is True
    assert config.cpus == (cpu,)
    assert _args("--keep-warm").keep_warm is True
    assert _args().keep_warm is False


@pytest.mark.parametrize(("data", "message"), [
    ({"keep_warm": 1}, "keep_warm must be true or false"),
    ({"keep_warm_us": 500}, "unknown top-level setting 'keep_warm_us'"),
    ({"tune_gc": "yes"}, "tune_gc must be true or false"),
    ({"cpus": [10_000]}, "must be a non-empty subset of the available CPUs"),
    ({"cpus": "1"}, "cpus must be a list of CPU numbers"),
    ({"colour": "blue"}, "unknown top-level setting 'colour'"),
    ({"venue": {"network": "moon"}}, "network must be sim, testnet or mainnet"),
    ({"venue": {"network": "mainnet"}}, "mainnet trades real money"),
    ({"account": {"private_key": "0x" + "11" * 32}}, "keys are never read"),
    ({"risk": {"max_order_notional": "ten"}}, "not a number"),
    ({"risk": {"min_notional": 10}}, "unknown setting .min_notional."),
    ({"publisher": {"format": "xml"}}, "format must be json or msgpack"),
])
def test_bad_values_are_refused_with_the_key_named(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(data)


def test_a_bad_flag_value_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="--cpus must list CPU numbers"):
        _args("--cpus", "one")


def test_a_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[venue\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(broken)


# --- risky settings: refused without an explicit flag (issue 10, item 7) --------------------


@pytest.mark.parametrize("endpoint", [
    "tcp://127.0.0.1:5556", "tcp://127.3.4.5:1", "tcp://localhost:5556", "tcp://[::1]:5556",
    "tcp://lo:5556", "ipc:///tmp/perpetuum.sock", "inproc://events",
])
def test_loopback_publisher_addresses_are_accepted(endpoint: str) -> None:
    assert _args("--publish", endpoint).publisher.address == endpoint


@pytest.mark.parametrize("endpoint", [
    "tcp://0.0.0.0:5556", "tcp://*:5556", "tcp://192.168.1.20:5556", "tcp://[::]:5556",
    "tcp://eth0:5556", "tcp://example.com:5556", "pgm://239.192.1.1:5555", "5556",
])
def test_a_publisher_address_other_machines_reach_needs_the_flag(endpoint: str) -> None:
    with pytest.raises(ConfigError, match=r"\[publisher\] address .* can be reached from other "
                                          r"machines.*--allow-remote-publish"):
        _args("--publish", endpoint)
    assert _args("--publish", endpoint, "--allow-remote-publish").publisher.allow_remote
    config = from_dict({"publisher": {"address": endpoint, "allow_remote": True}})
    assert config.publisher.address == endpoint


def test_every_publisher_address_is_checked_including_ones_added_later() -> None:
    """A second endpoint (the replay socket) is any ``*address`` setting of the publisher."""

    @attrs.frozen(kw_only=True)
    class WithReplay(PublisherConfig):
        replay_address: str = "tcp://127.0.0.1:5557"

    assert publisher_addresses(WithReplay()) == {"address": "tcp://127.0.0.1:5556",
                                                 "replay_address": "tcp://127.0.0.1:5557"}
    validate(RuntimeConfig(publisher=WithReplay()))
    with pytest.raises(ConfigError, match=r"replay_address 'tcp://0\.0\.0\.0:5557'"):
        validate(RuntimeConfig(publisher=WithReplay(replay_address="tcp://0.0.0.0:5557")))
    validate(RuntimeConfig(publisher=WithReplay(replay_address="tcp://0.0.0.0:5557",
                                                allow_remote=True)))


@pytest.mark.parametrize(("data", "message"), [
    ({"publisher": {"allow_remote": "yes"}}, "allow_remote must be true or false"),
    ({"account": {"allow_insecure_key_file": 1}}, "allow_insecure_key_file must be true"),
    ({"account": {"vault": "0x1234"}}, r"\[account\] vault must be an address"),
    ({"account": {"account": "master"}}, r"\[account\] account must be an address"),
    ({"venue": {"max_frame_bytes": 1000}}, "max_frame_bytes must be an integer from 65536"),
    ({"venue": {"max_frame_bytes": "4MB"}}, "max_frame_bytes must be an integer"),
])
def test_bad_security_and_limit_settings_are_refused(data: dict[str, Any],
                                                     message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(data)


def _key_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "agent.key"
    path.write_text(DEMO_PRIVATE_KEY + "\n")
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_a_key_file_others_may_read_is_refused_unless_allowed(tmp_path: Path,
                                                              mode: int) -> None:
    path = _key_file(tmp_path, mode)
    with pytest.raises(ConfigError, match=rf"can be read by other users \(mode {mode:03o}\): "
                                          rf"restrict it with `chmod 600 {path}`"):
        load_key(_args("--key-file", str(path)))
    key = load_key(_args("--key-file", str(path), "--allow-insecure-key-file"))
    assert key.address == DEMO_ADDRESS


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_key_file_is_accepted(tmp_path: Path, mode: int) -> None:
    assert load_key(_args("--key-file", str(_key_file(tmp_path, mode)))).address == (
        DEMO_ADDRESS)


def test_a_missing_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the key file .*missing\.key"):
        load_key(_args("--key-file", str(tmp_path / "missing.key")))


def test_max_frame_bytes_reaches_the_streams() -> None:
    config = from_dict({"venue": {"max_frame_bytes": 1 << 20}})
    assert config.venue.max_frame_bytes == 1 << 20
    assert load(None).venue.max_frame_bytes == DEFAULT_MAX_FRAME_BYTES


def test_tracker_settings_reach_the_tracker_and_bad_values_name_the_key() -> None:
    config = from_dict({"tracker": {"reconcile_interval_s": 12, "max_open_orders": 200}})
    assert config.tracker.reconcile_interval_s == 12.0
    assert config.tracker.max_open_orders == 200
    with pytest.raises(ConfigError, match=r"\[tracker\] max_open_orders must be in 1..5000"):
        from_dict({"tracker": {"max_open_orders": 9000}})
    with pytest.raises(ConfigError, match=r"\[tracker\] unknown setting 'interval'"):
        from_dict({"tracker": {"interval": 3}})


def test_each_section_is_its_actors_own_config_and_earlier_placements_are_still_read() -> None:
    """``[execution]``, ``[execution.pacing]``, ``[signer]``, ``[backpressure]`` are the
    actors' config classes; keys an earlier release read in ``[execution]`` land in their own
    section; a derived value cannot be set; a key given in both places is refused."""
    config = from_dict({
        "execution": {"request_timeout_s": 4, "pacing": {"ip_weight_per_minute": 600}},
        "signer": {"linger_s": 0.2}, "backpressure": {"max_queue_delay_s": 3},
    })
    assert config.execution.request_timeout_s == 4.0
    assert config.execution.pacing.ip_weight_per_minute == 600.0
    assert (config.signer.linger_s, config.backpressure.max_queue_delay_s) == (0.2, 3.0)
    earlier = from_dict({"execution": {"ip_weight_per_minute": 600, "eager_share": 0.1,
                                       "linger_s": 0.3, "expires_after_s": 5,
                                       "max_queue_delay_s": 1.5, "use_ws_post": False}})
    assert earlier.execution.pacing.ip_weight_per_minute == 600.0
    assert not earlier.execution.use_ws_post
    assert (earlier.signer.eager_share, earlier.signer.linger_s,
            earlier.signer.expires_after_s) == (0.1, 0.3, 5)
    assert earlier.backpressure.max_queue_delay_s == 1.5
    with pytest.raises(ConfigError, match=r"linger_s is given twice"):
        from_dict({"execution": {"linger_s": 0.3}, "signer": {"linger_s": 0.1}})
    with pytest.raises(ConfigError, match=r"\[backpressure\] unknown setting 'actions_per_s'"):
        from_dict({"backpressure": {"actions_per_s": 100}})
    with pytest.raises(ConfigError, match=r"\[execution.pacing\] unknown setting 'speed'"):
        from_dict({"execution": {"pacing": {"speed": 1}}})
    with pytest.raises(ConfigError, match=r"\[signer\] eager_share must be in"):
        from_dict({"signer": {"eager_share": 2}})
