"""The persistent mailbox: order, hand-over between views, control lane, overflow policies."""

from __future__ import annotations

import threading
from typing import Any

import attrs
import pytest

from supervision import ChildStoppedError, MailboxFullError
from supervision.mailbox import Control, InboxView, Mailbox
from supervision.policy import Overflow


class DeadLetters:
    def __init__(self) -> None:
        self.items: list[tuple[Any, str]] = []

    def __call__(self, message: Any, reason: str) -> None:
        self.items.append((message, reason))


def drain(view: InboxView, count: int) -> list[Any]:
    return [view.get().message for _ in range(count)]


def test_fifo_and_handover_to_the_next_view_keeps_order() -> None:
    mailbox = Mailbox("m")
    first = mailbox.new_view()
    mailbox.attach(first)
    for i in range(5):
        mailbox.tell(i)
    assert drain(first, 2) == [0, 1]
    assert mailbox.detach(first) == (True, None)
    assert mailbox.detach(first) == (False, None)
    for i in range(5, 8):
        mailbox.tell(i)  # sent while no incarnation is attached
    assert isinstance(first.get().message, Control)  # a retired view only learns it is retired
    second = mailbox.new_view()
    assert mailbox.attach(second) == 6
    assert drain(second, 6) == [2, 3, 4, 5, 6, 7]
    assert second.empty()


def test_control_lane_goes_first_and_never_reaches_another_incarnation() -> None:
    mailbox = Mailbox("m")
    view = mailbox.new_view()
    mailbox.attach(view)
    mailbox.tell("queued")
    assert view.send_control(Control(Control.STOP))
    got = view.get().message
    assert isinstance(got, Control)
    assert got.kind == Control.STOP
    mailbox.detach(view)
    assert not view.send_control(Control(Control.CRASH))
    nxt = mailbox.new_view()
    mailbox.attach(nxt)
    assert nxt.get().message == "queued"


def test_a_waiting_consumer_wakes_on_tell() -> None:
    mailbox = Mailbox("m")
    view = mailbox.new_view()
    mailbox.attach(view)
    got: list[Any] = []
    thread = threading.Thread(target=lambda: got.append(view.get().message))
    thread.start()
    mailbox.tell("wake")
    thread.join(5)
    assert got == ["wake"]


def test_ask_future_is_answered_by_the_consumer() -> None:
    mailbox = Mailbox("m")
    view = mailbox.new_view()
    mailbox.attach(view)
    future = mailbox.ask_future("q")
    envelope = view.get()
    assert envelope.reply_to is future
    envelope.reply_to.set(42)
    assert future.get(timeout=1) == 42


def test_close_refuses_everything_and_drains_to_dead_letters() -> None:
    dead = DeadLetters()
    mailbox = Mailbox("m", on_dead_letter=dead)
    mailbox.tell("t1")
    pending = mailbox.ask_future("a1")
    drained = mailbox.close()
    mailbox.refuse_drained(drained)
    assert [m for m, _ in dead.items] == ["t1", "a1"]
    with pytest.raises(ChildStoppedError):
        pending.get(timeout=1)
    mailbox.tell("late")  # a tell to a stopped child is a dead letter, not an exception
    assert dead.items[-1] == ("late", "child stopped")
    with pytest.raises(ChildStoppedError):
        mailbox.ask_future("late ask").get(timeout=1)


def test_block_overflow_applies_back_pressure_until_there_is_room() -> None:
    mailbox = Mailbox("orders", limit=2, overflow=Overflow.BLOCK, block_timeout_s=10)
    view = mailbox.new_view()
    mailbox.attach(view)
    mailbox.tell(1)
    mailbox.tell(2)
    sent = threading.Event()

    def sender() -> None:
        mailbox.tell(3)
        sent.set()

    thread = threading.Thread(target=sender)
    thread.start()
    assert not sent.wait(0.05)  # blocked: the mailbox is full
    assert view.get().message == 1
    assert sent.wait(5)
    thread.join(5)
    assert drain(view, 2) == [2, 3]


def test_block_overflow_times_out_with_a_clear_error_and_a_dead_letter() -> None:
    dead = DeadLetters()
    mailbox = Mailbox(
        "orders", limit=1, overflow=Overflow.BLOCK, block_timeout_s=0.01, on_dead_letter=dead
    )
    mailbox.tell("first")
    with pytest.raises(MailboxFullError, match="orders"):
        mailbox.tell("second")
    assert dead.items == [("second", "mailbox full (1): sender blocked 0.01s")]
    with pytest.raises(MailboxFullError):
        mailbox.ask_future("third").get(timeout=1)


@attrs.frozen
class Book:
    pair: str
    version: int


def pair_key(message: Any) -> str | None:
    return message.pair if isinstance(message, Book) else None


def test_latest_wins_replaces_the_queued_message_with_the_same_key_in_place() -> None:
    mailbox = Mailbox("md", limit=10, overflow=Overflow.LATEST_WINS, key=pair_key)
    view = mailbox.new_view()
    mailbox.attach(view)
    mailbox.tell(Book("BTC-USD", 1))
    mailbox.tell(Book("ETH-USD", 1))
    mailbox.tell("trade")  # no key: never conflated
    mailbox.tell(Book("BTC-USD", 2))
    mailbox.tell("trade")
    assert len(mailbox) == 4
    assert mailbox.conflated == 1
    assert drain(view, 4) == [Book("BTC-USD", 2), Book("ETH-USD", 1), "trade", "trade"]
    mailbox.tell(Book("BTC-USD", 3))  # the key was consumed: queued again, not replaced
    assert view.get().message == Book("BTC-USD", 3)


def test_latest_wins_drops_the_oldest_tell_when_full_and_keeps_asks() -> None:
    dead = DeadLetters()
    mailbox = Mailbox("md", limit=2, overflow=Overflow.LATEST_WINS, key=pair_key,
                      on_dead_letter=dead)
    view = mailbox.new_view()
    mailbox.attach(view)
    ask = mailbox.ask_future(Book("BTC-USD", 0))  # asks are never conflated nor dropped
    mailbox.tell(Book("ETH-USD", 1))
    mailbox.tell(Book("SOL-USD", 1))
    assert dead.items == [(Book("ETH-USD", 1), "overflow: oldest dropped (latest wins)")]
    mailbox.tell(Book("SOL-USD", 2))
    envelope = view.get()
    assert envelope.reply_to is ask
    assert view.get().message == Book("SOL-USD", 2)


def test_drop_newest_refuses_the_new_message() -> None:
    dead = DeadLetters()
    mailbox = Mailbox("x", limit=1, overflow=Overflow.DROP_NEWEST, on_dead_letter=dead)
    mailbox.tell("kept")
    mailbox.tell("dropped")
    assert dead.items == [("dropped", "mailbox full (1): newest dropped")]
    with pytest.raises(MailboxFullError):
        mailbox.ask_future("ask").get(timeout=1)
    assert len(mailbox) == 1
