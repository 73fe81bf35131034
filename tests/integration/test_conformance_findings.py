"""Conformance findings: behaviours of the runtime's venue layer that were wrong against the
simulator. Each test states what should happen; all three failed when written and pass since
the fixes of commit 3eb3e3d, so they stay as regression tests.

Shared context: the `MarketRegistry` is loaded once at start-up, while the venue lists new coins
over time and the account may hold orders the runtime did not place (adopted by the tracker from
``openOrders``, which names any coin). A registry without one of those coins is modelled here by
building it from the simulator's meta minus one coin.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import orjson
import pytest

from actors.signing.core import SignerCore
from messages import (
    ClientOrderId,
    OrderSide,
    OrderStatusReported,
    RequestFailed,
    SubmitOutcome,
)
from messages.execution import SignedAction
from messages.signing import CancelTarget, SignCancels
from tests.conformance_support import (
    VenueRig,
    cancel_target,
    limit,
    passive_price,
    rig_for,
)
from venues.hyperliquid import payloads, requests
from venues.hyperliquid.bootstrap import cancel_everything
from venues.hyperliquid.markets import MarketRegistry
from venues.hyperliquid.signing import L1Signer
from venues.simulator import DEMO_ADDRESS, DEMO_PRIVATE_KEY, RunningSimulator
from venues.simulator.model import Status

BUY, SELL = OrderSide.BUY, OrderSide.SELL


@pytest.fixture
def rig(sim: RunningSimulator) -> Iterator[VenueRig]:
    yield from rig_for(sim, "conformance-findings")


def _without(markets: MarketRegistry, coin: str) -> MarketRegistry:
    return MarketRegistry(markets.by_pair(p) for p in markets.pairs()
                          if markets.by_pair(p).coin != coin)


def _external_sol_order(rig: VenueRig) -> OrderStatusReported:
    """An order on SOL placed by another client of the account, as ``openOrders`` reports it."""
    rig.place_external("SOL-USD", BUY, Decimal(1), passive_price(rig, rig.book("SOL-USD"), BUY,
                                                                  "0.01"))
    listed = payloads.parse_open_orders(rig.query(requests.open_orders(DEMO_ADDRESS), "http"), 0)
    (report,) = [o for o in listed.report.orders if o.trading_pair == "SOL-USD"]
    return report


def _adopted_target(report: OrderStatusReported) -> CancelTarget:
    """The cancel target the tracker builds for an adopted order (order_tracking/commands.py
    ``cancel_target``: adopted records are ``external`` and cancelled by oid)."""
    return CancelTarget(
        client_order_id=report.client_order_id
        or ClientOrderId.derive("external", int(report.exchange_order_id)),
        trading_pair=report.trading_pair, exchange_order_id=report.exchange_order_id,
        by_exchange_id=True)


def test_one_cancel_on_an_unlisted_market_does_not_block_the_others(rig: VenueRig) -> None:
    """FINDING (actors/signing/core.py, SignerCore.flush, cancel loop): a cancel chunk is built
    with one ``actions.cancel_actions`` call, so a single target whose trading pair the registry
    does not know raises UnknownMarketError for the whole chunk and every cancel in it becomes
    one definitive RequestFailed — a CancelAll that also covers an adopted order on a coin
    listed after start-up leaves all our orders live. Only the unbuildable target should fail;
    the others must still be signed and sent."""
    book = rig.book("ETH-USD")
    ours = limit(rig.cloid(), BUY, "0.01", passive_price(rig, book, BUY, "0.003"))
    assert rig.place(ours, "http").outcome is SubmitOutcome.RESTING
    external = _adopted_target(_external_sol_order(rig))
    stale = SignerCore(L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False),
                       _without(rig.markets, "SOL"), rig.nonces, rig.clock.time_ns)

    stale.add(SignCancels(targets=(cancel_target(ours), external), ts_init=0))
    out = stale.flush()
    for result in out:
        if isinstance(result, SignedAction):
            rig.post(result, "http")
    failed = [r for r in out if isinstance(r, RequestFailed)]
    assert [r.client_order_ids for r in failed] == [(external.client_order_id,)], failed
    assert rig.venue_order(ours.client_order_id).status == Status.CANCELED


def test_a_by_oid_cancel_target_without_an_oid_is_reported_not_dropped(rig: VenueRig) -> None:
    """FINDING (venues/hyperliquid/actions.py, cancel_actions): a target with
    ``by_exchange_id=True`` and ``exchange_order_id=None`` matches neither list (by_cloid takes
    ``not by_exchange_id``, by_oid requires an oid), so SignerCore emits nothing for it: no
    action, no RequestFailed, and the tracker waits on a cancel that was never sent. Today the
    tracker always sets the oid of adopted orders, so this is latent; it should raise
    ValueError (→ a definitive RequestFailed for that cloid) or fall back to the cloid."""
    book = rig.book("ETH-USD")
    ours = limit(rig.cloid(), BUY, "0.01", passive_price(rig, book, BUY, "0.003"))
    assert rig.place(ours, "http").outcome is SubmitOutcome.RESTING
    orphan = CancelTarget(client_order_id=ClientOrderId.derive("external", 424242),
                          trading_pair="ETH-USD", exchange_order_id=None, by_exchange_id=True)

    out = rig.sign(SignCancels(targets=(cancel_target(ours), orphan), ts_init=0))
    accounted = [c for r in out for c in r.client_order_ids]
    assert ours.client_order_id in accounted
    assert orphan.client_order_id in accounted, (
        f"the cancel of {orphan.client_order_id} vanished: no action, no RequestFailed: {out}")
    sent = [r for r in out if isinstance(r, SignedAction)]
    assert [orjson.loads(a.body)["action"]["type"] for a in sent] == ["cancelByCloid"]


def test_cancel_everything_leaves_no_order_live(rig: VenueRig) -> None:
    """FINDING (venues/hyperliquid/bootstrap.py, cancel_everything): open orders whose trading
    pair is not in the start-up registry are skipped (``if o.trading_pair in markets``) without
    a word, so the emergency cancel after the root supervisor escalates leaves them live while
    reporting success. It should reload the markets (``client.markets()``) for the coins it does
    not know, or at least log an error naming the orders it could not cancel."""
    book = rig.book("ETH-USD")
    ours = limit(rig.cloid(), BUY, "0.01", passive_price(rig, book, BUY, "0.003"))
    assert rig.place(ours, "http").outcome is SubmitOutcome.RESTING
    external = _external_sol_order(rig)

    sent = cancel_everything(rig.info, L1Signer(DEMO_PRIVATE_KEY, is_mainnet=False),
                             rig.nonces.next, DEMO_ADDRESS, _without(rig.markets, "SOL"))
    live = rig.sim.call(lambda core: [o.oid for o in core.engine.live_orders(DEMO_ADDRESS)])
    assert rig.venue_order(ours.client_order_id).status == Status.CANCELED
    assert live == [], f"cancel_everything reported {sent} cancels; order {external} is live"
