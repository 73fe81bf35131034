"""Stream logic shared by the market and user stream actors.

* `link`: `StreamLink`, the connect / ping / reconnect-with-back-off state machine (execution's
  ``post`` channel runs one too). The connection it opens, its reader thread, frame conflation
  slots and the `Connector` seam tests replace are `venues.hyperliquid.ws_connection`.
* `frames`: `FrameCore`, what both stream cores do with a frame before reading it.
* `market` (+ `market_config`, `subscriptions`): `MarketStreamCore` (subscriptions, books,
  crossed/stale, fan-out).
* `user`: `UserStreamCore` (account evidence → order tracker, ReconcileAll after reconnects).
* `common`: `market_data_key` (LATEST_WINS key for subscribers), `Recipient`.

What the streams are told and answer is `messages.streams` (stats, their timers) and
`messages.connection` (frames, connection states, the link's timers). A local WebSocket server
and fake connector for tests and benchmarks are `tests.support.streams`.

Hyperliquid's subscription and control frames are `venues.hyperliquid.ws_client`.
"""

from actors.streaming.common import Recipient, market_data_key
from actors.streaming.link import (
    FeedUnavailableError,
    LinkConfig,
    LinkState,
    StreamLink,
    StreamPorts,
)
from actors.streaming.market import MarketStreamConfig, MarketStreamCore
from actors.streaming.subscriptions import SubscriptionStore
from actors.streaming.user import UserStreamConfig, UserStreamCore

__all__ = [
    "FeedUnavailableError",
    "LinkConfig",
    "LinkState",
    "MarketStreamConfig",
    "MarketStreamCore",
    "Recipient",
    "StreamLink",
    "StreamPorts",
    "SubscriptionStore",
    "UserStreamConfig",
    "UserStreamCore",
    "market_data_key",
]
