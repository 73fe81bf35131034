"""Runtime configuration: TOML tables and command-line flags in, clear errors for bad values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from supervision.runtime.config import ConfigError, RuntimeConfig, from_dict, load
from supervision.runtime.launch import config_from_args, parser


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
