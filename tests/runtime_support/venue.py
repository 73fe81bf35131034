"""What the exchange says, read on the simulator's thread, and faults the runtime cannot see."""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.ids import ClientOrderId
from messages.pairs import coin_to_trading_pair
from venues.simulator import DEMO_ADDRESS, RunningSimulator
from venues.simulator.core import SimulatorCore
from venues.simulator.model import OrderRequest, Resting


@attrs.frozen(kw_only=True)
class VenueOrder:
    oid: int
    cloid: str | None
    coin: str
    status: str
    live: bool
    orig_sz: Decimal
    sz: Decimal
    limit_px: Decimal


@attrs.frozen(kw_only=True)
class VenueFill:
    tid: int
    oid: int
    cloid: str | None
    sz: Decimal
    px: Decimal


@attrs.frozen(kw_only=True)
class VenueState:
    orders: tuple[VenueOrder, ...]
    fills: tuple[VenueFill, ...]
    positions: dict[str, Decimal]
    """Signed position size per trading pair."""


def venue_state(sim: RunningSimulator, user: str = DEMO_ADDRESS) -> VenueState:
    """Every order (history, live flag) and every fill of ``user``, read on the sim's thread."""

    def read(core: SimulatorCore) -> VenueState:
        reg = core.engine.reg
        orders = tuple(
            VenueOrder(oid=o.oid, cloid=o.cloid, coin=o.coin, status=o.status,
                       live=reg.is_live(o), orig_sz=o.orig_sz, sz=o.sz, limit_px=o.limit_px)
            for o in reg.history(user))
        fills = tuple(VenueFill(tid=f.tid, oid=f.oid, cloid=f.cloid, sz=f.sz, px=f.px)
                      for f in reg.fills(user))
        account = core.engine.accounts.get(user)
        positions = {coin_to_trading_pair(c.name): account.szi(c.name) if account else Decimal(0)
                     for c in core.engine.coins}
        return VenueState(orders=orders, fills=fills, positions=positions)

    return sim.call(read)


def freeze_market(sim: RunningSimulator) -> None:
    """Stop the synthetic flow (and its takers), so resting orders stop changing."""
    sim.call(lambda core: core.stop())


# --- faults the runtime cannot see (to show the comparison is not vacuous) -----------------------

def place_behind_the_runtimes_back(sim: RunningSimulator, cloid: ClientOrderId,
                                   user: str = DEMO_ADDRESS) -> int:
    """Rest a BTC bid for ``user`` directly in the engine and swallow the events it made, as
    if the runtime had lost an order; returns its oid."""

    def place(core: SimulatorCore) -> int:
        engine = core.engine
        price = (engine.mark("BTC") * Decimal("0.95")).quantize(Decimal(1))
        outcome = engine.place(user, OrderRequest(asset=0, is_buy=True, px=price,
                                                  sz=Decimal("0.001"), cloid=str(cloid)))
        engine.drain_events()
        assert isinstance(outcome, Resting), outcome
        return outcome.oid

    return sim.call(place)


def cancel_behind_the_runtimes_back(sim: RunningSimulator, oid: int, coin: str,
                                    user: str = DEMO_ADDRESS) -> None:
    """Cancel an order in the engine and swallow the update, as if it had been lost."""

    def cancel(core: SimulatorCore) -> None:
        engine = core.engine
        asset = next(i for i, c in enumerate(engine.coins) if c.name == coin)
        assert engine.cancel(user, asset, oid)
        engine.drain_events()

    sim.call(cancel)
