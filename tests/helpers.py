"""Shared test helpers: the location of ``../shared`` and a bounded polling wait."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
