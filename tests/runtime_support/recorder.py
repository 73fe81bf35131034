"""A ZMQ subscriber that records what the runtime's publisher sends."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import zmq


class EventRecorder:
    """Subscribes to some topic prefixes on the publisher and keeps every message it receives
    (topic, decoded JSON body), in arrival order."""

    def __init__(self, endpoint: str, prefixes: tuple[bytes, ...] = (b"orders.",)) -> None:
        self.endpoint = endpoint
        self.prefixes = prefixes
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context(io_threads=1)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._messages: list[tuple[str, dict[str, Any]]] = []
        self._thread = threading.Thread(target=self._run, name="zmq-recorder", daemon=True)

    def start(self) -> EventRecorder:
        self._thread.start()
        assert self._ready.wait(5.0), "the ZMQ recorder did not start"
        return self

    def _run(self) -> None:
        sock = self._context.socket(zmq.SUB)
        try:
            for prefix in self.prefixes:
                sock.setsockopt(zmq.SUBSCRIBE, prefix)
            sock.setsockopt(zmq.RCVHWM, 0)
            sock.connect(self.endpoint)
            self._ready.set()
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            while not self._stop.is_set():
                if not poller.poll(50):
                    continue
                while True:
                    try:
                        topic, body = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    with self._lock:
                        self._messages.append((topic.decode(), orjson.loads(body)))
        finally:
            sock.close(linger=0)

    def messages(self, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(t, b) for t, b in self._messages if t.startswith(prefix)]

    def bodies(self, prefix: str = "orders.") -> list[dict[str, Any]]:
        return [b for _t, b in self.messages(prefix)]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self._context.term()
