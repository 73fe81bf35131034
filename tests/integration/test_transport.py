"""The HTTP transport against a real server: keep-alive reuse, and a server that went away."""

from __future__ import annotations

import queue

import orjson
import pytest

from messages.execution import ResponseReceived
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
