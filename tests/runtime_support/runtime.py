"""Configuring and running the whole runtime against the embedded exchange."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from supervision.runtime.config import (
    PublisherSettings,
    RuntimeConfig,
    SimulatorSettings,
    StrategyConfig,
)
from supervision.runtime.launch import Runtime
from supervision.runtime.tree import Wiring
from supervision.spec import ChildSpec

SIM_TOML = """\
[flow]
steps_per_second = {steps}
taker_probability = {takers}
"""


def runtime_config(data_dir: Path, *, publish: str, sim_seed: int,
                   flow_steps_per_second: float = 6.0,
                   taker_probability: float = 0.6) -> RuntimeConfig:
    """The embedded exchange with a busier synthetic market (more fills against our quotes),
    no demo strategy, and room in the root's intensity for the injected crashes."""
    sim_config = data_dir / "sim.toml"
    sim_config.write_text(SIM_TOML.format(steps=flow_steps_per_second, takers=taker_probability),
                          encoding="utf-8")
    return RuntimeConfig(
        strategy=StrategyConfig(kind="none"), data_dir=data_dir / "var",
        publisher=PublisherSettings(address=publish),
        simulator=SimulatorSettings(seed=sim_seed, config=sim_config), restart_intensity=200,
        restart_period_s=60.0)


@contextmanager
def running(config: RuntimeConfig,
            strategies: tuple[Callable[[Wiring], ChildSpec], ...]) -> Iterator[Runtime]:
    rt = Runtime(config, strategies=strategies)
    try:
        rt.start()
        yield rt
    finally:
        if rt.tree is not None and not rt.tree.terminated:
            rt.tree.stop()
        if rt.sim is not None:
            rt.sim.stop()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the publisher binds it for the whole run, so a
    restarted publisher rebinds the same address and subscribers reconnect by themselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
