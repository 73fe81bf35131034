"""`ThreadTimers`: the one timer thread behind every actor's ``tell_later``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from clock import ThreadTimers


@pytest.fixture
def timers() -> Iterator[ThreadTimers]:
    t = ThreadTimers(name="test-timers")
    yield t
    t.stop()


def _record(log: list[str], name: str, done: threading.Event | None = None) -> Callable[[], None]:
    def callback() -> None:
        log.append(name)
        if done is not None:
            done.set()

    return callback


def test_a_deadline_added_behind_the_head_does_not_delay_it(timers: ThreadTimers) -> None:
    fired: list[str] = []
    done = threading.Event()
    timers.call_later(0.05, _record(fired, "soon"))
    timers.call_later(60.0, _record(fired, "late"))  # behind the head: no wake-up
    timers.call_later(0.06, _record(fired, "after", done))
    assert done.wait(5)
    assert fired == ["soon", "after"]


def test_an_earlier_deadline_wakes_a_thread_waiting_for_a_later_one(
    timers: ThreadTimers,
) -> None:
    order: list[str] = []
    early = threading.Event()
    timers.call_later(30.0, _record(order, "late"))
    # The thread now sleeps until the 30 s deadline; this one must wake it up.
    timers.call_later(0.0, _record(order, "early", early))
    assert early.wait(5), "an earlier deadline waited behind a later one"
    assert order == ["early"]


def test_cancelled_calls_do_not_run_and_a_failing_callback_does_not_stop_the_thread() -> None:
    errors: list[BaseException] = []
    timers = ThreadTimers(name="test-timers-errors", on_error=errors.append)
    try:
        ran: list[str] = []
        done = threading.Event()
        handle = timers.call_later(0.01, _record(ran, "cancelled"))
        handle.cancel()

        def boom() -> None:
            raise RuntimeError("callback failed")

        timers.call_later(0.02, boom)
        timers.call_later(0.03, _record(ran, "after", done))
        assert done.wait(5)
        assert ran == ["after"]
        assert [str(e) for e in errors] == ["callback failed"]
    finally:
        timers.stop()
