"""The market stream's subscription bookkeeping: who wants which (pair, channel), and the store
that keeps it across restarts."""

from __future__ import annotations

import threading

from actors.streaming.common import Recipient
from messages.commands import SubscribeMarket, UnsubscribeMarket
from messages.enums import MarketChannel

Key = tuple[str, MarketChannel]


class SubscriptionRegistry:
    """Per (pair, channel): subscriber id → recipient (None for an anonymous subscription that
    only keeps the data for queries), and the recipients to tell, precomputed for the hot path."""

    def __init__(self) -> None:
        self._subscribers: dict[Key, dict[str, Recipient | None]] = {}
        self.fanout: dict[Key, tuple[Recipient, ...]] = {}
        """(pair, channel) → the recipients to tell; absent when there are none."""

    def add(self, key: Key, subscriber_id: str, recipient: Recipient | None) -> bool:
        """Record a subscriber; True when it is the first (a venue subscription is needed)."""
        subscribers = self._subscribers.get(key)
        first = subscribers is None
        if subscribers is None:
            subscribers = self._subscribers[key] = {}
        subscribers[subscriber_id] = recipient
        self._refresh(key)
        return first

    def remove(self, key: Key, subscriber_id: str) -> bool:
        """Forget a subscriber; True when it was the last (the venue subscription can go)."""
        subscribers = self._subscribers.get(key)
        if subscribers is None or subscriber_id not in subscribers:
            return False
        del subscribers[subscriber_id]
        if subscribers:
            self._refresh(key)
            return False
        del self._subscribers[key]
        self.fanout.pop(key, None)
        return True

    def _refresh(self, key: Key) -> None:
        recipients = tuple(r for r in self._subscribers[key].values() if r is not None)
        if recipients:
            self.fanout[key] = recipients
        else:
            self.fanout.pop(key, None)

    def __contains__(self, key: Key) -> bool:
        return key in self._subscribers

    def wanted(self) -> tuple[Key, ...]:
        """Every (pair, channel) someone subscribed to, in subscription order."""
        return tuple(self._subscribers)

    def __len__(self) -> int:
        return len(self._subscribers)


class SubscriptionStore:
    """Who subscribed to what, kept across market stream restarts.

    The runtime creates one and passes it to every incarnation (the factory closes over it), so
    a restarted stream re-subscribes its subscribers without their help. Thread-safe; only the
    serving incarnation writes (writes are fenced by the stream).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], set[MarketChannel]] = {}

    def add(self, command: SubscribeMarket) -> None:
        with self._lock:
            key = (command.trading_pair, command.subscriber_id)
            self._entries.setdefault(key, set()).update(command.channels)

    def remove(self, command: UnsubscribeMarket) -> None:
        with self._lock:
            key = (command.trading_pair, command.subscriber_id)
            channels = self._entries.get(key)
            if channels is None:
                return
            channels.difference_update(command.channels)
            if not channels:
                del self._entries[key]

    def commands(self) -> tuple[SubscribeMarket, ...]:
        """The subscriptions to restore, in a stable order."""
        with self._lock:
            entries = sorted(self._entries.items())
        return tuple(
            SubscribeMarket(
                trading_pair=pair,
                subscriber_id=sid,
                channels=tuple(c for c in MarketChannel if c in channels),
            )
            for (pair, sid), channels in entries
        )
