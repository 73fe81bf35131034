"""Stream logic shared by the market and user stream actors.

* `link`: `StreamLink`, the connect / ping / reconnect-with-back-off state machine (execution's
  ``post`` channel runs one too). The connection it opens, its reader thread, frame conflation
  slots and the `Connector` seam tests replace are `venues.hyperliquid.ws_connection`.
* `frames`: `FrameCore`, what both stream cores do with a frame before reading it.
* `market` (+ `market_config`, `subscriptions`): `MarketStreamCore` (subscriptions, books,
  crossed/stale, fan-out).
* `user`: `UserStreamCore` (account evidence → order tracker, ReconcileAll after reconnects).
* `common`: `market_data_key` (LATEST_WINS key for subscribers), `GetStreamStats`, `Recipient`.
* `testing`: a local WebSocket server and fake connector for tests and benchmarks.

Hyperliquid's subscription and control frames are `venues.hyperliquid.ws_client`.
"""

from actors.streaming.common import Directory, GetStreamStats, Recipient, market_data_key
from actors.streaming.link import (
    FeedUnavailableError,
    LinkConfig,
    LinkState,
    PingDue,
    PongDeadline,
    StreamLink,
    StreamPorts,
)
from actors.streaming.market import (
    MarketStreamConfig,
    MarketStreamCore,
    MarketStreamStats,
    StaleCheck,
)
from actors.streaming.subscriptions import SubscriptionStore
from actors.streaming.user import (
    AckDeadline,
    UserStreamConfig,
    UserStreamCore,
    UserStreamStats,
)

__all__ = [
    "AckDeadline",
    "Directory",
    "FeedUnavailableError",
    "GetStreamStats",
    "LinkConfig",
    "LinkState",
    "MarketStreamConfig",
    "MarketStreamCore",
    "MarketStreamStats",
    "PingDue",
    "PongDeadline",
    "Recipient",
    "StaleCheck",
    "StreamLink",
    "StreamPorts",
    "SubscriptionStore",
    "UserStreamConfig",
    "UserStreamCore",
    "UserStreamStats",
    "market_data_key",
]
