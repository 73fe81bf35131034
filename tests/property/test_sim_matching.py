"""The matching engine against a plain-list model of a price-time priority book.

Invariants after every step: the book is never crossed and equals the model level by level;
every order's quantity is conserved (filled + remaining = original); each trade is reported
exactly once to each side; positions and balances follow from the fills.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from clock import ManualClock
from venues.simulator.config import DEFAULT_COINS, FeeSchedule
from venues.simulator.engine import Engine
from venues.simulator.model import Filled, OrderRequest, Rejected, Resting

D = Decimal
USERS = ("0x" + "a1" * 20, "0x" + "b2" * 20, "0x" + "c3" * 20)
FUNDS = D(10) ** 9
ETH = 1


@attrs.define
class ModelOrder:
    oid: int
    user: str
    is_buy: bool
    px: Decimal
    rem: Decimal
    seq: int


class MatchingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(DEFAULT_COINS, FeeSchedule(), ManualClock())
        for user in USERS:
            self.engine.fund(user, FUNDS)
        self.book: list[ModelOrder] = []
        self.seq = 0

    def _crosses(self, is_buy: bool, limit: Decimal, resting: ModelOrder) -> bool:
        return resting.px <= limit if is_buy else resting.px >= limit

    def _opposite(self, is_buy: bool) -> list[ModelOrder]:
        side = [o for o in self.book if o.is_buy != is_buy]
        return sorted(side, key=lambda o: (o.px if is_buy else -o.px, o.seq))

    @rule(
        user=st.sampled_from(USERS),
        is_buy=st.booleans(),
        px=st.integers(2990, 3010).map(D),
        lots=st.integers(1, 150),
        tif=st.sampled_from(["Gtc", "Gtc", "Ioc", "Alo"]),
    )
    def place(self, user: str, is_buy: bool, px: Decimal, lots: int, tif: str) -> None:
        sz = D(lots) / 100
        opposite = self._opposite(is_buy)
        crossing = [o for o in opposite if self._crosses(is_buy, px, o)]
        expected: list[tuple[int, Decimal, Decimal]] = []
        rejected = (tif == "Alo" and bool(crossing)) or (
            tif == "Ioc" and not any(o.user != user for o in crossing)
        )
        remaining = sz
        if not rejected:
            for o in crossing:
                if remaining == 0:
                    break
                if o.user == user:  # self-trade prevention expires the resting order
                    self.book.remove(o)
                    continue
                take = min(remaining, o.rem)
                expected.append((o.oid, o.px, take))
                o.rem -= take
                remaining -= take
                if o.rem == 0:
                    self.book.remove(o)

        out = self.engine.place(user, OrderRequest(asset=ETH, is_buy=is_buy, px=px, sz=sz,
                                                   tif=tif))
        taker_fills = [f for f in self.engine.reg.fills(user) if f.crossed and
                       f.oid == getattr(out, "oid", None)]
        if rejected:
            assert isinstance(out, Rejected)
            return
        assert [(f.px, f.sz) for f in taker_fills] == [(p, s) for _o, p, s in expected]
        maker_oids = sorted(
            f.oid for u in USERS for f in self.engine.reg.fills(u)
            if not f.crossed and f.tid in {t.tid for t in taker_fills}
        )
        assert maker_oids == sorted(o for o, _p, _s in expected)
        if remaining > 0 and tif != "Ioc":
            assert isinstance(out, Resting)
            self.seq += 1
            self.book.append(ModelOrder(out.oid, user, is_buy, px, remaining, self.seq))
        else:
            assert isinstance(out, Filled)
            assert out.total_sz == sz - remaining

    @precondition(lambda self: bool(self.book))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        order = data.draw(st.sampled_from(self.book))
        assert self.engine.cancel(order.user, ETH, order.oid)
        self.book.remove(order)
        assert not self.engine.cancel(order.user, ETH, order.oid)

    @invariant()
    def book_matches_model_and_is_not_crossed(self) -> None:
        book = self.engine.books["ETH"]
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            assert bid < ask
        for is_bid in (True, False):
            levels: dict[Decimal, tuple[Decimal, int]] = {}
            for o in self.book:
                if o.is_buy == is_bid:
                    sz, n = levels.get(o.px, (D(0), 0))
                    levels[o.px] = (sz + o.rem, n + 1)
            model = sorted(((p, s, n) for p, (s, n) in levels.items()), reverse=is_bid)
            assert book.depth(is_bid, 1000) == model

    @invariant()
    def quantities_are_conserved(self) -> None:
        for user in USERS:
            for order in self.engine.reg.history(user):
                assert order.filled_sz + order.sz == order.orig_sz
                assert order.sz >= 0

    @invariant()
    def each_trade_is_reported_once_to_each_side(self) -> None:
        fills = [f for u in USERS for f in self.engine.reg.fills(u)]
        by_tid = Counter(f.tid for f in fills)
        assert set(by_tid.values()) <= {2}
        pairs: dict[int, list[bool]] = {}
        for f in fills:
            pairs.setdefault(f.tid, []).append(f.crossed)
        assert all(sorted(v) == [False, True] for v in pairs.values())

    @invariant()
    def positions_and_balances_follow_from_fills(self) -> None:
        total = D(0)
        for user in USERS:
            fills = self.engine.reg.fills(user)
            account = self.engine.accounts[user]
            signed = sum((f.sz if f.is_buy else -f.sz for f in fills), D(0))
            assert account.szi("ETH") == signed
            cash = FUNDS + sum((f.closed_pnl - f.fee for f in fills), D(0))
            assert account.balance == cash
            total += signed
        assert total == 0


MatchingMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40,
                                             deadline=None)
TestMatching = MatchingMachine.TestCase
