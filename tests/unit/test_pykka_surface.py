"""The parts of pykka's private surface `supervision` relies on (setup.cfg pins pykka to the
minor version tested here). If an upgrade changes any of them, this fails loudly — not the
supervision tree, subtly, at run time."""

from __future__ import annotations

import inspect
import queue
from typing import Any

import pykka
import pytest
from pykka._envelope import Envelope
from pykka.messages import _ActorStop


def test_an_envelope_carries_a_message_and_its_reply_future() -> None:
    future: pykka.Future[Any] = pykka.ThreadingFuture()
    envelope = Envelope("m", reply_to=future)
    assert (envelope.message, envelope.reply_to) == ("m", future)


def test_the_actor_thread_runs_actor_loop() -> None:
    # SupervisedActor replaces _actor_loop with its own message loop.
    assert hasattr(pykka.ThreadingActor, "_actor_loop")
    assert "self._actor_loop" in inspect.getsource(pykka.ThreadingActor._start_actor_loop)


@pytest.mark.timeout(10)
def test_stop_sends_an_actor_stop_envelope_through_the_refs_inbox() -> None:
    """SupervisedActor repoints ``actor_inbox`` (on the actor and its ref) at the slot's
    persistent mailbox, and recognises a stop by the ``_ActorStop`` message in it."""

    built: list[pykka.ThreadingActor] = []

    class Idle(pykka.ThreadingActor):
        def __init__(self) -> None:
            super().__init__()
            built.append(self)

    ref = Idle.start()
    try:
        (actor,) = built
        assert actor.actor_ref is ref
        assert ref.actor_inbox is actor.actor_inbox
        ours: queue.Queue[Envelope[Any]] = queue.Queue()
        real, ref.actor_inbox = ref.actor_inbox, ours
        ref.stop(block=False)
        envelope = ours.get(timeout=1)
        assert isinstance(envelope, Envelope)
        assert isinstance(envelope.message, _ActorStop)
        assert envelope.reply_to is not None
        ref.actor_inbox = real
    finally:
        ref.stop()
