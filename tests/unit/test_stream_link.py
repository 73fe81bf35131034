"""StreamLink: connect, ping/pong, reconnect with back-off, stale connections, fencing.

Driven without threads: a fake connector plays the reader thread, a ManualClock the timers, and
an Inbox the actor's mailbox.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from actors.streaming.link import (
    FeedUnavailableError,
    LinkConfig,
    LinkOwner,
    LinkState,
    StreamLink,
    StreamPorts,
)
from clock import ManualClock
from messages.connection import (
    ConnectionStateChanged,
    FrameReceived,
    PingDue,
    PongDeadline,
    Reconnect,
)
from messages.feed import FeedConnected, FeedError, FeedLost
from supervision.errors import FencedError
from supervision.policy import Backoff
from tests.support.streams import FakeConnector, Inbox

URL = "ws://127.0.0.1:1/ws"


class Owner(LinkOwner):
    def __init__(self) -> None:
        self.link: StreamLink | None = None
        self.connected = 0
        self.lost = 0

    def on_connected(self) -> None:
        self.connected += 1
        assert self.link is not None
        self.link.send(b'{"method":"subscribe"}')

    def on_lost(self) -> None:
        self.lost += 1


class Rig:
    def __init__(self, *, backoff: Backoff | None = None, guard: Callable[[], None] | None = None,
                 id_base: int = 0) -> None:
        self.clock = ManualClock()
        self.inbox = Inbox()
        self.events: list[object] = []
        self.connector = FakeConnector()
        self.owner = Owner()
        self.ports = StreamPorts(
            clock=self.clock, timers=self.clock, post=self.inbox.post,
            guard=guard if guard is not None else (lambda: None),
            events=self.events.append, connector=self.connector,
            rng=random.Random(7), id_base=id_base,
        )
        self.link = StreamLink(
            feed="market",
            config=LinkConfig(
                url=URL, ping_interval_s=30, pong_timeout_s=10,
                backoff=backoff if backoff is not None else Backoff(min_s=1, max_s=8,
                                                                    random_factor=0),
            ),
            ports=self.ports, owner=self.owner, ping_frame=b'{"method":"ping"}',
        )
        self.owner.link = self.link

    def handle(self, message: object) -> None:
        link = self.link
        if isinstance(message, ConnectionStateChanged):
            link.on_state(message)
        elif isinstance(message, Reconnect | PingDue | PongDeadline):
            link.on_timer(message)
        elif isinstance(message, FrameReceived):
            frame = link.current_frame(message)
            if frame is not None and frame[0] == b'{"channel":"pong"}':
                link.on_pong()
        else:
            raise AssertionError(message)

    def pump(self) -> int:
        return self.inbox.pump(self.handle)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.pump()

    def of(self, kind: type) -> list[object]:
        return [e for e in self.events if isinstance(e, kind)]


def state(rig: Rig) -> LinkState:
    return rig.link.state


def connected_rig(**kwargs: object) -> Rig:
    rig = Rig(**kwargs)  # type: ignore[arg-type]
    rig.link.start()
    rig.connector.latest.open()
    rig.pump()
    return rig


def test_connect_sends_subscriptions_then_reports_feed_connected() -> None:
    rig = connected_rig()
    assert state(rig) is LinkState.CONNECTED
    assert rig.owner.connected == 1
    assert rig.connector.latest.sent == [b'{"method":"subscribe"}']
    [event] = rig.of(FeedConnected)
    assert event == FeedConnected(feed="market", url=URL, connection=1,
                                  ts_init=event.ts_init)  # type: ignore[attr-defined]


def test_pings_every_interval_and_a_pong_keeps_the_connection() -> None:
    rig = connected_rig()
    transport = rig.connector.latest
    for n in range(1, 4):
        rig.advance(30)
        assert transport.sent.count(b'{"method":"ping"}') == n
        transport.frame(b'{"channel":"pong"}')
        rig.pump()
        rig.advance(10)
        assert state(rig) is LinkState.CONNECTED
    assert not rig.of(FeedLost)


def test_missing_pong_drops_and_reconnects_after_backoff() -> None:
    rig = connected_rig()
    first = rig.connector.latest
    rig.advance(30)
    rig.advance(9.9)
    assert state(rig) is LinkState.CONNECTED
    rig.advance(0.2)
    assert first.closed
    [lost] = rig.of(FeedLost)
    assert "no pong within 10s" in lost.reason  # type: ignore[attr-defined]
    assert rig.owner.lost == 1
    assert state(rig) is LinkState.BACKING_OFF
    # The connection was up 40 s >= reset_after (4.5 s): the back-off starts over at min_s.
    rig.advance(0.99)
    assert len(rig.connector.transports) == 1
    rig.advance(0.02)
    assert len(rig.connector.transports) == 2
    rig.connector.latest.open()
    rig.pump()
    assert [e.connection for e in rig.of(FeedConnected)] == [1, 2]  # type: ignore[attr-defined]


def test_failed_attempts_back_off_exponentially_and_report_feed_errors() -> None:
    rig = Rig()
    rig.link.start()
    delays = []
    for _ in range(5):
        rig.connector.latest.lost("connect failed: ConnectionRefusedError")
        rig.pump()
        due = rig.clock.next_due_s()
        assert due is not None
        delays.append(due)
        rig.advance(due)
    assert delays == [1, 2, 4, 8, 8]
    assert len(rig.of(FeedError)) == 5
    assert not rig.of(FeedLost)
    assert len(rig.connector.transports) == 6


def test_exhausted_backoff_raises_for_the_supervisor() -> None:
    rig = Rig(backoff=Backoff(min_s=1, max_s=1, random_factor=0, max_restarts=2))
    rig.link.start()
    rig.connector.latest.lost("connect failed")
    rig.pump()
    rig.advance(1)
    rig.connector.latest.lost("connect failed")
    rig.pump()
    rig.advance(1)
    rig.connector.latest.lost("connect failed")
    with pytest.raises(FeedUnavailableError, match="2 consecutive"):
        rig.pump()


def test_frames_and_states_of_old_connections_are_ignored() -> None:
    rig = connected_rig()
    old = rig.connector.latest
    old.lost()
    rig.pump()
    rig.advance(1)
    new = rig.connector.latest
    assert new is not old
    new.open()
    rig.pump()
    # The old reader thread is late: a frame and a second "lost" for the old connection.
    old.frame(b'{"channel":"pong"}')
    old.lost("late")
    [frame_msg, _state_msg] = list(rig.inbox.queue)
    assert isinstance(frame_msg, FrameReceived)
    assert rig.link.current_frame(frame_msg) is None
    rig.pump()
    assert state(rig) is LinkState.CONNECTED
    assert len(rig.of(FeedLost)) == 1
    assert new.request.connection_id == old.request.connection_id + 1


def test_connection_ids_start_above_the_incarnation_base() -> None:
    rig = connected_rig(id_base=3 << 32)
    assert rig.connector.latest.request.connection_id == (3 << 32) + 1
    assert rig.connector.latest.request.label == f"market#{(3 << 32) + 1}"


def test_a_send_failure_drops_the_connection_instead_of_crashing() -> None:
    rig = connected_rig()
    rig.connector.latest.fail_sends = True
    assert rig.link.send(b"x") is False
    assert state(rig) is LinkState.BACKING_OFF
    assert "send failed" in rig.of(FeedLost)[0].reason  # type: ignore[attr-defined]


def test_a_replaced_incarnation_cannot_write() -> None:
    fenced = False

    def guard() -> None:
        if fenced:
            raise FencedError("replaced")

    rig = connected_rig(guard=guard)
    fenced = True
    with pytest.raises(FencedError):
        rig.link.send(b"x")
    assert rig.connector.latest.sent == [b'{"method":"subscribe"}']


def test_stop_cancels_timers_and_closes() -> None:
    rig = connected_rig()
    assert rig.clock.pending() == 1  # the next ping
    assert rig.link.stop() is True
    assert rig.connector.latest.closed
    assert rig.clock.pending() == 0
    assert state(rig) is LinkState.STOPPED
    assert rig.link.send(b"x") is False


def test_the_pong_deadline_runs_from_the_oldest_unanswered_ping() -> None:
    rig = Rig()
    rig.link = StreamLink(
        feed="market",
        config=LinkConfig(url=URL, ping_interval_s=1, pong_timeout_s=2.5),
        ports=rig.ports, owner=rig.owner, ping_frame=b'{"method":"ping"}',
    )
    rig.owner.link = rig.link
    rig.link.start()
    rig.connector.latest.open()
    rig.pump()
    rig.advance(1)  # ping 1: deadline at 3.5
    rig.advance(1)  # ping 2 does not move it
    rig.advance(1)
    assert state(rig) is LinkState.CONNECTED
    rig.advance(0.6)
    assert state(rig) is LinkState.BACKING_OFF
    assert rig.connector.transports[0].sent.count(b'{"method":"ping"}') == 3


def test_an_oversized_message_is_a_feed_error_then_a_reconnect() -> None:
    rig = connected_rig()
    first = rig.connector.latest
    assert first.request.max_frame_bytes == LinkConfig(url=URL).max_frame_bytes
    first.refuse("a WebSocket message of 16777216 bytes exceeds the maximum of 4194304 bytes")
    rig.pump()
    kinds = [type(e).__name__ for e in rig.events]
    assert kinds[-2:] == ["FeedError", "FeedLost"]
    [error] = rig.of(FeedError)
    assert error.reason.startswith("a WebSocket message of 16777216 bytes")  # type: ignore[attr-defined]
    assert first.closed
    assert state(rig) is LinkState.BACKING_OFF
    rig.advance(1.01)
    assert len(rig.connector.transports) == 2
    rig.connector.latest.open()
    rig.pump()
    assert state(rig) is LinkState.CONNECTED
    assert rig.connector.latest.refusal is None
