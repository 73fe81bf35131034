"""What the tracker says, and every disagreement between the ledger, the tracker, the monitor
and the exchange."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from messages.enums import OrderState
from messages.ids import ClientOrderId
from messages.tracking import GetOpenOrders, GetOrder, TrackedOrder
from runtime.launch import Runtime
from tests.runtime_support.ledger import ChurnLedger
from tests.runtime_support.venue import VenueOrder, venue_state

UNSETTLED_STATES = frozenset({OrderState.PENDING_CREATE, OrderState.SUBMITTED,
                              OrderState.PENDING_CANCEL, OrderState.UNKNOWN})
ASK_TIMEOUT_S = 5.0


def tracked(rt: Runtime, cloids: list[ClientOrderId]) -> dict[ClientOrderId, TrackedOrder | None]:
    assert rt.tree is not None
    tracker = rt.tree.handle("order_tracker")
    futures = {c: tracker.ask_future(GetOrder(client_order_id=c)) for c in cloids}
    return {c: f.get(timeout=ASK_TIMEOUT_S) for c, f in futures.items()}


def open_orders(rt: Runtime) -> tuple[TrackedOrder, ...]:
    assert rt.tree is not None
    result: tuple[TrackedOrder, ...] = rt.tree.handle("order_tracker").ask(
        GetOpenOrders(), timeout=ASK_TIMEOUT_S)
    return result


def unsettled(rt: Runtime) -> list[TrackedOrder]:
    """Open orders the tracker is not sure about yet (in flight or UNKNOWN)."""
    return [o for o in open_orders(rt) if o.state in UNSETTLED_STATES]


def describe(order: TrackedOrder | None) -> str:
    if order is None:
        return "untracked"
    fills = ", ".join(f"{f.trade_id}/{f.exchange_order_id}:{f.amount}" for f in order.fills)
    return (f"{order.client_order_id} {order.trading_pair} {order.side.value} "
            f"{order.order_type.value} {order.state.value} oid={order.exchange_order_id} "
            f"amount={order.amount} filled={order.filled_amount} ext={order.external} "
            f"fills=[{fills}]")


def compare(rt: Runtime, ledger: ChurnLedger) -> list[str]:
    """Every disagreement between the ledger, the tracker and the exchange (empty: none)."""
    assert rt.sim is not None
    created = ledger.orders()
    problems: list[str] = [f"cloid created twice by the strategy: {c}"
                           for c in ledger.duplicate_cloids()]
    venue = venue_state(rt.sim)
    mine = {o.cloid for o in venue.orders}
    ours = tracked(rt, sorted(set(created) | {ClientOrderId(c) for c in mine if c}))
    for cloid in created:
        order = ours[cloid]
        if order is None:
            problems.append(f"lost: the tracker does not know {cloid} ({created[cloid]})")
        elif order.external:
            problems.append(f"adopted as external, so it was lost first: {describe(order)}")
    # The venue: every order is one of ours, and a cloid appears once (a modify replaces the
    # order under the same cloid, so more than one venue order needs that many modifies).
    modifies = ledger.modifies()
    by_cloid: dict[str, list[VenueOrder]] = {}
    for vo in venue.orders:
        if vo.cloid is None:
            problems.append(f"venue order without cloid: {vo}")
            continue
        by_cloid.setdefault(vo.cloid, []).append(vo)
        if ClientOrderId(vo.cloid) not in created:
            problems.append(f"venue order unknown to the strategy: {vo}")
        elif ours.get(ClientOrderId(vo.cloid)) is None:
            problems.append(f"venue order unknown to the tracker: {vo}")
    for text, vos in by_cloid.items():
        placed = [v for v in vos if "Rejected" not in v.status and v.status != "rejected"]
        if len(placed) > 1 + modifies[ClientOrderId(text)]:
            problems.append(f"cloid {text} placed {len(placed)} times at the venue with "
                            f"{modifies[ClientOrderId(text)]} modifies: {vos}")
        if sum(1 for v in vos if v.live) > 1:
            problems.append(f"cloid {text} live twice at the venue: {vos}")
    # Open orders: the tracker's == the exchange's, by cloid and oid.
    tracker_open = {(o.client_order_id, o.exchange_order_id) for o in open_orders(rt)}
    venue_open = {(ClientOrderId(v.cloid), v.oid) for v in venue.orders if v.live and v.cloid}
    for mine_cloid, mine_oid in sorted(tracker_open - venue_open, key=str):
        problems.append(f"open in the tracker, not at the venue (oid {mine_oid}): "
                        f"{describe(ours.get(mine_cloid))}")
    for venue_cloid, venue_oid in sorted(venue_open - tracker_open, key=str):
        problems.append(f"open at the venue (oid {venue_oid}), not in the tracker: "
                        f"{describe(ours.get(venue_cloid))}")
    # Open on both sides: the same price and the same remaining size (modifies included).
    for vo in venue.orders:
        order = ours.get(ClientOrderId(vo.cloid)) if vo.live and vo.cloid else None
        if order is None or order.exchange_order_id != vo.oid:
            continue
        if order.price != vo.limit_px or order.remaining_amount != vo.sz:
            problems.append(f"venue has px {vo.limit_px} remaining {vo.sz}, the tracker "
                            f"px {order.price} remaining {order.remaining_amount}: "
                            f"{describe(order)}")
    # Fills: per order and as a whole, by trade id and order id.
    venue_fills = {(f.tid, f.oid): f for f in venue.fills}
    tracker_fills: dict[tuple[int, int], ClientOrderId] = {}
    for cloid, order in ours.items():
        if order is None:
            continue
        for f in order.fills:
            key = (int(f.trade_id), int(f.exchange_order_id))
            if key in tracker_fills:
                problems.append(f"fill {key} booked twice: {cloid} and {tracker_fills[key]}")
            tracker_fills[key] = cloid
        venue_filled = sum((f.sz for f in venue.fills if f.cloid == cloid), Decimal(0))
        if order.filled_amount != venue_filled:
            problems.append(f"filled {order.filled_amount} in the tracker, {venue_filled} at "
                            f"the venue: {describe(order)}")
        if sum((f.amount for f in order.fills), Decimal(0)) != order.filled_amount:
            problems.append(f"fills do not add up to filled_amount: {describe(order)}")
    for key in sorted(set(venue_fills) - set(tracker_fills)):
        problems.append(f"venue fill missing in the tracker: {venue_fills[key]}")
    for key in sorted(set(tracker_fills) - set(venue_fills)):
        problems.append(f"tracker fill unknown to the venue: {key} on {tracker_fills[key]}")
    return problems


def duplicated_sequences(sequences: list[int]) -> list[int]:
    return sorted(s for s, n in Counter(sequences).items() if n > 1)


def monitor_problems(rt: Runtime) -> list[str]:
    """The monitor's status line (built from the tracker's events alone) against the tracker
    and the exchange: a lost or duplicated event shows up here."""
    assert rt.sim is not None
    status = rt.status()
    if status is None:
        return ["the monitor did not answer"]
    venue = venue_state(rt.sim)
    problems = []
    tracker_open = len(open_orders(rt))
    if status.open_orders != tracker_open:
        problems.append(f"monitor: {status.open_orders} open orders, tracker: {tracker_open}")
    if status.fills != len(venue.fills):
        problems.append(f"monitor: {status.fills} fills, venue: {len(venue.fills)}")
    shown = {p.trading_pair: p.position for p in status.pairs}
    for pair, size in venue.positions.items():
        if shown.get(pair, Decimal(0)) != size:
            problems.append(f"monitor: position {shown.get(pair)} in {pair}, venue: {size}")
    return problems
