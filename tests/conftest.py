from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import SHARED

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_configure(config: pytest.Config) -> None:
    if not (SHARED / "hyperliquid" / "vectors").is_dir():
        raise pytest.UsageError(
            f"the shared vectors are missing: expected {SHARED} (set PERPETUUM_SHARED)"
        )
