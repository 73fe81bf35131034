"""The market stream's logic: subscriptions, latest books, crossed and stale detection, fan-out.

Driven by `actors.market_stream.MarketStream` (one thread) or directly by tests. Inputs are
messages (`handle`); outputs go to subscribers (their handles' ``tell``) and to the feed events
sink. Venue specifics come from `venues.hyperliquid.ws_client` and the payload parser.

* Subscriptions: per (trading pair, channel) the set of subscriber ids. A venue subscription
  exists while at least one subscriber wants it; every one is re-sent after each reconnect. A new
  subscriber immediately gets the latest book / bbo when there is one. The subscriber ids are
  also written to a `SubscriptionStore` that the runtime keeps across restarts, so a restarted
  stream restores them on its own.
* Books and bbo are state: time-monotonic per pair (an older ``ts_event`` than the last accepted
  one is dropped, an equal one replaces). A crossed one (best bid >= best ask) is not forwarded,
  ``GetBook`` answers None until an uncrossed book arrives, and `BookCrossed` is emitted once per
  crossing episode. Trades are events: every one is forwarded, never conflated.
* Staleness: for pairs with a book subscription, no l2Book frame within ``stale_after_s`` while
  connected emits `FeedStale` and re-subscribes the pair's state channels (book, bbo). Trades and
  bbo are sent only on activity, so their silence proves nothing and is not checked.
* Back-pressure: frames are handled on the reader thread by default (``inline``), so a stream
  that falls behind reads the socket later (TCP back-pressure). Through the mailbox
  (``inline=False``), books and bbo frames are conflated per coin before they are queued (see
  `venues.hyperliquid.ws_connection.FrameSlots`): a stream that falls behind parses only the newest
  book of each coin. Subscribers should use a LATEST_WINS mailbox keyed by `market_data_key`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from actors.streaming.common import Recipient
from actors.streaming.frames import SKIPPED, FrameCore
from actors.streaming.link import StreamLink, StreamPorts
from actors.streaming.market_config import MarketStreamConfig
from actors.streaming.subscriptions import SubscriptionRegistry, SubscriptionStore
from clock import TimerHandle
from messages.commands import SubscribeMarket, UnsubscribeMarket
from messages.connection import (
    ConnectionStateChanged,
    FrameReceived,
    PingDue,
    PongDeadline,
    Reconnect,
)
from messages.enums import MarketChannel
from messages.feed import BookCrossed, FeedStale
from messages.market import BestBidOffer, BookSnapshot, GetBook, TradeReceived
from messages.streams import GetStreamStats, MarketStreamStats, StaleCheck
from supervision.errors import MailboxFullError
from venues.hyperliquid.payloads import (
    CoinMapper,
    MarketParser,
    PayloadError,
    Pong,
    SubscriptionAck,
    WsError,
    WsFrameParser,
)
from venues.hyperliquid.ws_client import (
    PING_FRAME,
    Subscription,
    conflation_key,
    market_subscription,
    subscribe_frame,
    unsubscribe_frame,
)

__all__ = [
    "MarketStreamConfig",
    "MarketStreamCore",
    "SubscriptionStore",  # configured with the stream, so importable from here too
]

log = logging.getLogger(__name__)

BOOK, TRADES, BBO = MarketChannel.BOOK, MarketChannel.TRADES, MarketChannel.BBO
_STATE_CHANNELS = (BOOK, BBO)


class MarketStreamCore(FrameCore):
    """See the module docstring."""

    def __init__(
        self,
        *,
        config: MarketStreamConfig,
        ports: StreamPorts,
        recipient_of: Callable[[str], Recipient | None],
        coins: CoinMapper | None = None,
        store: SubscriptionStore | None = None,
    ) -> None:
        self.config = config
        self.feed = config.feed
        self.ports = ports
        self._recipient_of = recipient_of
        """Subscriber id → where its data goes (None: unknown); the actor resolves the
        subscriber's path in the tree."""
        self.store = store if store is not None else SubscriptionStore()
        self.parser = WsFrameParser(MarketParser(coins))
        self._coins = self.parser.coins
        self.link = StreamLink(
            feed=config.feed,
            config=config.link,
            ports=ports,
            owner=self,
            ping_frame=PING_FRAME,
            conflation_key=conflation_key if config.conflate and not config.inline else None,
        )
        self._subscriptions = SubscriptionRegistry()
        self._fanout = self._subscriptions.fanout
        self._books: dict[str, BookSnapshot | None] = {}
        self._book_ts: dict[str, int] = {}
        self._bbos: dict[str, BestBidOffer | None] = {}
        self._bbo_ts: dict[str, int] = {}
        self._crossed: set[tuple[str, MarketChannel]] = set()
        self._book_seen: dict[str, int] = {}
        """Monotonic ns of the last l2Book frame per pair with a book subscription."""
        self._stale_ns = int(config.stale_after_s * 1e9)
        self._stale_timer: TimerHandle | None = None
        self.frames = self.ignored = self.books = self.bbos = self.trades = 0
        self.out_of_order = self.crossed = self.stale = self.parse_errors = 0
        self.fanout_failures = 0
        self._handlers: dict[type, Callable[[Any], Any]] = {
            FrameReceived: self.on_frame,
            ConnectionStateChanged: self.link.on_state,
            SubscribeMarket: self.subscribe,
            UnsubscribeMarket: self.unsubscribe,
            GetBook: self.get_book,
            StaleCheck: self.on_stale_check,
            PingDue: self.link.on_timer,
            PongDeadline: self.link.on_timer,
            Reconnect: self.link.on_timer,
            GetStreamStats: lambda _m: self.stats(),
        }

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Restore the stored subscriptions, then connect (they are sent once connected)."""
        for command in self.store.commands():
            self._subscribe(command, restoring=True)
        self.link.start()

    def stop(self) -> bool:
        self._cancel_stale_check()
        return self.link.stop()

    def handle(self, message: object) -> Any:
        """Dispatch one message; the answer is for asks (``GetBook``, ``GetStreamStats``)."""
        handler = self._handlers.get(type(message))
        if handler is None:
            raise TypeError(f"market stream does not handle {type(message).__name__}")
        return handler(message)

    # -- subscriptions -------------------------------------------------------------------------

    def subscribe(self, command: SubscribeMarket) -> None:
        self._subscribe(command, restoring=False)

    def _subscribe(self, command: SubscribeMarket, *, restoring: bool) -> None:
        pair, sid = command.trading_pair, command.subscriber_id
        recipient: Recipient | None = None
        if sid:
            recipient = self._recipient_of(sid)
            if recipient is None:
                self._error(f"SubscribeMarket {pair}: unknown subscriber {sid!r}")
                return
        try:
            coin = self._coins.to_coin(pair)
        except PayloadError as exc:
            self._error(f"SubscribeMarket: {exc}")
            return
        if not restoring:
            self.ports.guard()
            self.store.add(command)
        for channel in command.channels:
            if self._subscriptions.add((pair, channel), sid, recipient):
                self.link.send(subscribe_frame(market_subscription(channel, coin)))
                if channel is BOOK:
                    self._book_seen[pair] = self.ports.clock.monotonic_ns()
            if recipient is not None:
                self._catch_up(recipient, pair, channel)

    def unsubscribe(self, command: UnsubscribeMarket) -> None:
        pair, sid = command.trading_pair, command.subscriber_id
        self.ports.guard()
        self.store.remove(command)
        for channel in command.channels:
            if self._subscriptions.remove((pair, channel), sid):
                self.link.send(unsubscribe_frame(market_subscription(channel, self._coin(pair))))
                self._forget(pair, channel)

    def _catch_up(self, recipient: Recipient, pair: str, channel: MarketChannel) -> None:
        latest: BookSnapshot | BestBidOffer | None = None
        if channel is BOOK:
            latest = self._books.get(pair)
        elif channel is BBO:
            latest = self._bbos.get(pair)
        if latest is not None:
            self._tell_all((recipient,), latest)

    def _forget(self, pair: str, channel: MarketChannel) -> None:
        self._crossed.discard((pair, channel))
        if channel is BOOK:
            self._books.pop(pair, None)
            self._book_ts.pop(pair, None)
            self._book_seen.pop(pair, None)
        elif channel is BBO:
            self._bbos.pop(pair, None)
            self._bbo_ts.pop(pair, None)

    def _coin(self, pair: str) -> str:
        return self._coins.to_coin(pair)

    def venue_subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(
            market_subscription(channel, self._coin(pair))
            for pair, channel in self._subscriptions.wanted()
        )

    # -- link callbacks ------------------------------------------------------------------------

    def on_connected(self) -> None:
        now = self.ports.clock.monotonic_ns()
        for subscription in self.venue_subscriptions():
            if not self.link.send(subscribe_frame(subscription)):
                return
        for pair in self._book_seen:
            self._book_seen[pair] = now
        self._schedule_stale_check()

    def on_lost(self) -> None:
        self._cancel_stale_check()

    def _schedule_stale_check(self) -> None:
        post, message = self.ports.post, StaleCheck(connection_id=self.link.connection_id)
        self._stale_timer = self.ports.timers.call_later(
            self.config.stale_check_interval_s, lambda: post(message)
        )

    def _cancel_stale_check(self) -> None:
        timer, self._stale_timer = self._stale_timer, None
        if timer is not None:
            timer.cancel()

    # -- frames --------------------------------------------------------------------------------

    def on_frame(self, message: FrameReceived) -> None:
        event = self.parse_current(message)
        if event is SKIPPED:
            return
        kind = type(event)
        if kind is BookSnapshot:
            self._on_book(event)  # type: ignore[arg-type]
        elif kind is tuple:
            self._on_trades(event)  # type: ignore[arg-type]
        elif kind is BestBidOffer:
            self._on_bbo(event)  # type: ignore[arg-type]
        elif kind is Pong:
            self.link.on_pong()
        elif kind is WsError:
            self._error(f"venue error: {event.message}")  # type: ignore[attr-defined]
        elif event is not None and kind is not SubscriptionAck:
            log.debug("%s: frame not used: %s", self.config.feed, kind.__name__)

    def _on_book(self, book: BookSnapshot) -> None:
        pair = book.trading_pair
        if pair not in self._book_seen:
            return  # a late frame after the last book subscriber left
        self._book_seen[pair] = self.ports.clock.monotonic_ns()
        last = self._book_ts.get(pair)
        if last is not None and book.ts_event < last:
            self.out_of_order += 1
            return
        self._book_ts[pair] = book.ts_event
        bids, asks = book.bids, book.asks
        if bids and asks and bids[0].price >= asks[0].price:
            self._books[pair] = None
            self._on_crossed(pair, BOOK, book.ts_event, book.ts_init)
            return
        if self._crossed:
            self._crossed.discard((pair, BOOK))
        self._books[pair] = book
        self.books += 1
        recipients = self._fanout.get((pair, BOOK))
        if recipients:
            self._tell_all(recipients, book)

    def _on_bbo(self, bbo: BestBidOffer) -> None:
        pair = bbo.trading_pair
        if (pair, BBO) not in self._subscriptions:
            return
        last = self._bbo_ts.get(pair)
        if last is not None and bbo.ts_event < last:
            self.out_of_order += 1
            return
        self._bbo_ts[pair] = bbo.ts_event
        bid, ask = bbo.bid, bbo.ask
        if bid is not None and ask is not None and bid.price >= ask.price:
            self._bbos[pair] = None
            self._on_crossed(pair, BBO, bbo.ts_event, bbo.ts_init)
            return
        if self._crossed:
            self._crossed.discard((pair, BBO))
        self._bbos[pair] = bbo
        self.bbos += 1
        recipients = self._fanout.get((pair, BBO))
        if recipients:
            self._tell_all(recipients, bbo)

    def _on_crossed(self, pair: str, channel: MarketChannel, ts_event: int, ts_init: int) -> None:
        self.crossed += 1
        if (pair, channel) in self._crossed:
            return
        self._crossed.add((pair, channel))
        log.warning("%s: crossed %s for %s; not forwarded", self.config.feed,
                    channel.value.lower(), pair)
        self.ports.events(BookCrossed(trading_pair=pair, ts_event=ts_event, ts_init=ts_init))

    def _on_trades(self, trades: tuple[object, ...]) -> None:
        fanout = self._fanout
        for trade in trades:
            if type(trade) is not TradeReceived:
                log.debug("%s: unexpected %s in a list frame", self.config.feed,
                          type(trade).__name__)
                continue
            self.trades += 1
            recipients = fanout.get((trade.trading_pair, TRADES))
            if recipients:
                self._tell_all(recipients, trade)

    def _tell_all(self, recipients: tuple[Recipient, ...], message: object) -> None:
        for recipient in recipients:
            try:
                recipient.tell(message)
            except MailboxFullError:
                # A subscriber with a blocking mailbox that stays full: drop it for that one
                # subscriber rather than stall every other one (their mailbox should be
                # LATEST_WINS keyed by market_data_key).
                self.fanout_failures += 1
                if self.fanout_failures == 1 or self.fanout_failures % 1000 == 0:
                    log.warning("%s: subscriber mailbox full, %s dropped (%d so far)",
                                self.config.feed, type(message).__name__, self.fanout_failures)

    # -- staleness -----------------------------------------------------------------------------

    def on_stale_check(self, message: StaleCheck) -> None:
        link = self.link
        if message.connection_id != link.connection_id or not link.connected:
            return
        clock = self.ports.clock
        now = clock.monotonic_ns()
        for pair, seen in list(self._book_seen.items()):
            age = now - seen
            if age <= self._stale_ns:
                continue
            self.stale += 1
            self._book_seen[pair] = now
            log.warning("%s: no book for %s in %.1fs; re-subscribing", self.config.feed, pair,
                        age / 1e9)
            self.ports.events(FeedStale(
                feed=self.config.feed, trading_pair=pair, age_ns=age, ts_init=clock.time_ns()
            ))
            coin = self._coin(pair)
            for channel in _STATE_CHANNELS:
                if (pair, channel) in self._subscriptions:
                    subscription = market_subscription(channel, coin)
                    link.send(unsubscribe_frame(subscription))
                    link.send(subscribe_frame(subscription))
        if link.connected:
            self._schedule_stale_check()

    # -- queries -------------------------------------------------------------------------------

    def get_book(self, query: GetBook) -> BookSnapshot | None:
        return self._books.get(query.trading_pair)

    def stats(self) -> MarketStreamStats:
        return MarketStreamStats(
            connections=self.link.connections,
            frames=self.frames,
            conflated=self.link.conflated,
            ignored=self.ignored,
            books=self.books,
            bbos=self.bbos,
            trades=self.trades,
            out_of_order=self.out_of_order,
            crossed=self.crossed,
            stale=self.stale,
            parse_errors=self.parse_errors,
            fanout_failures=self.fanout_failures,
            venue_subscriptions=len(self._subscriptions),
        )
