"""ZMQ subscribers that record what the runtime's publisher sends: raw (live only) and through
the subscriber library (live + replay)."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import zmq

from actors.publishing.subscriber import EventSubscriber, Notice, ReceivedEvent


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


class ReplayRecorder:
    """The subscriber library (`EventSubscriber`: live events + replay of what was missed) in a
    thread, keeping every order event it yields and every notice it reports."""

    def __init__(self, endpoint: str, replay_endpoint: str, *, after: int | None = 0) -> None:
        self.endpoint = endpoint
        self.replay_endpoint = replay_endpoint
        self.after = after
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._events: list[ReceivedEvent] = []
        self._notices: list[Notice] = []
        self._thread = threading.Thread(target=self._run, name="zmq-replay-recorder",
                                        daemon=True)

    def start(self) -> ReplayRecorder:
        self._thread.start()
        assert self._ready.wait(5.0), "the replay recorder did not start"
        return self

    def _notice(self, notice: Notice) -> None:
        with self._lock:
            self._notices.append(notice)

    def _run(self) -> None:
        with EventSubscriber(self.endpoint, self.replay_endpoint, after=self.after,
                             on_notice=self._notice) as sub:
            self._ready.set()
            while not self._stop.is_set():
                event = sub.next(timeout_s=0.05)
                if event is not None and event.sequence is not None:
                    with self._lock:
                        self._events.append(event)

    def sequences(self) -> list[int]:
        with self._lock:
            return [e.sequence for e in self._events if e.sequence is not None]

    def unfillable(self) -> list[Notice]:
        with self._lock:
            return [n for n in self._notices if n.kind == "unfillable"]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
