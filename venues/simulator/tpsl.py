"""TP/SL machinery on top of the engine: ``normalTpsl`` children waiting for their parent,
armed trigger orders firing when the mark reaches them, and sibling cancellation."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from venues.simulator.accounts import Account
from venues.simulator.model import (
    Order,
    OrderRequest,
    PlaceOutcome,
    Rejected,
    Status,
    Waiting,
)
from venues.simulator.registry import OrderRegistry
from venues.simulator.timed import TriggerBook


class Engine(Protocol):
    """What TP/SL needs of the matching engine (`venues.simulator.engine.Engine` is one)."""

    reg: OrderRegistry
    triggers: TriggerBook
    accounts: dict[str, Account]

    def place_one(self, user: str, req: OrderRequest, tx_hash: str, *,
                  position_tpsl: bool = False, defer_children: bool = False) -> PlaceOutcome: ...

    def new_order(self, user: str, req: OrderRequest) -> Order | Rejected: ...

    def execute(self, order: Order, tx_hash: str, *, placing: bool,
                defer_children: bool = False) -> PlaceOutcome: ...

    def mark(self, coin: str) -> Decimal: ...

    def touch(self, user_coin: tuple[str, str]) -> None: ...

    def drop_live(self, order: Order) -> bool: ...


def place_normal_tpsl(
    engine: Engine, user: str, requests: Sequence[OrderRequest], tx_hash: str
) -> list[PlaceOutcome]:
    """The first order is the parent; the others wait (``waitingForFill``) until it fills."""
    first = engine.place_one(user, requests[0], tx_hash, defer_children=True)
    if isinstance(first, Rejected | Waiting):
        error = first.error if isinstance(first, Rejected) else "Invalid TP/SL parent."
        rejected: list[PlaceOutcome] = [first]
        return rejected + [Rejected(error) for _ in requests[1:]]
    out: list[PlaceOutcome] = [first]
    parent = engine.reg.find(user, first.oid)
    assert parent is not None
    for req in requests[1:]:
        child = engine.new_order(user, req)
        if isinstance(child, Rejected):
            out.append(child)
            continue
        child.parent_oid = parent.oid
        parent.children.append(child)
        engine.reg.live[user][child.oid] = child
        engine.reg.set_status(child, Status.OPEN)
        out.append(Waiting("waitingForFill"))
    if parent.status == Status.FILLED:
        activate_children(engine, parent)
    elif not engine.reg.is_live(parent):
        cancel_children(engine, parent, Status.CANCELED)
    return out


def activate_children(engine: Engine, parent: Order) -> None:
    for child in parent.children:
        if engine.reg.is_live(child) and child.status == Status.OPEN:
            engine.triggers.arm(child)
            engine.touch((child.user, child.coin))


def cancel_children(engine: Engine, parent: Order, status: str) -> None:
    for child in parent.children:
        if engine.reg.is_live(child):
            engine.drop_live(child)
            engine.reg.set_status(child, status)


def fire_triggers(engine: Engine, coin: str) -> None:
    for _ in range(100):  # a fired order moves the mark, which may fire another
        due = engine.triggers.due(coin, engine.mark(coin))
        if not due:
            return
        for order in due:
            if engine.triggers.disarm(order):
                fire(engine, order)


def fire(engine: Engine, order: Order) -> None:
    """Turn a trigger order into a market (IOC at its limit) or limit (GTC) order."""
    assert order.trigger is not None
    order.triggered = True
    order.tif = "Ioc" if order.trigger.is_market else "Gtc"
    engine.reg.live[order.user].pop(order.oid, None)
    engine.reg.set_status(order, Status.TRIGGERED)
    parent = engine.reg.find(order.user, order.parent_oid) if order.parent_oid else None
    for sibling in parent.children if parent else []:
        if sibling is not order and engine.reg.is_live(sibling):
            engine.drop_live(sibling)
            engine.reg.set_status(sibling, Status.SIBLING_FILLED_CANCELED)
    if order.is_position_tpsl:
        order.sz = min(order.sz, abs(engine.accounts[order.user].szi(order.coin)))
    engine.execute(order, engine.reg.new_hash(), placing=False)
