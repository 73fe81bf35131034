"""Coalescing under sustained load: partial actions are signed at once only while the eager
budget allows, then wait to fill up (or for ``linger_s``); full ones, and anything that has
lingered, go whenever there is credit. Weight per entry falls as load rises; a quiet market's
orders still leave at once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.signing.core import SignerCore
from actors.signing.nonce import NonceSource
from messages import ClientOrderId
from messages.enums import RequestKind
from messages.execution import SignedAction
from messages.signing import CancelTarget, InvalidateNonce, SignCancels, SignOrders
from messages.venue import RequestFailed
from tests.unit.test_pacing import KEY, MARKETS, T0_MS, Clock, _order
from venues.hyperliquid.signing import L1Signer


def _core(clock: Clock, *, eager_per_minute: float | None = 60.0, burst: int = 2,
          linger_s: float = 0.1) -> SignerCore:
    return SignerCore(L1Signer(KEY, is_mainnet=False), MARKETS, NonceSource(clock.now_ms),
                      clock.now_ns, expires_after_s=10.0, credit=None,
                      eager_per_minute=eager_per_minute, eager_burst=burst, linger_s=linger_s)


def _signed(out: list[SignedAction | RequestFailed]) -> list[SignedAction]:
    return [a for a in out if isinstance(a, SignedAction)]


def _submit(core: SignerCore, n: int) -> None:
    core.add(SignOrders(orders=(_order(n),), expires_after_ms=None, ts_init=0))


def test_a_new_incarnation_starts_with_a_seconds_worth_of_eager_tokens_not_the_burst() -> None:
    """A signer that crashes every few seconds must not spend a burst of small actions on
    each restart (a soak with actor chaos spent ~2 WS messages a second that way)."""
    clock = Clock()
    core = _core(clock, eager_per_minute=240.0, burst=60)  # 4 a second
    sizes = []
    for n in range(10):
        _submit(core, n)
        sizes += [len(a.client_order_ids) for a in _signed(core.flush())]
    assert sizes == [1, 1, 1, 1]  # the rest waits for the next token or to fill
    clock.ms += 60_000  # a quiet minute: the whole burst is there again
    for n in range(10, 80):
        _submit(core, n)
        _signed(core.flush())
    assert core.pending < 70 - 50


def test_a_quiet_market_signs_at_once_then_partial_actions_linger() -> None:
    clock = Clock()
    core = _core(clock)
    clock.ms += 2_000  # quiet for a while: the burst is there
    for n in range(2):  # the eager burst: each order leaves alone, at once
        _submit(core, n)
        assert [len(a.client_order_ids) for a in _signed(core.flush())] == [1]
    _submit(core, 2)
    assert core.flush() == []
    assert core.linger_until_ns == clock.now_ns() + 100_000_000
    clock.ms += 50
    _submit(core, 3)
    assert core.flush() == []
    clock.ms += 50  # the oldest has lingered 0.1 s: both go, in one action
    (action,) = _signed(core.flush())
    assert len(action.client_order_ids) == 2
    assert core.linger_until_ns is None


def test_a_full_action_never_waits() -> None:
    clock = Clock()
    core = _core(clock, burst=1)
    _submit(core, 0)
    _signed(core.flush())  # the one eager token
    for n in range(1, 39):
        _submit(core, n)
        assert core.flush() == []
    _submit(core, 39)
    (action,) = _signed(core.flush())
    assert len(action.client_order_ids) == 39


def test_invalidations_never_linger() -> None:
    clock = Clock()
    core = _core(clock, burst=1)
    _submit(core, 0)
    _signed(core.flush())
    core.add(InvalidateNonce(nonce=T0_MS - 5, kind=RequestKind.SUBMIT,
                             client_order_ids=(_order(7).client_order_id,), ts_init=0))
    (noop,) = _signed(core.flush())
    assert noop.kind is RequestKind.INVALIDATE


def test_without_an_eager_budget_every_action_goes_at_once() -> None:
    clock = Clock()
    core = _core(clock, eager_per_minute=None)
    for n in range(10):
        _submit(core, n)
        assert len(_signed(core.flush())) == 1


def _cancel(n: int) -> SignCancels:
    return SignCancels(targets=(CancelTarget(client_order_id=ClientOrderId.derive("lc", n),
                                             trading_pair="BTC-USD", exchange_order_id=None,
                                             by_exchange_id=False),), ts_init=0)


def test_a_cancel_already_waiting_is_not_queued_twice() -> None:
    """The tracker sends a new signer incarnation every pending cancel again, and some of them
    still wait in the mailbox the crashed one left: each order's cancel goes once."""
    clock = Clock()
    core = _core(clock, eager_per_minute=None)
    core.add(_cancel(1))
    core.add(SignCancels(targets=(_cancel(1).targets[0], _cancel(2).targets[0]), ts_init=0))
    (action,) = _signed(core.flush())
    assert action.client_order_ids == (ClientOrderId.derive("lc", 1), ClientOrderId.derive("lc", 2))


@settings(max_examples=60, deadline=None)
@given(rate=st.sampled_from([20, 50, 100, 200, 400]), seconds=st.integers(2, 5),
       linger_ms=st.sampled_from([100, 500]))
def test_sustained_load_carries_many_entries_per_action_and_none_waits_long(
    rate: int, seconds: int, linger_ms: int,
) -> None:
    """Entries (orders and cancels) arrive at ``rate``/s for a few seconds, flushing after
    each as the actor does. Past the eager budget, partial actions go on the eager rate's
    tokens (the two kinds taking turns) or once they lingered; no entry waits longer than the
    linger time. With a linger longer than two tokens' interval, the partial actions spend the
    eager rate and nothing more."""
    clock = Clock()
    core = _core(clock, eager_per_minute=300.0, burst=5, linger_s=linger_ms / 1000)
    step_us = 1_000_000 // rate
    t_us, n = 0, 0
    added: dict[ClientOrderId, int] = {}
    sizes: list[int] = []
    waits: list[int] = []

    def flush() -> None:
        for action in _signed(core.flush()):
            sizes.append(len(action.client_order_ids))
            waits.extend(clock.ms - added.pop(c) for c in action.client_order_ids)

    while t_us < seconds * 1_000_000:
        t_us += step_us
        until = core.linger_until_ns
        if until is not None and until <= T0_MS * 1_000_000 + t_us * 1000:
            # The actor's wake-up, at the first whole ms at or after it (a token due in 0.4 ms
            # is not there yet).
            clock.ms = max(clock.ms, -(-until // 1_000_000))
            flush()
        clock.ms = max(clock.ms, T0_MS + t_us // 1000)
        if n % 2:
            core.add(_cancel(n))
            added[ClientOrderId.derive("lc", n)] = clock.ms
        else:
            _submit(core, n)
            added[_order(n).client_order_id] = clock.ms
        n += 1
        flush()
    while core.linger_until_ns is not None:  # the load stops: what lingers goes at its wake-up
        # (never back in time, and a whole ms on: a wake-up already past is as good as now)
        clock.ms = max(clock.ms + 1, -(-core.linger_until_ns // 1_000_000))
        flush()
    assert not added, "every entry was signed"
    assert max(waits) <= linger_ms + 1000 // rate + 1  # the linger time (+ one arrival step)
    # Weight spent: the eager burst and rate, one lingered action per kind per linger time,
    # and full actions — not one action per entry.
    lingered = 0 if linger_ms > 2 * 200 else 2 * (seconds * 1000 // linger_ms + 1)
    bound = 5 + 5 * seconds + lingered + sum(sizes) // 39 + 2
    assert len(sizes) <= bound, (len(sizes), bound)
