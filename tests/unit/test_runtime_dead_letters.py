"""`CommandBouncer` without threads: which dead letters go back to whom, and which do not."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from messages import CancelAll, CancelOrder, ClientOrderId, OrderSide, OrderType, SubmitOrder
from messages.supervision import DeadLetter
from messages.tracking import CommandRejected, OrderDenied
from runtime.dead_letters import CommandBouncer
from runtime.wiring import strategy_path
from supervision.observe import DeadLetterRecord

CLOID = ClientOrderId.derive("bounce", 1)
ORDER = SubmitOrder(client_order_id=CLOID, trading_pair="ETH-USD", side=OrderSide.BUY,
                    order_type=OrderType.LIMIT, amount=Decimal(1), price=Decimal(2000),
                    strategy_id="mm")


class Inbox:
    def __init__(self) -> None:
        self.told: list[object] = []

    def tell(self, message: object) -> None:
        self.told.append(message)


class Rig:
    def __init__(self) -> None:
        self.inboxes = {"order_tracker": Inbox(), "strategies/mm": Inbox()}
        self.records: list[DeadLetterRecord] = []
        self.bouncer = CommandBouncer(lookup=self.lookup, records=lambda: self.records,
                                      now_ns=lambda: 7, strategy_path=strategy_path)

    def lookup(self, path: str) -> Any:
        return self.inboxes[path]

    def dead(self, target: str, message: object, reason: str, ts: int = 1) -> None:
        self.records.append(DeadLetterRecord(child_id=target, incarnation=1, message=message,
                                             reason=reason, ts_init=ts))
        self.bouncer(DeadLetter(target=target, message_type=type(message).__name__,
                                reason=reason, ts_init=ts))

    def told(self, path: str) -> list[object]:
        return self.inboxes[path].told


def test_a_poisoned_submit_is_denied_to_the_tracker_once() -> None:
    rig = Rig()
    rig.dead("execution", ORDER, "poison: InvalidOperation: boom")
    rig.dead("execution", ORDER, "poison: InvalidOperation: boom", ts=2)
    [denied] = rig.told("order_tracker")
    assert isinstance(denied, OrderDenied)
    assert denied.order is ORDER
    assert denied.reason == "execution failed on this SubmitOrder: poison: InvalidOperation: boom"
    assert rig.told("strategies/mm") == []


def test_a_poisoned_denial_is_rejected_to_the_strategy() -> None:
    rig = Rig()
    rig.dead("order_tracker", OrderDenied(order=ORDER, reason="x", ts_init=0), "hung: 5s")
    [rejected] = rig.told("strategies/mm")
    assert isinstance(rejected, CommandRejected)
    assert (rejected.command, rejected.client_order_id, rejected.strategy_id) == (
        "SubmitOrder", CLOID, "mm")
    assert rig.told("order_tracker") == []


@pytest.mark.parametrize("message", [
    CancelOrder(client_order_id=CLOID, strategy_id="mm"),
    CancelAll(strategy_id="mm"),
])
def test_cancels_lost_to_a_full_mailbox_are_rejected(message: object) -> None:
    rig = Rig()
    rig.dead("execution", message, "mailbox full (10): sender blocked 5.0s")
    [rejected] = rig.told("strategies/mm")
    assert isinstance(rejected, CommandRejected)
    assert rejected.command == type(message).__name__


@pytest.mark.parametrize("reason", ["child stopped", "abandoned at shutdown (hung)"])
def test_the_tail_of_a_stop_is_not_bounced(reason: str) -> None:
    rig = Rig()
    rig.dead("execution", ORDER, reason)
    rig.dead("execution", CancelOrder(client_order_id=CLOID, strategy_id="mm"), reason)
    assert rig.told("order_tracker") == rig.told("strategies/mm") == []


def test_commands_of_no_strategy_or_an_unknown_one_are_only_logged() -> None:
    rig = Rig()
    rig.dead("execution", CancelOrder(client_order_id=CLOID), "poison: E: x")
    rig.dead("execution", CancelOrder(client_order_id=CLOID, strategy_id="gone"),
             "poison: E: x")
    rig.dead("execution", CancelAll(), "poison: E: x")
    assert rig.bouncer.bounced == 0


def test_other_messages_and_unmatched_records_are_ignored() -> None:
    rig = Rig()
    rig.dead("order_tracker", "a tick", "poison: E: x")
    rig.bouncer(DeadLetter(target="execution", message_type="SubmitOrder",
                           reason="poison: E: x", ts_init=99))  # not in the log
    assert rig.bouncer.bounced == 0
