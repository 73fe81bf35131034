"""The lifecycle table in code and in docs/order-lifecycle.md are the same table."""

from __future__ import annotations

import pytest

from actors.order_tracking import lifecycle
from messages.enums import OrderState
from tests.helpers import REPO


def _doc_rows() -> list[tuple[str, str, str, str]]:
    text = (REPO / "docs" / "order-lifecycle.md").read_text(encoding="utf-8")
    section = text.split("## Transitions", 1)[1].split("## Triggers", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("from", "---"):
            rows.append((cells[0], cells[1], cells[2], cells[3]))
    return rows


def test_docs_mirror_the_table() -> None:
    assert _doc_rows() == lifecycle.rows()


def test_terminal_states_have_no_exit_but_late_fills() -> None:
    for (state, trigger), (target, _event) in lifecycle.TABLE.items():
        if state is not None and state.is_terminal:
            assert trigger is lifecycle.Trigger.LATE_FILL
            assert target == state


def test_every_state_is_reachable_from_track() -> None:
    reachable = {OrderState.PENDING_CREATE, OrderState.OPEN}
    changed = True
    while changed:
        changed = False
        for (state, _trigger), (target, _event) in lifecycle.TABLE.items():
            if state in reachable and isinstance(target, OrderState) and target not in reachable:
                reachable.add(target)
                changed = True
    assert reachable == set(OrderState)


def test_restore_requires_a_restorable_state() -> None:
    with pytest.raises(ValueError, match="restore"):
        lifecycle.transition(OrderState.PENDING_CANCEL, lifecycle.Trigger.CANCEL_REJECTED,
                             OrderState.FILLED)
    assert lifecycle.transition(
        OrderState.PENDING_CANCEL, lifecycle.Trigger.CANCEL_REJECTED, OrderState.OPEN
    ) is not None
