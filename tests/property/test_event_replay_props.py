"""SubscriberCore against a model publisher and event log (hypothesis): whatever live messages
are dropped, duplicated or never published, however the publisher restarts, and whichever
topics are filtered, the subscriber yields every matching event exactly once in
``event_sequence`` order, and reports as unfillable exactly what the log no longer holds."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from actors.publishing.subscriber_core import Notice, ReceivedEvent, SubscriberCore

KINDS = ("created", "filled", "partial_fill", "cancelled", "failed", "update")


def topic_of(seq: int, salt: int) -> str:
    return f"orders.hyperliquid.{KINDS[(seq * 7 + salt) % len(KINDS)]}"


def event(seq: int, salt: int, replayed: bool = False) -> ReceivedEvent:
    return ReceivedEvent(topic=topic_of(seq, salt), body={"data": {"event_sequence": seq}},
                         sequence=seq, replayed=replayed)


class Model:
    """The tracker's log, the publisher's incarnations and the replay server."""

    def __init__(self, core: SubscriberCore, prefixes: tuple[str, ...], salt: int,
                 limit: int) -> None:
        self.core = core
        self.prefixes = prefixes
        self.salt = salt
        self.limit = limit
        self.logged = 0
        self.published = 0
        """The publisher has been told every event up to here (in order)."""
        self.epoch = 1
        self.last_in_epoch = 0
        self.retained_from = 1
        self.in_flight: int | None = None

    def wants(self, topic: str) -> bool:
        return not self.prefixes or topic.startswith(self.prefixes)

    def append(self, n: int) -> None:
        self.logged += n

    def publish(self, delivered: bool) -> None:
        if self.published == self.logged:
            return
        self.published += 1
        self.last_in_epoch = self.published
        if delivered:
            e = event(self.published, self.salt)
            self.core.on_live(e, self.wants(e.topic), self.epoch)

    def lose_in_tracker(self) -> None:
        """The tracker logged the next event but never told the publisher."""
        if self.published < self.logged:
            self.published += 1

    def duplicate(self) -> None:
        if self.published:
            e = event(self.published, self.salt)
            self.core.on_live(e, self.wants(e.topic), self.epoch)

    def heartbeat(self) -> None:
        self.core.on_heartbeat(epoch=self.epoch, last_sequence=self.last_in_epoch,
                               log_sequence=self.logged, replay=True)

    def restart(self) -> None:
        self.epoch += 1
        self.last_in_epoch = 0

    def retain(self, drop: int) -> None:
        self.retained_from = min(self.retained_from + drop, self.logged + 1)

    def request(self) -> None:
        if self.in_flight is None and self.core.needs_replay():
            self.in_flight = self.core.covered

    def answer(self) -> None:
        after, self.in_flight = self.in_flight, None
        if after is None:
            return
        if after + 1 < self.retained_from:
            self.core.on_not_retained(first_sequence=self.retained_from,
                                      last_sequence=self.logged)
            return
        through = min(self.logged, after + self.limit) if self.limit else after
        events = [event(s, self.salt, True) for s in range(after + 1, through + 1)
                  if self.wants(topic_of(s, self.salt))]
        self.core.on_reply(after=after, through=max(after, through), events=events,
                           last_sequence=self.logged)


actions = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(1, 4)),
    st.tuples(st.just("publish"), st.booleans()),
    st.tuples(st.just("publish"), st.just(True)),
    st.tuples(st.just("lose"), st.just(0)),
    st.tuples(st.just("duplicate"), st.just(0)),
    st.tuples(st.just("heartbeat"), st.just(0)),
    st.tuples(st.just("restart"), st.just(0)),
    st.tuples(st.just("request"), st.just(0)),
    st.tuples(st.just("answer"), st.just(0)),
    st.tuples(st.just("retain"), st.integers(1, 5)),
), max_size=80)
prefix_sets = st.sampled_from([
    (), ("orders.hyperliquid.",), ("orders.hyperliquid.filled",),
    ("orders.hyperliquid.filled", "orders.hyperliquid.partial_fill"),
    ("orders.hyperliquid.c",),
])


@settings(max_examples=400)
# The tracker lost the last event: only the log has it, and only heartbeats can tell.
@example([("append", 2), ("publish", True), ("lose", 0)], (), 0, 3, None, False)
@given(actions, prefix_sets, st.integers(0, 5), st.integers(0, 3),
       st.sampled_from([0, None]), st.booleans())
def test_every_matching_event_once_in_order(
    script: list[tuple[str, Any]], prefixes: tuple[str, ...], salt: int, limit_choice: int,
    after: int | None, with_retention: bool,
) -> None:
    notices: list[Notice] = []
    core = SubscriberCore(after=after, replay=True, on_notice=notices.append)
    model = Model(core, prefixes, salt, limit=(1, 2, 5, 1000)[limit_choice])
    for name, arg in script:
        if name == "retain" and not with_retention:
            continue
        getattr(model, {"lose": "lose_in_tracker"}.get(name, name))(*(
            () if name in ("lose", "duplicate", "heartbeat", "restart", "request", "answer")
            else (arg,)))
    # Quiesce: everything reaches the publisher, heartbeats flow, the server answers.
    while model.published < model.logged:
        model.publish(True)
    for _ in range(500):
        model.heartbeat()
        model.heartbeat()
        model.request()
        model.answer()
        if not core.needs_replay() and model.in_flight is None:
            break
    assert not core.needs_replay()
    got = [e.sequence or 0 for e in core.ready]
    assert got == sorted(set(got)), "out of order or duplicated"
    lost: set[int] = set()
    for notice in notices:
        if notice.kind == "unfillable":
            assert notice.first is not None
            assert notice.last is not None
            lost.update(range(notice.first, notice.last + 1))
    # after=None ("from now"): the first event or heartbeat anchored the subscriber.
    start = 1 if after == 0 else (min(got) if got else model.logged + 1)
    expected = [s for s in range(start, model.logged + 1)
                if model.wants(topic_of(s, salt)) and s not in lost]
    assert [s for s in got if s >= start] == expected
    assert not (lost & set(got))
    if not with_retention:
        assert not lost
    else:
        assert all(s < model.retained_from for s in lost)
    assert core.covered == model.logged or (after is None and not got and core.covered is None)
    stats = core.stats
    assert stats.live + stats.replayed == len(got)
    assert all(e.replayed == (e.sequence is not None and e.replayed) for e in core.ready)
