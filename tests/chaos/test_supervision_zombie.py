"""A hung incarnation is replaced; when the zombie wakes up, its fenced writes are refused."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import attrs

from messages.supervision import ChildFailed, ChildRestarted
from supervision import ChildContext, ChildSpec, FencedError, SupervisedActor, SupervisorSpec
from supervision.journal import Journal
from tests.support.supervision import Harness


@attrs.frozen
class Append:
    payload: bytes


@attrs.frozen(eq=False)
class SlowAppend:
    """Blocks until released, then tries to publish and to append (as a zombie, by then)."""

    entered: threading.Event = attrs.field(factory=threading.Event)
    release: threading.Event = attrs.field(factory=threading.Event)
    refused: list[BaseException] = attrs.field(factory=list)
    finished: threading.Event = attrs.field(factory=threading.Event)


class Tracker(SupervisedActor):
    def __init__(self, ctx: ChildContext, directory: Path, published: list[bytes]) -> None:
        super().__init__(ctx)
        self.directory = directory
        self.published = published
        self.journal: Journal | None = None

    def on_started(self) -> None:
        self.journal = Journal.open(self.directory, fence=self.fence)
        self.journal.recover()

    def on_stopping(self) -> None:
        if self.journal is not None:
            self.journal.close()

    def handle(self, message: Any) -> Any:
        assert self.journal is not None
        if isinstance(message, Append):
            with self.fence.guard():
                self.published.append(message.payload)
            return self.journal.append(message.payload)
        if isinstance(message, SlowAppend):
            message.entered.set()
            message.release.wait(30)
            try:
                try:
                    with self.fence.guard():
                        self.published.append(b"zombie publish")
                except FencedError as exc:
                    message.refused.append(exc)
                try:
                    self.journal.append(b"zombie append")
                except FencedError as exc:
                    message.refused.append(exc)
            finally:
                message.finished.set()
            return None
        raise TypeError(type(message).__name__)


def test_zombie_incarnation_cannot_write_after_it_was_replaced(tmp_path: Path) -> None:
    published: list[bytes] = []
    spec = SupervisorSpec(
        id="root",
        children=[
            ChildSpec(
                id="tracker",
                factory=lambda ctx: Tracker(ctx, tmp_path, published),
                heartbeat=1.0,
            )
        ],
    )
    harness = Harness(spec)
    try:
        tracker = harness.handle("tracker")
        assert tracker.ask(Append(b"a"), timeout=10) == 1
        assert tracker.ask(Append(b"b"), timeout=10) == 2
        slow = SlowAppend()
        tracker.tell(slow)
        assert slow.entered.wait(10)
        for _ in range(3):
            harness.clock.advance(0.5)  # the watchdog sees the same message in flight >= 1 s
        [failed] = harness.events.wait_for(ChildFailed)
        assert failed.phase == "hung"
        harness.events.wait_for(ChildRestarted)
        # The successor took the journal over (the zombie's lock was revoked with its fence).
        assert tracker.ask(Append(b"c"), timeout=10) == 3
        slow.release.set()
        assert slow.finished.wait(10)
        assert len(slow.refused) == 2
        assert all(isinstance(e, FencedError) for e in slow.refused)
        assert published == [b"a", b"b", b"c"]
    finally:
        harness.close()
    with Journal.open(tmp_path) as journal:
        assert [p for _, p in journal.recover().records] == [b"a", b"b", b"c"]
