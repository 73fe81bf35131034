"""Configuring and running the whole runtime against the embedded exchange."""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from actors.publishing.core import PublisherConfig
from runtime.config import (
    RuntimeConfig,
    SimulatorSettings,
    StrategyConfig,
)
from runtime.launch import Runtime
from runtime.wiring import Wiring
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
        publisher=PublisherConfig(address=publish),
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
    """A TCP port on 127.0.0.1 free right now, with the next one free too (the publisher's
    replay socket binds port + 1 by default). The publisher binds it for the whole run, so a
    restarted publisher rebinds the same address and subscribers reconnect by themselves.

    Chosen below Linux's ephemeral range (32768–60999): a port the kernel handed out for the
    check could be handed to an outgoing connection (to the simulator, say) before the
    publisher binds it, and a pair from that range is taken often enough to fail a run."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 32_000)
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(2)]
        try:
            for offset, sock in enumerate(sockets):
                sock.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return port
    raise RuntimeError("no free pair of TCP ports on 127.0.0.1 in 20000-32000")
