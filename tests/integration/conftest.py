"""Fixtures shared by the integration modules (a module may define its own of the same name)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conformance_support import start_sim
from venues.simulator import RunningSimulator


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    """The local exchange in deterministic mode, stopped after the test."""
    with start_sim() as s:
        yield s
