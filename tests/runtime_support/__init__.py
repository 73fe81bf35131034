"""Support for the runtime chaos tests: a strategy that churns orders, the ledger it shares with
the test, a ZMQ order-event recorder, and the comparison of the tracker with the exchange.

The strategy is recreated on every restart, so everything the test checks afterwards lives in
the `ChurnLedger` (thread-safe, owned by the test), never in the strategy instance.

Modules: `ledger` (ChurnLedger and its records), `strategy` (ChurnStrategy and its factory),
`runtime` (config and running the runtime), `recorder` (ZMQ EventRecorder), `venue` (exchange
state and faults behind the runtime's back), `compare` (tracker queries and the comparisons).
"""

from tests.runtime_support.compare import (
    ASK_TIMEOUT_S,
    UNSETTLED_STATES,
    compare,
    describe,
    duplicated_sequences,
    monitor_problems,
    open_orders,
    tracked,
    unsettled,
)
from tests.runtime_support.ledger import ChurnLedger, Created, SeenEvent
from tests.runtime_support.recorder import EventRecorder, ReplayRecorder
from tests.runtime_support.runtime import SIM_TOML, free_port, running, runtime_config
from tests.runtime_support.strategy import (
    NOTIONAL,
    PAIRS,
    SETTLED,
    STRATEGY_ID,
    STRATEGY_PATH,
    ChurnSettings,
    ChurnStrategy,
    churn_strategy,
)
from tests.runtime_support.venue import (
    VenueFill,
    VenueOrder,
    VenueState,
    cancel_behind_the_runtimes_back,
    freeze_market,
    place_behind_the_runtimes_back,
    venue_state,
)

__all__ = [
    "ASK_TIMEOUT_S",
    "NOTIONAL",
    "PAIRS",
    "SETTLED",
    "SIM_TOML",
    "STRATEGY_ID",
    "STRATEGY_PATH",
    "UNSETTLED_STATES",
    "ChurnLedger",
    "ChurnSettings",
    "ChurnStrategy",
    "Created",
    "EventRecorder",
    "ReplayRecorder",
    "SeenEvent",
    "VenueFill",
    "VenueOrder",
    "VenueState",
    "cancel_behind_the_runtimes_back",
    "churn_strategy",
    "compare",
    "describe",
    "duplicated_sequences",
    "free_port",
    "freeze_market",
    "monitor_problems",
    "open_orders",
    "place_behind_the_runtimes_back",
    "running",
    "runtime_config",
    "tracked",
    "unsettled",
    "venue_state",
]
