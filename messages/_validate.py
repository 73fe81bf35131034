"""Validators shared by the edge messages (commands); internal events are not validated.

Every Decimal field of a command is checked with ``is_finite`` before any comparison: NaN,
sNaN (whose comparisons raise ``InvalidOperation``) and ±Infinity are refused with a
``ValueError`` in the sender's thread, like zero and negative values where they are not allowed.
What is finite and positive but more than the venue can represent is refused later, at the gate
(`actors.gating.normalize`), as an order denial.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

_SHOWN = 40


def _show(value: Decimal) -> str:
    """The value for an error message, without a wall of digits."""
    text = str(value)
    if len(text) <= _SHOWN:
        return text
    return f"{value:.6E}" if value.is_finite() else text[:_SHOWN] + "..."


def _decimal(attribute: Any, value: object) -> Decimal:
    if type(value) is not Decimal:  # runtime guard: callers are untyped strategies
        raise TypeError(f"{attribute.name} must be a Decimal, not {type(value).__name__}")
    return value


def positive_decimal(_inst: Any, attribute: Any, value: Decimal) -> None:
    d = _decimal(attribute, value)
    if not d.is_finite() or d <= 0:
        raise ValueError(f"{attribute.name} must be a finite Decimal > 0, got {_show(d)}")


def optional_positive_decimal(inst: Any, attribute: Any, value: Decimal | None) -> None:
    if value is not None:
        positive_decimal(inst, attribute, value)


def non_negative_decimal(_inst: Any, attribute: Any, value: Decimal) -> None:
    d = _decimal(attribute, value)
    if not d.is_finite() or d < 0:
        raise ValueError(f"{attribute.name} must be a finite Decimal >= 0, got {_show(d)}")
