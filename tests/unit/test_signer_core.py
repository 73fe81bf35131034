"""The signer's logic: batching, nonces that survive restarts, verifiable signatures."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from actors.signing.core import SignerCore
from actors.signing.nonce import NonceSource, NonceStore
from messages import ClientOrderId, ExchangeOrderId, OrderSide, OrderType, SubmitOrder, TimeInForce
from messages.enums import RequestKind
from messages.execution import SignedAction
from messages.signing import CancelTarget, ScheduleCancel, SignCancels, SignOrders
from messages.venue import RequestFailed
from venues.hyperliquid.markets import Market, MarketRegistry
from venues.hyperliquid.signing import L1Signer, recover_l1_signer

KEY = "0x" + "42" * 32
MARKETS = MarketRegistry([
    Market(trading_pair="BTC-USD", coin="BTC", asset=0, sz_decimals=5, max_leverage=50),
    Market(trading_pair="ETH-USD", coin="ETH", asset=1, sz_decimals=4, max_leverage=50),
])


class FakeClock:
    def __init__(self) -> None:
        self.ms = 1_800_000_000_000

    def now_ms(self) -> int:
        return self.ms

    def now_ns(self) -> int:
        return self.ms * 1_000_000


def _order(n: int, tif: TimeInForce = TimeInForce.GTC, pair: str = "BTC-USD") -> SubmitOrder:
    return SubmitOrder(client_order_id=ClientOrderId.derive("sig", n), trading_pair=pair,
                       side=OrderSide.BUY, order_type=OrderType.LIMIT, amount=Decimal("0.001"),
                       price=Decimal("65000"), time_in_force=tif)


def _core(clock: FakeClock, store: NonceStore | None = None, **kw: object) -> SignerCore:
    return SignerCore(L1Signer(KEY, is_mainnet=False), MARKETS,
                      NonceSource(clock.now_ms, store), clock.now_ns, **kw)  # type: ignore[arg-type]


def test_orders_that_arrive_together_are_one_action() -> None:
    clock = FakeClock()
    core = _core(clock)
    for n in range(3):
        core.add(SignOrders(orders=(_order(n),), expires_after_ms=clock.ms + 30_000,
                            ts_init=0))
    out = core.flush()
    assert len(out) == 1
    signed = out[0]
    assert isinstance(signed, SignedAction)
    body = orjson.loads(signed.body)
    assert [o["c"] for o in body["action"]["orders"]] == list(signed.client_order_ids)
    assert body["expiresAfter"] == clock.ms + 30_000
    recovered = recover_l1_signer(body["action"], body["nonce"], body["signature"],
                                  expires_after=body["expiresAfter"], is_mainnet=False)
    assert recovered == core.address
    assert KEY[2:] not in signed.body.decode()
    assert core.pending == 0


def test_a_lone_order_is_signed_like_one_of_a_batch() -> None:
    """The lone-order fast path gives the action the general path gives, validly signed."""
    clock = FakeClock()
    lone, batched = _core(clock), _core(clock)
    order = _order(5, TimeInForce.ALO)
    lone.add(SignOrders(orders=(order,), expires_after_ms=clock.ms + 30_000, ts_init=0))
    [alone] = lone.flush()
    batched.add(SignOrders(orders=(order, _order(6)), expires_after_ms=clock.ms + 30_000,
                           ts_init=0))
    pair = batched.flush()
    assert isinstance(alone, SignedAction)
    with_other = next(a for a in pair if isinstance(a, SignedAction)
                      and a.client_order_ids == (order.client_order_id,))
    body, other = orjson.loads(alone.body), orjson.loads(with_other.body)
    assert body["action"] == other["action"]
    assert body["expiresAfter"] == clock.ms + 30_000
    assert alone.kind is RequestKind.SUBMIT
    assert alone.weight == 1
    assert recover_l1_signer(body["action"], body["nonce"], body["signature"],
                             expires_after=body["expiresAfter"], is_mainnet=False) == lone.address
    assert lone.pending == 0


def test_post_only_orders_are_batched_apart_and_batches_are_bounded() -> None:
    clock = FakeClock()
    core = _core(clock, max_batch=2)
    core.add(SignOrders(orders=tuple(_order(n) for n in range(3)), expires_after_ms=None,
                        ts_init=0))
    core.add(SignOrders(orders=(_order(9, TimeInForce.ALO),), expires_after_ms=None,
                        ts_init=0))
    out = core.flush()
    sizes = [len(a.client_order_ids) for a in out if isinstance(a, SignedAction)]
    assert sizes == [2, 1, 1]
    nonces = [a.nonce for a in out if isinstance(a, SignedAction)]
    assert nonces == sorted(set(nonces))


def test_the_deadman_switch_goes_first_then_cancels_then_orders() -> None:
    clock = FakeClock()
    core = _core(clock)
    core.add(SignOrders(orders=(_order(1),), expires_after_ms=None, ts_init=0))
    target = CancelTarget(client_order_id=ClientOrderId.derive("sig", 2), trading_pair="ETH-USD",
                          exchange_order_id=None, by_exchange_id=False)
    external = CancelTarget(client_order_id=ClientOrderId.derive("ext", 2),
                            trading_pair="ETH-USD", exchange_order_id=ExchangeOrderId(99),
                            by_exchange_id=True)
    core.add(SignCancels(targets=(target, external), ts_init=0))
    core.add(ScheduleCancel(time_ms=clock.ms + 60_000, ts_init=0))
    out = core.flush()
    kinds = [a.kind for a in out if isinstance(a, SignedAction)]
    assert kinds == [RequestKind.SCHEDULE_CANCEL, RequestKind.CANCEL, RequestKind.CANCEL,
                     RequestKind.SUBMIT]
    first = orjson.loads(out[1].body)  # type: ignore[union-attr]
    assert first["action"] == {"type": "cancelByCloid",
                               "cancels": [{"asset": 1, "cloid": target.client_order_id}]}
    second = orjson.loads(out[2].body)  # type: ignore[union-attr]
    assert second["action"] == {"type": "cancel", "cancels": [{"a": 1, "o": 99}]}


def test_unknown_market_is_a_definitive_failure_not_a_crash() -> None:
    clock = FakeClock()
    core = _core(clock)
    core.add(SignOrders(orders=(_order(1, pair="DOGE-USD"),), expires_after_ms=None, ts_init=0))
    (out,) = core.flush()
    assert isinstance(out, RequestFailed)
    assert out.definitive
    assert "DOGE-USD" in out.reason


def test_nonces_only_grow_across_restarts(tmp_path: Path) -> None:
    clock = FakeClock()
    store = NonceStore(tmp_path / "nonce")
    first = NonceSource(clock.now_ms, store, reserve_ms=1000)
    seen = [first.next() for _ in range(5)]
    assert seen == sorted(set(seen))
    assert store.read() >= seen[-1]
    clock.ms -= 10_000  # the clock went backwards (restart on a skewed host)
    second = NonceSource(clock.now_ms, NonceStore(tmp_path / "nonce"), reserve_ms=1000)
    assert second.next() > seen[-1]


def test_nonce_store_writes_are_fenced(tmp_path: Path) -> None:
    class ReplacedError(Exception):
        pass

    def check() -> None:
        raise ReplacedError

    source = NonceSource(FakeClock().now_ms, NonceStore(tmp_path / "n", check=check))
    with pytest.raises(ReplacedError):
        source.next()


def test_corrupt_nonce_store_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "n").write_text("garbage")
    with pytest.raises(ValueError, match="corrupt"):
        NonceStore(tmp_path / "n").read()
