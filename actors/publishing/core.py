"""What the publisher puts on the wire: topics, bodies, per-topic sequence numbers (no sockets).

Order events use the seed's public contract (`messages.json_events`): topic
``orders.<venue>.<created|filled|partial_fill|cancelled|failed|update>`` and the body
``{"event_type", "timestamp", "sequence", "data": {...}}``. Two keys are added to every body:

* ``sequence``: per topic, 1, 2, 3, ... for one publisher incarnation;
* ``epoch``: the wall-clock ns at which that incarnation started. Sequences restart at 1 with a
  new epoch, so a consumer tells a publisher restart (new epoch) from lost messages (a jump in
  the sequence within one epoch).

Optional topics (off by default) use the same envelope:

* ``market.<venue>.book.<pair>`` / ``.bbo.<pair>`` / ``.trades.<pair>`` (event types ``book``,
  ``bbo``, ``trade``), prices and sizes as strings, levels as ``[price, size, orders]``;
* ``runtime.feed.<connected|lost|stale|book_crossed|reconciled|error>``,
  ``runtime.supervision.<child_started|child_failed|...>`` and
  ``runtime.account.<funding_paid|liquidation_reported|...>`` (what the streams put on their
  events sink): the event's fields, as the codec's primitive form renders them.

Bodies are JSON (UTF-8) or, with ``format="msgpack"``, msgpack of the same object.

Replay support (docs/events.md): the heartbeat on ``sync.orders.<venue>`` (`PublisherCore.
heartbeat`) and the bodies of replayed order events (`replayed_frames`: the live body with
``"sequence": null``, the serving incarnation's ``epoch`` and ``"replayed": true``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import attrs
import msgpack
import orjson

from actors.publishing.protocol import HEARTBEAT_EVENT_TYPE, heartbeat_topic
from messages import account, feed, orders
from messages import supervision as supervision_events
from messages.codec import to_primitive
from messages.json_events import DEFAULT_VENUE, order_event_body, order_topic
from messages.market import BestBidOffer, BookSnapshot, PriceLevel, TradeReceived

Format = Literal["json", "msgpack"]


def _format(_inst: object, _attribute: object, value: str) -> None:
    if value not in ("json", "msgpack"):
        raise ValueError(f"format must be json or msgpack, not {value!r}")


def _non_negative(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class PublisherConfig:
    address: str = "tcp://127.0.0.1:5556"
    """Where the PUB socket binds (loopback unless configured; ``tcp://127.0.0.1:0`` picks a
    free port, read back with `GetEndpoint`)."""
    format: Format = attrs.field(default="json", validator=_format)
    sndhwm: int = attrs.field(default=1_000_000, validator=_non_negative)
    """Messages queued per subscriber before ZMQ drops (silently) — see actors/publisher.py."""
    linger_ms: int = attrs.field(default=500, validator=_non_negative)
    """How long closing waits to flush queued messages to connected subscribers."""
    venue: str = DEFAULT_VENUE
    market_data: bool = False
    """Publish market data the publisher is sent (it must be subscribed to the market stream)."""
    runtime_events: bool = False
    """Publish feed and supervision events the publisher is sent."""
    event_log_dir: Path | None = None
    """The order tracker's event log (supervision/eventlog); None turns replay off (no ROUTER
    socket; heartbeats say ``"replay": false``)."""
    replay_address: str | None = None
    """Where the replay ROUTER socket binds (when ``event_log_dir`` is set); None: derived from
    ``address`` (`replay_endpoint`)."""
    allow_remote: bool = False
    """Allow addresses other machines can reach (``tcp://0.0.0.0:P``, ``*``, a LAN address);
    the runtime's configuration refuses them otherwise: events are unauthenticated (DESIGN §9)."""
    heartbeat_s: float = attrs.field(default=1.0, validator=_positive)
    """Heartbeat period on ``sync.orders.<venue>`` (one is also sent right after each bind)."""
    bind_timeout_s: float = attrs.field(default=2.0, validator=_positive)
    """How long a start retries a bind that fails with EADDRINUSE (a socket of the previous
    incarnation still closing) before it fails."""

    @property
    def replay_endpoint(self) -> str:
        """``replay_address``, or the publish address with the next port (5557 for 5556; port 0
        stays 0), or ``<address>-replay`` for ipc:// and inproc://."""
        if self.replay_address:
            return self.replay_address
        if self.address.startswith(("ipc://", "inproc://")):
            return self.address + "-replay"
        base, sep, port = self.address.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"replay_address: cannot derive it from {self.address!r}; set it")
        return f"{base}:{int(port) + 1 if int(port) else 0}"


_FEED_TOPICS: dict[type, str] = {
    feed.FeedConnected: "connected",
    feed.FeedLost: "lost",
    feed.FeedStale: "stale",
    feed.BookCrossed: "book_crossed",
    feed.FeedReconciled: "reconciled",
    feed.FeedError: "error",
}


