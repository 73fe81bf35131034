"""A maximum WebSocket message size with a clear error (issue 10, items 7 and 8).

A 16 MiB book frame used to be read into memory and parsed. Now both WebSocket clients refuse
a message whose header announces more than ``max_frame_bytes``, before reading its payload:

* the frame reader's own state machine (fragments of one message count together);
* the streams' reader thread over a socket that announces 16 MiB and then streams it: the
  connection is refused having buffered a few KiB (traced memory), never the frame;
* the market stream against the local exchange's ``ws_oversize_next`` fault: a `FeedError`
  naming the sizes, the connection dropped and re-opened with back-off, books flowing again;
* the execution post channel: the end of the connection is reported (execution falls back to
  HTTP and reconnects), an error is logged and the socket is released at once.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import socket
import struct
import threading
import tracemalloc
from collections.abc import Iterator

import pytest
import websocket

from actors.market_stream import MarketStream, MarketStreamPeers
from actors.streaming import LinkConfig, MarketStreamConfig, SubscriptionStore
from clock import SystemClock
from messages.commands import SubscribeMarket
from messages.connection import ConnectionStateChanged, FrameReceived
from messages.enums import MarketChannel
from messages.feed import FeedConnected, FeedError, FeedLost
from messages.market import BookSnapshot
from supervision import (
    Backoff,
    ChildContext,
    ChildSpec,
    SupervisionTree,
    SupervisorSpec,
)
from tests.support.supervision import Collector, EventRecorder
from venues.hyperliquid.transport import (
    DEFAULT_MAX_FRAME_BYTES,
    FrameTooLargeError,
    LimitedFrameBuffer,
    WsPostTransport,
)
from venues.hyperliquid.ws_connection import ConnectionRequest, WsConnection
from venues.simulator import RunningSimulator, SimulatorConfig, start_simulator

MiB = 1 << 20
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455


def _header(opcode: int, length: int, *, fin: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        return bytes((first, length))
    if length < 1 << 16:
        return bytes((first, 126)) + struct.pack("!H", length)
    return bytes((first, 127)) + struct.pack("!Q", length)


def _reader(data: bytes, limit: int) -> tuple[LimitedFrameBuffer, io.BytesIO]:
    stream = io.BytesIO(data)
    return LimitedFrameBuffer(stream.read, True, limit), stream


def test_the_reader_refuses_from_the_header_before_reading_the_payload() -> None:
    text = websocket.ABNF.OPCODE_TEXT
    frames, stream = _reader(_header(text, 16 * MiB) + b"x" * 1000, 4 * MiB)
    with pytest.raises(FrameTooLargeError, match="16777216 bytes exceeds the maximum of "
                                                 "4194304 bytes"):
        frames.recv_frame()
    assert stream.tell() == 10  # 2 header bytes and the 8-byte length: no payload read
    ok, _ = _reader(_header(text, 5) + b"hello", 5)
    assert ok.recv_frame().data == b"hello"


def test_fragments_of_one_message_count_together() -> None:
    abnf = websocket.ABNF
    start = (_header(abnf.OPCODE_TEXT, 3, fin=False) + b"abc"
             + _header(abnf.OPCODE_PING, 2) + b"hi"  # control frames may interleave
             + _header(abnf.OPCODE_CONT, 3, fin=False) + b"def")
    frames, _ = _reader(start + _header(abnf.OPCODE_CONT, 5) + b"ghijk", 10)
    assert frames.recv_frame().data == b"abc"
    assert frames.recv_frame().data == b"hi"
    assert frames.recv_frame().data == b"def"
    with pytest.raises(FrameTooLargeError, match="11 bytes exceeds the maximum of 10"):
        frames.recv_frame()
    # A complete message of exactly the limit passes, and the count starts over after it.
    whole, _ = _reader(start + _header(abnf.OPCODE_CONT, 4) + b"ghij"
                       + _header(abnf.OPCODE_TEXT, 10) + b"0123456789", 10)
    assert [whole.recv_frame().data for _ in range(5)][3:] == [b"ghij", b"0123456789"]


class OversizeServer:
    """A WebSocket endpoint on 127.0.0.1 that announces one huge text frame and streams its
    payload from a small reused buffer (so the only large allocation could be the client's)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sent = 0
        self.peer_closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="oversize-server", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def _serve(self) -> None:
        self.listener.settimeout(10)
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(10)
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            conn.sendall(_header(websocket.ABNF.OPCODE_TEXT, self.size))
            chunk = b"a" * 65_536
            try:
                while self.sent < self.size:
                    self.sent += conn.send(chunk[: self.size - self.sent])
            except OSError:
                self.peer_closed.set()
                return
            # Everything was sent (a client without a limit): wait for it to go.
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                pass
            self.peer_closed.set()

    def close(self) -> None:
        self.listener.close()
        self.thread.join(10)


@pytest.fixture
def oversize() -> Iterator[OversizeServer]:
    server = OversizeServer(16 * MiB)
    yield server
    server.close()


def test_a_stream_reader_refuses_a_16_mib_frame_without_buffering_it(
    oversize: OversizeServer,
) -> None:
    delivered = EventRecorder()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        connection = WsConnection(ConnectionRequest(
            url=oversize.url, label="market#1", connection_id=1, deliver=delivered,
            clock=SystemClock(), connect_timeout_s=5)).start()
        [ended] = delivered.wait_for(ConnectionStateChanged, lambda e: not e.connected)
        assert connection.join(5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ended.reason == ("refused: a WebSocket message of 16777216 bytes exceeds the maximum "
                            f"of {DEFAULT_MAX_FRAME_BYTES} bytes (max_frame_bytes)")
    assert connection.refusal is not None
    assert delivered.of(FrameReceived) == []
    assert peak - before < 2 * MiB, f"{(peak - before) / MiB:.1f} MiB traced while refusing"
    assert oversize.peer_closed.wait(10)  # the socket was closed: the server's send failed
    assert oversize.sent < 16 * MiB


def test_the_post_channel_drops_the_connection_and_logs_an_error(
    oversize: OversizeServer, caplog: pytest.LogCaptureFixture,
) -> None:
    delivered = EventRecorder()
    transport = WsPostTransport(oversize.url, delivered, SystemClock().time_ns,
                                timeout_s=5, name="execution-post", max_frame_bytes=MiB)
    with caplog.at_level(logging.ERROR, logger="venues.hyperliquid.transport"):
        transport.connect()
        [ended] = delivered.wait_for(ConnectionStateChanged, lambda e: not e.connected)
    assert ended.connection == "execution-post"
    assert ended.reason.startswith("FrameTooLargeError: a WebSocket message of 16777216 bytes "
                                   "exceeds the maximum of 1048576 bytes")
    assert "dropping the connection" in caplog.text
    assert not transport.connected
    assert transport.post(1, "action", b"{}") is False  # nothing written on a dead channel
    assert oversize.peer_closed.wait(10)
    assert oversize.sent < 16 * MiB
    transport.close()


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(SimulatorConfig()) as s:  # synthetic flow on: books keep changing
        yield s


@pytest.mark.timeout(60)
def test_the_market_stream_reports_an_oversized_book_and_reconnects(
    sim: RunningSimulator,
) -> None:
    events, books = EventRecorder(), EventRecorder()
    config = MarketStreamConfig(link=LinkConfig(
        url=sim.ws_url, connect_timeout_s=5, backoff=Backoff(min_s=0.05, max_s=0.2),
        join_timeout_s=5, max_frame_bytes=MiB))

    def market(ctx: ChildContext) -> MarketStream:
        return MarketStream(ctx, config=config, subscriptions=SubscriptionStore(),
                            peers=MarketStreamPeers(event_sinks=("events",)))

    tree = SupervisionTree(SupervisorSpec(id="root", children=[
        ChildSpec(id="events", factory=lambda ctx: Collector(ctx, events)),
        ChildSpec(id="books", factory=lambda ctx: Collector(ctx, books)),
        ChildSpec(id="market", factory=market),
    ])).start()
    try:
        events.wait_for(FeedConnected)
        tree.handle("market").tell(SubscribeMarket(trading_pair="ETH-USD", subscriber_id="books",
                                                   channels=(MarketChannel.BOOK,)))
        books.wait_for(BookSnapshot, timeout=15)
        sim.set_faults(ws_oversize_next=1)  # 16 MiB before the next frame
        [error] = events.wait_for(FeedError, timeout=15)
        assert "exceeds the maximum of 1048576 bytes" in error.reason
        lost = events.wait_for(FeedLost)
        assert lost[0].reason.startswith("refused: ")
        events.wait_for(FeedConnected, lambda e: e.connection == 2, timeout=15)
        seen = len(books.of(BookSnapshot))
        books.wait_for(BookSnapshot, count=seen + 1, timeout=15)  # resubscribed, flowing
        assert tree.counters("market").failures == 0
    finally:
        tree.stop()
