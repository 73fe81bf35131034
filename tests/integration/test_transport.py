"""The HTTP transport against a real server: keep-alive reuse, and a server that went away."""

from __future__ import annotations

import queue

import orjson
import pytest

from messages.connection import ResponseReceived
from venues.hyperliquid import requests
from venues.hyperliquid.transport import HttpTransport
from venues.simulator import start_simulator


@pytest.mark.timeout(60)
def test_a_connection_closed_by_a_restarted_server_is_not_a_failed_request() -> None:
    answers: queue.Queue[object] = queue.Queue()
    with start_simulator() as sim:
        transport = HttpTransport(sim.base_url, answers.put, lambda: 0, workers=1)
        try:
            transport.post(1, "/info", orjson.dumps(requests.meta()))
            first = answers.get(timeout=10)
            assert isinstance(first, ResponseReceived)
            assert first.status == 200
            sim.restart()  # the server side of the kept-alive connection is gone
            transport.post(2, "/info", orjson.dumps(requests.meta()))
            second = answers.get(timeout=10)
            assert isinstance(second, ResponseReceived)
            assert second.request_id == 2
            assert second.status == 200, second.error
            assert orjson.loads(second.body)["universe"]
        finally:
            transport.close()


@pytest.mark.timeout(30)
def test_an_unreachable_venue_is_reported_as_never_sent() -> None:
    answers: queue.Queue[object] = queue.Queue()
    with start_simulator() as sim:
        url = sim.base_url
    transport = HttpTransport(url, answers.put, lambda: 0, workers=1, timeout_s=2)
    try:
        transport.post(7, "/exchange", b"{}")
        answer = answers.get(timeout=10)
        assert isinstance(answer, ResponseReceived)
        assert answer.status == 0
        assert not answer.written
        assert "Connection" in answer.error or "refused" in answer.error.lower()
    finally:
        transport.close()


@pytest.mark.timeout(60)
def test_the_post_channel_survives_frames_that_are_not_utf8_or_not_json() -> None:
    """Mangled frames (cut JSON, bytes that are not UTF-8, JSON of the wrong shape) are noise
    to the post channel: it stays connected and answers the posts that follow (before, a frame
    that was not UTF-8 killed its reader thread and dropped the connection)."""
    from messages.connection import ConnectionStateChanged
    from venues.hyperliquid.transport import WsPostTransport

    delivered: queue.Queue[object] = queue.Queue()
    with start_simulator() as sim:
        transport = WsPostTransport(sim.ws_url, delivered.put, lambda: 0, timeout_s=5)
        transport.connect()
        try:
            sim.set_faults(ws_mangle_next=3)  # the next three frames, each kind in turn
            for request_id in range(1, 4):  # their answers are the frames mangled
                assert transport.post(request_id, "info", orjson.dumps(requests.meta()))
            for request_id in range(4, 6):
                assert transport.post(request_id, "info", orjson.dumps(requests.meta()))
            answered: set[int] = set()
            while len(answered) < 2:
                message = delivered.get(timeout=10)
                assert not isinstance(message, ConnectionStateChanged), message
                assert isinstance(message, ResponseReceived)
                answered.add(message.request_id)
            assert answered == {4, 5}
            assert transport.connected
            assert sim.call(lambda core: core.faults.counts["ws_mangled"]) == 3
        finally:
            transport.close()
