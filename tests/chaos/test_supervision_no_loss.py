"""No message lost: 20,000 tells through a stable handle while the child crashes three times.

Four sender threads tell ``Work(sender, n)`` concurrently; three of the messages are poison.
Every other message must be processed exactly once, in per-sender order, across the
incarnations; the three poison messages must be dead letters, nothing else.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from messages.supervision import ChildFailed, ChildRestarted
from supervision import ChildSpec, SupervisorSpec
from tests.helpers import eventually
from tests.support.supervision import Harness, Ledger, Poison, Work, scripted

SENDERS = 4
PER_SENDER = 5_000
POISON_AT = {("s1", 1_000), ("s2", 2_500), ("s3", 4_000)}


def send_all(harness: Harness, make: Any) -> None:
    handle = harness.handle("w")
    start = threading.Barrier(SENDERS)
    errors: list[BaseException] = []

    def sender(name: str) -> None:
        try:
            start.wait(10)
            for n in range(PER_SENDER):
                handle.tell(make(name, n))
        except BaseException as exc:
            errors.append(exc)
            raise

    threads = [threading.Thread(target=sender, args=(f"s{i}",)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors


def check_exactly_once_in_order(processed: list[Any], skipped: set[tuple[str, int]]) -> None:
    keys = [(w.sender, w.n) for w in processed]
    duplicates = [k for k, c in Counter(keys).items() if c > 1]
    assert not duplicates, f"processed twice: {duplicates[:5]}"
    expected = {(f"s{i}", n) for i in range(SENDERS) for n in range(PER_SENDER)} - skipped
    assert set(keys) == expected
    for i in range(SENDERS):
        mine = [n for s, n in keys if s == f"s{i}"]
        assert mine == sorted(mine), f"s{i} out of order"


def spec(ledger: Ledger) -> SupervisorSpec:
    return SupervisorSpec(
        id="root", intensity=10, period=60, children=[ChildSpec(id="w", factory=scripted(ledger))]
    )


def test_20k_tells_with_3_poison_crashes_lose_nothing() -> None:
    ledger = Ledger()
    harness = Harness(spec(ledger))
    try:

        def make(sender: str, n: int) -> Any:
            if (sender, n) in POISON_AT:
                return Poison(tag=f"{sender}:{n}")
            return Work(sender=sender, n=n)

        send_all(harness, make)
        assert harness.ping("w", timeout=60) == 4
        check_exactly_once_in_order(ledger.processed_of("w"), POISON_AT)
        dead = harness.tree.dead_letter_log()
        assert sorted(d.message.tag for d in dead) == sorted(f"{s}:{n}" for s, n in POISON_AT)
        assert all(d.reason.startswith("poison: PoisonError") for d in dead)
        counters = harness.tree.counters("w")
        assert (counters.restarts, counters.failures, counters.dead_letters) == (3, 3, 3)
        assert counters.processed == SENDERS * PER_SENDER - 3 + 1  # + the final Ping
        assert len(harness.events.of(ChildFailed)) == 3
        assert [e.incarnation for e in harness.events.of(ChildRestarted)] == [2, 3, 4]
    finally:
        harness.close()


def test_20k_tells_with_3_injected_crashes_lose_nothing() -> None:
    ledger = Ledger()
    harness = Harness(spec(ledger))
    try:
        backlog_at_crash: list[int] = []

        def progressed(target: int) -> Callable[[], bool]:
            return lambda: len(ledger.processed_of("w")) >= target

        def crasher() -> None:
            handle = harness.handle("w")
            for number in (1, 2, 3):
                # Crash the serving incarnation once it has made some progress, mid-stream.
                eventually(progressed(number * 1_500), timeout=60)
                backlog_at_crash.append(handle.pending())
                assert harness.tree.crash("w")
                harness.events.wait_for(ChildRestarted, count=number, timeout=60)

        thread = threading.Thread(target=crasher)
        thread.start()
        send_all(harness, lambda sender, n: Work(sender=sender, n=n))
        thread.join(60)
        assert harness.ping("w", timeout=60) == 4
        check_exactly_once_in_order(ledger.processed_of("w"), set())
        assert not harness.tree.dead_letter_log()
        assert {e.error_type for e in harness.events.of(ChildFailed)} == {"InjectedCrash"}
        assert len(backlog_at_crash) == 3
    finally:
        harness.close()
