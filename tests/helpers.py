"""Shared test helpers: the location of ``../shared`` and bounded waits.

Threads other than the test's (servers, actors, readers) fill lists the test reads. A test
must never read such shared state before it waited for it: ``eventually(condition)`` for a
condition, ``wait_for_item(items, index)`` for one element of a list another thread appends
to (a server's connections, an actor's incarnations, a recorder's messages). Indexing such a
list right after the action that causes the append is a race the test loses under load."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PERPETUUM_SHARED", REPO.parent / "shared")).resolve()
VECTORS = SHARED / "hyperliquid" / "vectors"
RECORDED = SHARED / "hyperliquid" / "recorded"


def load_vectors(name: str) -> dict[str, Any]:
    with open(VECTORS / name, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def load_recorded(name: str) -> Any:
    with open(RECORDED / name, encoding="utf-8") as fh:
        return json.load(fh)


class EventuallyTimeoutError(AssertionError):
    pass


def eventually(
    condition: Callable[[], object],
    timeout: float = 5.0,
    interval: float = 0.002,
    message: str = "",
) -> Any:
    """Wait until ``condition()`` is truthy and return its value; fail after ``timeout`` s.

    This is the one sanctioned polling wait in the suite: it is bounded and it re-checks the
    condition rather than assuming that some time is enough.
    """
    deadline = time.monotonic() + timeout
    waiter = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise EventuallyTimeoutError(message or f"condition not met within {timeout}s")
        waiter.wait(interval)


def wait_for_item(
    items: Callable[[], Sequence[T]],
    index: int,
    timeout: float = 5.0,
    message: str = "",
) -> T:
    """Element ``index`` of a sequence another thread fills, once it exists (a negative index
    counts from the end once ``-index`` elements exist). ``items`` is called again at each
    check, so it may return a fresh snapshot (a property copying under a lock)."""
    need = index + 1 if index >= 0 else -index

    def ready() -> Sequence[T] | None:
        found = items()
        return found if len(found) >= need else None

    found: Sequence[T] = eventually(
        ready, timeout=timeout,
        message=message or f"no element {index} within {timeout}s (have {len(items())})")
    return found[index]
