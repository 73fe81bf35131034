"""Messages a strategy actor sends itself."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class StrategyTimer:
    """A named timer a strategy set (`Strategy.schedule`) is due."""

    name: str
    ts_init: int
