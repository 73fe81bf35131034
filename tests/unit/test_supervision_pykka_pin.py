"""Pins the pykka internals supervision relies on; a pykka upgrade that changes them fails here.

We depend on: ``pykka._envelope.Envelope`` (slots ``message``/``reply_to``), ``ActorRef`` reading
``actor_inbox`` at send time from its public attribute, ``ThreadingActor._start_actor_loop``
running ``self._actor_loop`` in a thread honouring ``use_daemon_thread``, the ``_ActorStop``
message sent by ``Actor.stop()``, and ``ThreadingFuture.set`` refusing a second result.
"""

from __future__ import annotations

import inspect
import queue
import threading
from importlib.metadata import version
from typing import Any

import pykka
import pytest
from pykka._envelope import Envelope
from pykka.messages import _ActorStop


def test_pykka_major_version_is_4() -> None:
    assert version("pykka").split(".")[0] == "4"


def test_envelope_shape() -> None:
    future: pykka.Future[Any] = pykka.ThreadingFuture()
    envelope = Envelope("m", reply_to=future)
    assert envelope.message == "m"
    assert envelope.reply_to is future
    assert Envelope.__slots__ == ["message", "reply_to"]
    envelope.message = "replaced"  # LATEST_WINS rewrites queued envelopes in place
    assert envelope.message == "replaced"


def test_actor_init_builds_ref_from_inbox_and_ref_uses_its_public_inbox_attribute() -> None:
    class Probe(pykka.ThreadingActor):
        pass

    actor = Probe()
    assert actor.actor_ref.actor_inbox is actor.actor_inbox
    replacement: queue.Queue[Envelope[Any]] = queue.Queue()
    actor.actor_ref.actor_inbox = replacement
    actor.actor_ref.tell("hello")
    assert replacement.get_nowait().message == "hello"
    source = inspect.getsource(pykka.ActorRef.tell)
    assert "self.actor_inbox.put(Envelope(message))" in source


def test_start_actor_loop_runs_actor_loop_in_a_thread_with_the_daemon_flag() -> None:
    ran = threading.Event()
    seen: list[bool] = []

    class Probe(pykka.ThreadingActor):
        use_daemon_thread = True

        def _actor_loop(self) -> None:
            seen.append(threading.current_thread().daemon)
            ran.set()

    Probe()._start_actor_loop()
    assert ran.wait(5)
    assert seen == [True]


def test_actor_stop_sends_actor_stop_through_the_inbox() -> None:
    class Probe(pykka.ThreadingActor):
        pass

    actor = Probe()
    inbox: queue.Queue[Envelope[Any]] = queue.Queue()
    actor.actor_ref.actor_inbox = inbox
    actor.stop()
    assert isinstance(inbox.get_nowait().message, _ActorStop)


def test_threading_future_refuses_a_second_result() -> None:
    future: pykka.Future[Any] = pykka.ThreadingFuture()
    future.set(1)
    with pytest.raises(queue.Full):
        future.set(2)
