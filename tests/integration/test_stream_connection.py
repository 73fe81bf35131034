"""WsConnection against a local server: the reader thread's messages, buffered reads of any
frame size, prompt exit on close, failures reported rather than swallowed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from clock import SystemClock
from messages.connection import ConnectionStateChanged, FrameReceived
from supervision.errors import MailboxFullError
from tests.support.streams import GREETING, LocalWsServer
from tests.support.supervision import EventRecorder
from venues.hyperliquid.ws_client import conflation_key
from venues.hyperliquid.ws_connection import ConnectionRequest, FrameSlots, WsConnection


@pytest.fixture
def server() -> Iterator[LocalWsServer]:
    with LocalWsServer() as srv:
        yield srv


def request(url: str, deliver: Callable[[object], None], *, slots: FrameSlots | None = None,
            label: str = "test#1") -> ConnectionRequest:
    return ConnectionRequest(url=url, label=label, connection_id=1, deliver=deliver,
                             clock=SystemClock(), connect_timeout_s=5, slots=slots,
                             conflation_key=conflation_key if slots is not None else None)


def frames(recorder: EventRecorder) -> list[bytes]:
    return [m.data for m in recorder.of(FrameReceived)]


def test_frames_of_any_size_arrive_intact_and_in_order(server: LocalWsServer) -> None:
    got = EventRecorder()
    conn = WsConnection(request(server.url, got), poll_s=0.2).start()
    try:
        [opened] = got.wait_for(ConnectionStateChanged)
        assert opened.connected
        assert opened.connection == "test#1"
        remote = server.wait_for_connections(1)
        sizes = [1, 2, 125, 126, 65_535, 65_536, 70_000, 300_000, 3, 16_384]
        sent = [(b'{"n":%d,"pad":"' % i) + b"x" * size + b'"}' for i, size in enumerate(sizes)]
        many = [b'{"small":%d}' % i for i in range(2_000)]
        server.push(remote, *sent, *many)
        got.wait_for(FrameReceived, count=1 + len(sent) + len(many))
        assert frames(got) == [GREETING.encode(), *sent, *many]
        assert all(m.connection_id == 1 for m in got.of(FrameReceived))
        conn.send(b'{"method":"ping"}')
        server.wait_received(remote, "ping", 1)
    finally:
        conn.close()
        assert conn.join(2)


def test_a_peer_close_is_reported_and_the_thread_ends(server: LocalWsServer) -> None:
    got = EventRecorder()
    conn = WsConnection(request(server.url, got), poll_s=5).start()
    got.wait_for(ConnectionStateChanged)
    server.close(server.wait_for_connections(1), code=1001)
    [closed] = got.wait_for(ConnectionStateChanged, lambda m: not m.connected)
    assert closed.reason == "closed by the peer (code 1001)"
    assert conn.join(2)


def test_close_wakes_a_blocked_reader_and_reports_nothing(server: LocalWsServer) -> None:
    got = EventRecorder()
    conn = WsConnection(request(server.url, got), poll_s=30).start()
    got.wait_for(FrameReceived)  # the greeting: the reader is now blocked in recv
    first = server.connection(1)
    conn.close()
    assert conn.join(2), "close must not wait for the 30 s socket timeout"
    assert [m.connected for m in got.of(ConnectionStateChanged)] == [True]
    server.wait_for(lambda: not first.open)


def test_a_refused_connection_is_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    got = EventRecorder()
    conn = WsConnection(request(f"ws://127.0.0.1:{port}/ws", got)).start()
    [failed] = got.wait_for(ConnectionStateChanged)
    assert not failed.connected
    assert failed.reason.startswith("connect failed: ConnectionRefusedError")
    assert conn.join(2)


def test_a_refused_delivery_is_reported_instead_of_killing_the_reader_silently(
    server: LocalWsServer,
) -> None:
    got = EventRecorder()
    refused = threading.Event()

    def deliver(message: object) -> None:
        if isinstance(message, FrameReceived) and not refused.is_set():
            refused.set()
            raise MailboxFullError("market: mailbox full")
        got(message)

    conn = WsConnection(request(server.url, deliver), poll_s=1).start()
    [lost] = got.wait_for(ConnectionStateChanged, lambda m: not m.connected)
    assert lost.reason == "reader failed: MailboxFullError: market: mailbox full"
    assert conn.join(2)
    first = server.connection(1)
    server.wait_for(lambda: not first.open)


def test_the_reader_conflates_books_until_the_owner_takes_them(server: LocalWsServer) -> None:
    got = EventRecorder()
    slots = FrameSlots()
    conn = WsConnection(request(server.url, got, slots=slots), poll_s=1).start()
    try:
        remote = server.wait_for_connections(1)
        got.wait_for(FrameReceived)
        books = [b'{"channel":"l2Book","data":{"coin":"BTC","time":%d}}' % t for t in range(50)]
        server.push(remote, *books, b'{"channel":"trades","data":[]}')
        got.wait_for(FrameReceived, lambda m: m.data.startswith(b'{"channel":"trades"'))
        told = [m for m in got.of(FrameReceived) if m.data.startswith(b'{"channel":"l2Book"')]
        assert len(told) == 1  # nobody took the slot: one message for all 50 frames
        newest = slots.take((b"l2Book", b"BTC"))
        assert newest is not None
        assert newest[0] == books[-1]
        assert slots.replaced == 49
    finally:
        conn.close()
        assert conn.join(2)
