"""ZMQ consumers of the runtime's order events, each recording what it saw in an `EventRecord`.

When the project's subscriber library (``actors.publishing.subscriber.EventSubscriber``: live
events plus a replay of what a consumer missed) is present, consumers use it, as another
process that must not miss an event would; otherwise they fall back to a raw SUB socket, and
the summary says so (a raw SUB cannot get back what it missed).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections import Counter
from typing import Any

import orjson
import zmq

from .judge import EventRecord

log = logging.getLogger(__name__)
TOPIC = "orders.hyperliquid."


def library() -> Any | None:
    """The subscriber library's class, or None when this checkout has none."""
    try:
        module = importlib.import_module("actors.publishing.subscriber")
    except ImportError:
        return None
    return getattr(module, "EventSubscriber", None)


class RawSubscriber(threading.Thread):
    """A plain SUB socket: gets what arrives while it is connected, nothing else."""

    mode = "raw SUB socket (no replay)"

    def __init__(self, name: str, endpoint: str, record: EventRecord) -> None:
        super().__init__(name=f"soak-sub-{name}", daemon=True)
        self.endpoint = endpoint
        self.record = record
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.error: str | None = None
        self.notices: Counter[str] = Counter()
        self.notice_samples: list[str] = []

    def run(self) -> None:
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        sock = context.socket(zmq.SUB)
        try:
            sock.setsockopt(zmq.RCVHWM, 0)  # never drop on our side
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SUBSCRIBE, TOPIC.encode())
            sock.connect(self.endpoint)
            self.ready.set()
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            while not self.stop_event.is_set():
                if not poller.poll(200):
                    continue
                while True:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self._observe(frames)
        except zmq.ZMQError as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("subscriber %s failed: %s", self.name, exc)
        finally:
            sock.close(linger=0)
            self.ready.set()

    def _observe(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            self.record.malformed += 1
            return
        try:
            body = orjson.loads(frames[1])
        except orjson.JSONDecodeError:
            self.record.malformed += 1
            return
        if isinstance(body, dict):
            self.record.observe(frames[0].decode(errors="replace"), body)
        else:
            self.record.malformed += 1

    def stop(self) -> None:
        self.stop_event.set()


class LibrarySubscriber(threading.Thread):
    """The project's subscriber: live events, plus a replay of what it missed when the runtime
    publishes a replay endpoint (``after=0``: from the first event, even when started late)."""

    def __init__(self, name: str, endpoint: str, record: EventRecord, cls: Any,
                 replay: str | None) -> None:
        super().__init__(name=f"soak-sub-{name}", daemon=True)
        self.endpoint = endpoint
        self.replay = replay
        self.record = record
        self.cls = cls
        self.mode = ("actors.publishing.subscriber.EventSubscriber with replay" if replay
                     else "actors.publishing.subscriber.EventSubscriber, live only (the "
                          "runtime has no replay endpoint)")
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.error: str | None = None
        self.notices: Counter[str] = Counter()
        self.notice_samples: list[str] = []

    def _notice(self, notice: Any) -> None:
        kind = str(getattr(notice, "kind", "?"))
        self.notices[kind] += 1
        if len(self.notice_samples) < 10:
            self.notice_samples.append(f"{kind}: {getattr(notice, 'text', notice)}")

    def run(self) -> None:
        try:
            subscriber = self.cls(self.endpoint, self.replay, topics=(TOPIC,), after=0,
                                  on_notice=self._notice)
        except (TypeError, ValueError, zmq.ZMQError) as exc:
            self.error = f"could not create EventSubscriber: {exc}"
            self.ready.set()
            return
        try:
            self.ready.set()
            while not self.stop_event.is_set():
                event = subscriber.next(timeout_s=0.2)
                if event is None:
                    continue
                if isinstance(event.body, dict):
                    self.record.observe(event.topic, event.body, replayed=bool(event.replayed))
                else:
                    self.record.malformed += 1
        except zmq.ZMQError as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            subscriber.close()

    def stop(self) -> None:
        self.stop_event.set()


Subscriber = RawSubscriber | LibrarySubscriber


def make(name: str, endpoint: str, record: EventRecord, *, replay: str | None,
         use_library: bool = True) -> Subscriber:
    cls = library() if use_library else None
    if cls is not None:
        return LibrarySubscriber(name, endpoint, record, cls, replay)
    return RawSubscriber(name, endpoint, record)
