"""A local exchange that speaks Hyperliquid's protocol (POST /info, POST /exchange, WS /ws).

Embed it with ``start_simulator(config)`` (background thread, 127.0.0.1:0 by default) or run
``scripts/sim``. ``DEMO_PRIVATE_KEY`` / ``DEMO_ADDRESS`` are a PUBLIC THROWAWAY key that the
default configuration funds; never use it anywhere real. See docs/simulator.md.
"""

from venues.simulator.config import (
    DEMO_ADDRESS,
    DEMO_PRIVATE_KEY,
    AccountSpec,
    CoinSpec,
    FeeSchedule,
    FlowConfig,
    SimulatorConfig,
    config_from_dict,
    load_config,
)
from venues.simulator.core import SimulatorCore
from venues.simulator.faults import FaultPlan
from venues.simulator.runner import RunningSimulator, start_simulator

__all__ = [
    "DEMO_ADDRESS",
    "DEMO_PRIVATE_KEY",
    "AccountSpec",
    "CoinSpec",
    "FaultPlan",
    "FeeSchedule",
    "FlowConfig",
    "RunningSimulator",
    "SimulatorConfig",
    "SimulatorCore",
    "config_from_dict",
    "load_config",
    "start_simulator",
]
