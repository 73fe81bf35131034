"""Stream logic shared by the market and user stream actors.

* `connection`: a websocket-client connection and its reader thread (`WsConnection`), frame
  conflation slots, the `Connector` seam tests replace.
* `link`: `StreamLink`, the connect / ping / reconnect-with-back-off state machine.
* `market`: `MarketStreamCore` (subscriptions, books, crossed/stale, fan-out).
* `user`: `UserStreamCore` (account evidence → order tracker, ReconcileAll after reconnects).
* `venue`: Hyperliquid's subscription and control frames.
* `common`: `market_data_key` (LATEST_WINS key for subscribers), `GetStreamStats`, `Recipient`.
"""

from actors.streaming.common import Directory, GetStreamStats, Recipient, market_data_key
from actors.streaming.connection import (
    ConnectionRequest,
    Connector,
    FrameRouter,
    FrameSlots,
    Transport,
    TransportError,
    WsConnection,
    websocket_connector,
)
from actors.streaming.link import (
    FeedUnavailableError,
    LinkConfig,
    LinkState,
    PingDue,
    PongDeadline,
    Reconnect,
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
    "ConnectionRequest",
    "Connector",
    "Directory",
    "FeedUnavailableError",
    "FrameRouter",
    "FrameSlots",
    "GetStreamStats",
    "LinkConfig",
    "LinkState",
    "MarketStreamConfig",
    "MarketStreamCore",
    "MarketStreamStats",
    "PingDue",
    "PongDeadline",
    "Recipient",
    "Reconnect",
    "StaleCheck",
    "StreamLink",
    "StreamPorts",
    "SubscriptionStore",
    "Transport",
    "TransportError",
    "UserStreamConfig",
    "UserStreamCore",
    "UserStreamStats",
    "WsConnection",
    "market_data_key",
    "websocket_connector",
]
