"""What the risk gate receives besides strategies' commands: the trading switch and the
signer's backlog.

`SignerBacklog` lives here because the gate is the one that acts on it: it receives every report
and reads all of it (what waits, how long the oldest has waited, when it was reported) to refuse
orders that would wait too long. Execution is told only the report a new signer incarnation sends
at start (``started``), and reads only that flag, to reset the credit it granted.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class SetTradingState:
    """Operator or risk switch: ``halted`` refuses new orders (cancels still go through)."""

    halted: bool
    reason: str
    ts_init: int


@attrs.frozen(kw_only=True)
class SignerBacklog:
    """What waits in the signer for credit (signer → risk gate, and execution at a start):
    drives back-pressure at the gate. Sent by a new signer incarnation (``started``: it holds no
    credit), when work is left waiting after a flush, and when the backlog has drained."""

    orders: int
    cancels: int
    modifies: int
    oldest_age_ns: int
    """How long the oldest waiting order has waited (0 when none waits)."""
    credit: int
    headroom: int = 0
    """Actions the budget could pay for at once beyond the credit, as execution last said."""
    started: bool = False
    ts_init: int
