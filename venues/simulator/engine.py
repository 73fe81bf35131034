"""The exchange engine: books, accounts, matching, fills, TP/SL triggers, scheduled cancels.

Pure and single-threaded: no I/O, time from an injected `Clock`. Every operation returns its
outcome and leaves events in the registry (`drain_events`). Callers have already
authenticated the user.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from decimal import Decimal

from clock import Clock
from venues.simulator import tpsl
from venues.simulator.accounts import Account, MarginView
from venues.simulator.book import OrderBook
from venues.simulator.config import CoinSpec, FeeSchedule
from venues.simulator.limits import Limits
from venues.simulator.model import (
    BookChanged,
    Errors,
    Event,
    Fill,
    Filled,
    FillsHappened,
    Order,
    OrderRequest,
    PlaceOutcome,
    Rejected,
    Resting,
    Status,
    SystemCanceled,
    TradePrinted,
    Waiting,
    usd,
)
from venues.simulator.order_checks import open_order_check, static_check
from venues.simulator.registry import HISTORY_CAP, OrderRegistry
from venues.simulator.timed import ScheduledCancels, TriggerBook

ZERO = Decimal(0)
TRADES_CAP = 1000


class Engine:
    def __init__(self, coins: Sequence[CoinSpec], fees: FeeSchedule, clock: Clock,
                 history_cap: int = HISTORY_CAP) -> None:
        self.coins = tuple(coins)
        self.fees = fees
        self._clock = clock
        self.spec = {c.name: c for c in self.coins}
        self.books = {c.name: OrderBook(c.name) for c in self.coins}
        self.reference_px = {c.name: c.mid for c in self.coins}
        self.last_px: dict[str, Decimal] = {}
        self.volume: dict[str, tuple[Decimal, Decimal]] = {}  # coin -> (notional, base)
        self.accounts: dict[str, Account] = {}
        self.reg = OrderRegistry(self.now_ms, history_cap)
        self._order_ntl: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.trades = {c.name: deque[TradePrinted](maxlen=TRADES_CAP) for c in self.coins}
        self.triggers = TriggerBook()
        self.scheduled = ScheduledCancels()
        self._pending_fills: dict[str, list[Fill]] = defaultdict(list)
        self._touched: set[tuple[str, str]] = set()  # (user, coin) whose position changed
        self._moved: set[str] = set()  # coins whose book changed (the mark may have moved)
        self._next_tid = 1
        # The venue's limits when enforced (the open-order cap is checked here).
        self.limits: Limits | None = None

    # --- time, accounts, prices, queries ---------------------------------------------------

    def now_ms(self) -> int:
        return self._clock.time_ns() // 1_000_000

    def coin_of(self, asset: int) -> CoinSpec | None:
        return self.coins[asset] if 0 <= asset < len(self.coins) else None

    def fund(self, address: str, usdc: Decimal, master: str | None = None) -> Account:
        account = self.accounts.get(address)
        if account is None:
            account = self.accounts[address] = Account(address=address, master=master)
        account.balance += usdc
        return account

    def mark(self, coin: str) -> Decimal:
        """The book mid, else the last trade, else the reference (oracle) price."""
        mid = self.books[coin].mid()
        if mid is not None:
            return mid
        return self.last_px.get(coin, self.reference_px[coin])

    def margin(self, address: str) -> MarginView:
        account = self.accounts.get(address) or Account(address=address)
        return MarginView(
            account, self.mark, lambda c: self.spec[c].max_leverage, self._order_ntl[address]
        )

    def live_orders(self, user: str) -> list[Order]:
        return list(self.reg.live[user].values())

    def drain_events(self) -> list[Event]:
        return self.reg.drain_events()

    # --- placing -----------------------------------------------------------------------------

    def place_batch(
        self, user: str, requests: Sequence[OrderRequest], grouping: str = "na",
        tx_hash: str | None = None,
    ) -> list[PlaceOutcome]:
        tx_hash = tx_hash or self.reg.new_hash()
        if grouping == "normalTpsl":
            out = tpsl.place_normal_tpsl(self, user, requests, tx_hash)
        else:
            position_tpsl = grouping == "positionTpsl"
            out = [self.place_one(user, r, tx_hash, position_tpsl=position_tpsl) for r in requests]
        self._finish()
        return out

    def place(self, user: str, request: OrderRequest, tx_hash: str | None = None) -> PlaceOutcome:
        return self.place_batch(user, [request], "na", tx_hash)[0]

    def new_order(self, user: str, req: OrderRequest) -> Order | Rejected:
        spec = self.coin_of(req.asset)
        if spec is None:
            return Rejected(f"Asset {req.asset} is out of range.")
        if req.cloid is not None and self.reg.cloid_owner(user, req.cloid) is not None:
            return Rejected(Errors.DUPLICATE_CLOID)
        order = Order(
            oid=self.reg.next_oid(), user=user, coin=spec.name, is_buy=req.is_buy,
            limit_px=req.px, orig_sz=req.sz, sz=req.sz, timestamp=self.now_ms(), tif=req.tif,
            reduce_only=req.reduce_only, cloid=req.cloid, trigger=req.trigger,
        )
        self.reg.remember(order)
        status, error = static_check(order, spec)
        if not error:
            status, error = open_order_check(self.limits, self.accounts.get(user),
                                             len(self.reg.live[user]), order)
        if error:
            self.reg.set_status(order, status)
            return Rejected(error)
        return order

    def place_one(
        self, user: str, req: OrderRequest, tx_hash: str, *,
        position_tpsl: bool = False, defer_children: bool = False,
    ) -> PlaceOutcome:
        order = self.new_order(user, req)
        if isinstance(order, Rejected):
            return order
        if order.trigger is not None:
            order.is_position_tpsl = position_tpsl
            self.reg.live[user][order.oid] = order
            self.triggers.arm(order)
            self.reg.set_status(order, Status.OPEN)
            self.touch((user, order.coin))  # it may be due at the current mark
            if position_tpsl:
                return Waiting("waitingForTrigger")
            return Resting(order.oid, order.cloid)
        return self.execute(order, tx_hash, placing=True, defer_children=defer_children)

    def execute(
        self, order: Order, tx_hash: str, *, placing: bool, defer_children: bool = False
    ) -> PlaceOutcome:
        """Run a limit (or just triggered) order against the book; rest, fill or reject it."""
        book = self.books[order.coin]
        margin = self.margin(order.user)
        fail = "" if placing else Status.CANCELED
        if order.sz <= 0:
            return self._reject(order, fail or Status.REJECTED, Errors.BAD_SIZE)
        if order.reduce_only:
            szi = margin.account.szi(order.coin)
            closable = max(ZERO, -szi) if order.is_buy else max(ZERO, szi)
            if closable == 0:
                kind = Status.REDUCE_ONLY_REJECTED if placing else Status.REDUCE_ONLY_CANCELED
                return self._reject(order, kind, Errors.REDUCE_ONLY)
            order.sz = min(order.sz, closable)
        if order.tif == "Alo" and book.would_cross(order.is_buy, order.limit_px):
            error = Errors.post_only(book.best_bid(), book.best_ask())
            return self._reject(order, fail or Status.BAD_ALO_PX_REJECTED, error)
        needed = margin.increase_margin(order.coin, order.is_buy, order.sz, order.limit_px)
        if needed > 0 and needed > margin.available():
            kind = Status.PERP_MARGIN_REJECTED if placing else Status.MARGIN_CANCELED
            return self._reject(order, kind, Errors.MARGIN)
        is_ioc = order.tif in ("Ioc", "FrontendMarket")
        if is_ioc and book.available(order.user, order.is_buy, order.limit_px) == 0:
            if order.trigger is not None and order.trigger.is_market:
                return self._reject(order, Status.CANCELED, Errors.NO_LIQUIDITY)
            return self._reject(order, fail or Status.IOC_CANCEL_REJECTED, Errors.IOC_CANCEL)
        result = book.match(order.user, order.is_buy, order.limit_px, order.sz)
        for maker in result.self_trade:
            self._unreserve(maker, maker.sz)
            self.reg.live[maker.user].pop(maker.oid, None)
            self.reg.set_status(maker, Status.SELF_TRADE_CANCELED)
        for m in result.matches:
            self._trade(order, m.maker, m.px, m.sz, tx_hash)
        if result.matches or result.self_trade:
            self._book_changed(order.coin)
        if order.sz == 0:
            self.reg.set_status(order, Status.FILLED)
            if not defer_children:
                tpsl.activate_children(self, order)
            return Filled(order.filled_sz, self._avg(order), order.oid, order.cloid)
        if is_ioc:
            if order.filled_sz == 0:  # only its own orders were in the way
                return self._reject(order, fail or Status.IOC_CANCEL_REJECTED, Errors.IOC_CANCEL)
            self.reg.set_status(order, Status.CANCELED)
            tpsl.cancel_children(self, order, Status.CANCELED)
            return Filled(order.filled_sz, self._avg(order), order.oid, order.cloid)
        book.add(order)
        self.reg.live[order.user][order.oid] = order
        self._unreserve(order, -order.sz)
        self._book_changed(order.coin)
        if placing:
            self.reg.set_status(order, Status.OPEN)
        return Resting(order.oid, order.cloid)

    @staticmethod
    def _avg(order: Order) -> Decimal:
        return (order.filled_ntl / order.filled_sz).quantize(Decimal("1e-8")).normalize()

    def _reject(self, order: Order, status: str, error: str) -> Rejected:
        self.reg.live[order.user].pop(order.oid, None)
        self.reg.set_status(order, status)
        tpsl.cancel_children(self, order, Status.CANCELED)
        if status in (Status.CANCELED, Status.REDUCE_ONLY_CANCELED, Status.MARGIN_CANCELED):
            self.reg.events.append(SystemCanceled(user=order.user, coin=order.coin, oid=order.oid))
        return Rejected(error)

    # --- fills -------------------------------------------------------------------------------

    def _trade(self, taker: Order, maker: Order, px: Decimal, sz: Decimal, tx_hash: str) -> None:
        now = self.now_ms()
        tid = self._next_tid
        self._next_tid += 1
        taker.sz -= sz  # the book already took ``sz`` off the maker
        self._unreserve(maker, sz)
        notional = px * sz
        for order, crossed in ((taker, True), (maker, False)):
            account = self.accounts.get(order.user) or self.fund(order.user, ZERO)
            fee = usd(notional * (self.fees.taker if crossed else self.fees.maker))
            effect = account.apply_fill(order.coin, order.is_buy, px, sz, fee)
            order.filled_sz += sz
            order.filled_ntl += notional
            fill = Fill(
                user=order.user, coin=order.coin, px=px, sz=sz, is_buy=order.is_buy, time=now,
                start_position=effect.start_position, dir=effect.dir,
                closed_pnl=effect.closed_pnl, hash=tx_hash, oid=order.oid, crossed=crossed,
                fee=fee, tid=tid, cloid=order.cloid,
            )
            self.reg.record_fill(fill)
            self._pending_fills[order.user].append(fill)
            self.touch((order.user, order.coin))
        buyer, seller = (taker, maker) if taker.is_buy else (maker, taker)
        trade = TradePrinted(
            coin=taker.coin, is_buy=taker.is_buy, px=px, sz=sz, hash=tx_hash, time=now, tid=tid,
            buyer=buyer.user, seller=seller.user,
        )
        self.trades[taker.coin].append(trade)
        self.reg.events.append(trade)
        self.last_px[taker.coin] = px
        ntl, base = self.volume.get(taker.coin, (ZERO, ZERO))
        self.volume[taker.coin] = (ntl + notional, base + sz)
        if maker.sz == 0:
            self.reg.live[maker.user].pop(maker.oid, None)
            self.reg.set_status(maker, Status.FILLED)
            tpsl.activate_children(self, maker)

    def touch(self, user_coin: tuple[str, str]) -> None:
        """Mark a (user, coin) whose position or orders changed: re-checked at the end."""
        self._touched.add(user_coin)

    def _book_changed(self, coin: str) -> None:
        self._moved.add(coin)
        self.reg.events.append(BookChanged(coin=coin))

    def _unreserve(self, order: Order, sz: Decimal) -> None:
        """Release (or, with a negative size, reserve) the margin notional of a resting order."""
        if not order.reduce_only:
            self._order_ntl[order.user][order.coin] -= sz * order.limit_px

    # --- cancels and modifies ----------------------------------------------------------------

    def cancel(self, user: str, asset: int, ref: int | str, status: str = Status.CANCELED) -> bool:
        order = self.reg.find(user, ref)
        spec = self.coin_of(asset)
        if order is None or spec is None or order.coin != spec.name or not self.reg.is_live(order):
            return False
        self._cancel(order, status)
        self._finish()
        return True

    def _cancel(self, order: Order, status: str) -> None:
        if self.drop_live(order):
            self._book_changed(order.coin)
        self.reg.set_status(order, status)
        tpsl.cancel_children(self, order, status)

    def drop_live(self, order: Order) -> bool:
        """Take ``order`` off the book / trigger list; True if it was on the book."""
        self.reg.live[order.user].pop(order.oid, None)
        if order.trigger is not None and not order.triggered:
            self.triggers.disarm(order)
            return False
        if self.books[order.coin].remove(order):
            self._unreserve(order, order.sz)
            return True
        return False

    def cancel_all(self, user: str, status: str) -> int:
        live = self.reg.live[user]
        count = 0
        for order in list(live.values()):
            if order.oid in live:  # children go with their parent
                self._cancel(order, status)
                count += 1
        self._finish()
        return count

    def modify(
        self, user: str, ref: int | str, req: OrderRequest, tx_hash: str | None = None
    ) -> PlaceOutcome:
        old = self.reg.find(user, ref)
        if old is None or not self.reg.is_live(old):
            return Rejected("Cannot modify canceled or filled order")
        spec = self.coin_of(req.asset)
        if spec is None or spec.name != old.coin:
            return Rejected("Cannot modify order to a different asset")
        if req.cloid is not None and self.reg.cloid_owner(user, req.cloid) not in (None, old.oid):
            return Rejected(Errors.DUPLICATE_CLOID)
        probe = Order(
            oid=0, user=user, coin=spec.name, is_buy=req.is_buy, limit_px=req.px,
            orig_sz=req.sz, sz=req.sz, timestamp=0, tif=req.tif, reduce_only=req.reduce_only,
            trigger=req.trigger,
        )
        problem = static_check(probe, spec)[1]
        if problem:  # an invalid replacement keeps the original
            return Rejected(problem)
        self._cancel(old, Status.CANCELED)
        if req.cloid is not None:
            self.reg.release_cloid(user, req.cloid)
        out = self.place_one(user, req, tx_hash or self.reg.new_hash())
        self._finish()
        return out

    # --- the dead-man switch and triggers ---------------------------------------------------

    def schedule_cancel(self, user: str, time_ms: int | None) -> str | None:
        return self.scheduled.set(user, time_ms, self.now_ms())

    def tick(self) -> None:
        """Fire due dead-man switches and any trigger the current marks reach."""
        for user in self.scheduled.pop_due(self.now_ms()):
            self.cancel_all(user, Status.SCHEDULED_CANCEL)
        for coin in self.triggers.coins():
            tpsl.fire_triggers(self, coin)
        self._finish()

    # --- end of an operation -----------------------------------------------------------------

    def _finish(self) -> None:
        """Re-check reduce-only orders, fire triggers, then publish the fills of the operation."""
        while self._touched or self._moved:
            touched, self._touched = self._touched, set()
            moved, self._moved = self._moved, set()
            for user, coin in sorted(touched):
                self._recheck_reduce_only(user, coin)
            for coin in sorted(moved | {c for _u, c in touched}):
                tpsl.fire_triggers(self, coin)
        pending, self._pending_fills = self._pending_fills, defaultdict(list)
        for user, fills in pending.items():
            self.reg.events.append(FillsHappened(user=user, fills=tuple(fills)))

    def _recheck_reduce_only(self, user: str, coin: str) -> None:
        account = self.accounts.get(user)
        szi = account.szi(coin) if account else ZERO
        for order in list(self.reg.live[user].values()):
            if order.coin != coin or not self.reg.is_live(order):
                continue
            if order.is_position_tpsl and szi == 0:
                self._cancel(order, Status.CANCELED)
                continue
            if not order.reduce_only or (order.trigger is not None and not order.triggered):
                continue
            closable = max(ZERO, -szi) if order.is_buy else max(ZERO, szi)
            if closable == 0:
                self._cancel(order, Status.REDUCE_ONLY_CANCELED)
                self.reg.events.append(SystemCanceled(user=user, coin=coin, oid=order.oid))