_RUNTIME_MODULES = {
    supervision_events.__name__: "supervision",
    account.__name__: "account",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _level(level: PriceLevel | None) -> list[Any] | None:
    if level is None:
        return None
    return [str(level.price), str(level.size), level.orders]


def _primitive(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _primitive(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_primitive(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


class PublisherCore:
    """Turns messages into ``(topic, body)`` frames with per-topic sequence numbers."""

    def __init__(self, config: PublisherConfig, *, epoch: int) -> None:
        self.config = config
        self.epoch = epoch
        self._sequences: dict[str, int] = {}
        self._dumps = body_encoder(config.format)
        self._market_prefix = f"market.{config.venue}."
        self.published = 0
        self.skipped = 0
        """Messages accepted but not published (their optional topic family is off)."""
        self.last_event_sequence = 0
        """The highest ``event_sequence`` of an order event published by this incarnation."""
        self._heartbeat_topic = heartbeat_topic(config.venue)
        self.heartbeats = 0

    def sequence(self, topic: str) -> int:
        """The last sequence number used on ``topic`` (0: none yet)."""
        return self._sequences.get(topic, 0)

    def _next(self, topic: str) -> int:
        n = self._sequences.get(topic, 0) + 1
        self._sequences[topic] = n
        return n

    def encode(self, message: object) -> tuple[bytes, bytes] | None:
        """The multipart frames for ``message``; None when its topic family is disabled.

        Raises TypeError for a message the publisher does not know (a wiring bug).
        """
        if isinstance(message, orders.OrderEvent):
            topic = order_topic(message, self.config.venue)
            body = order_event_body(message, self._next(topic))
            self.last_event_sequence = max(self.last_event_sequence, message.sequence)
            return self._frames(topic, body)
        if isinstance(message, BookSnapshot | BestBidOffer | TradeReceived):
            if not self.config.market_data:
                self.skipped += 1
                return None
            return self._market(message)
        if type(message) in _FEED_TOPICS or type(message).__module__ in _RUNTIME_MODULES:
            if not self.config.runtime_events:
                self.skipped += 1
                return None
            return self._runtime(message)
        raise TypeError(f"publisher does not publish {type(message).__name__}")

    def heartbeat(self, timestamp: int, log_sequence: int | None) -> tuple[bytes, bytes]:
        """The heartbeat frames: what this incarnation published last, and how far the event
        log goes (``log_sequence``; None when replay is off)."""
        topic = self._heartbeat_topic
        body = {
            "event_type": HEARTBEAT_EVENT_TYPE,
            "timestamp": timestamp,
            "sequence": self._next(topic),
            "epoch": self.epoch,
            "last_sequence": self.last_event_sequence,
            "log_sequence": log_sequence,
            "replay": log_sequence is not None,
        }
        self.heartbeats += 1
        return topic.encode(), self._dumps(body)

    def _frames(self, topic: str, body: dict[str, Any]) -> tuple[bytes, bytes]:
        body["epoch"] = self.epoch
        self.published += 1
        return topic.encode(), self._dumps(body)

    def _envelope(self, topic: str, event_type: str, timestamp: int,
                  data: dict[str, Any]) -> tuple[bytes, bytes]:
        body = {
            "event_type": event_type,
            "timestamp": timestamp,
            "sequence": self._next(topic),
            "data": data,
        }
        return self._frames(topic, body)

    def _market(self, message: BookSnapshot | BestBidOffer | TradeReceived) -> tuple[bytes, bytes]:
        pair = message.trading_pair
        if isinstance(message, BookSnapshot):
            data: dict[str, Any] = {
                "trading_pair": pair,
                "bids": [_level(x) for x in message.bids],
                "asks": [_level(x) for x in message.asks],
            }
            kind, family = "book", "book"
        elif isinstance(message, BestBidOffer):
            data = {"trading_pair": pair, "bid": _level(message.bid), "ask": _level(message.ask)}
            kind, family = "bbo", "bbo"
        else:
            data = {
                "trading_pair": pair,
                "side": message.side.value,
                "price": str(message.price),
                "size": str(message.size),
                "trade_id": str(message.trade_id),
                "tx_hash": message.tx_hash,
                "buyer": message.buyer,
                "seller": message.seller,
            }
            kind, family = "trade", "trades"
        data["ts_event"] = message.ts_event
        data["ts_init"] = message.ts_init
        topic = f"{self._market_prefix}{family}.{pair}"
        return self._envelope(topic, kind, message.ts_event or message.ts_init, data)

    def _runtime(self, message: object) -> tuple[bytes, bytes]:
        kind = type(message)
        if kind in _FEED_TOPICS:
            event_type = _FEED_TOPICS[kind]
            topic = f"runtime.feed.{event_type}"
        else:
            event_type = _snake(kind.__name__)
            topic = f"runtime.{_RUNTIME_MODULES[kind.__module__]}.{event_type}"
        fields = _primitive(to_primitive(message)[1])
        timestamp = fields.get("ts_event") or fields.get("ts_init") or 0
        return self._envelope(topic, event_type, timestamp, fields)


def body_encoder(format: Format) -> Callable[[Any], bytes]:
    """The function that renders a body in ``format``."""
    if format == "json":
        return orjson.dumps
    pack: Callable[[Any], bytes] = msgpack.Packer(use_bin_type=True).pack
    return pack


def replayed_frames(event: orders.OrderEvent, *, venue: str, epoch: int,
                    dumps: Callable[[Any], bytes]) -> tuple[bytes, bytes]:
    """A replayed order event: the live body, ``sequence`` null (per-topic numbers belong to
    live messages), the serving incarnation's ``epoch`` and ``"replayed": true``."""
    topic = order_topic(event, venue)
    body = order_event_body(event, 0)
    body["sequence"] = None
    body["epoch"] = epoch
    body["replayed"] = True
    return topic.encode(), dumps(body)
