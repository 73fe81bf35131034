"""Where each of the application's actors lives in its supervision tree: the paths its peers
use by default to reach it. One place, so that a rename is one edit."""

from __future__ import annotations

MARKET_STREAM = "market_stream"
USER_STREAM = "user_stream"
ORDER_TRACKER = "order_tracker"
SIGNER = "signer"
EXECUTION = "execution"
RISK_GATE = "risk_gate"
PUBLISHER = "publisher"
MONITOR = "monitor"
STRATEGIES = "strategies"
"""The supervisor of the strategies: a strategy's path is ``strategies/<strategy_id>``."""


def strategy(strategy_id: str) -> str:
    return f"{STRATEGIES}/{strategy_id}"
