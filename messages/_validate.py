"""Validators shared by the edge messages (commands); internal events are not validated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def positive_decimal(_inst: Any, attribute: Any, value: Decimal) -> None:
    if type(value) is not Decimal:  # runtime guard: callers are untyped strategies
        raise TypeError(f"{attribute.name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{attribute.name} must be a finite Decimal > 0, got {value}")


def optional_positive_decimal(inst: Any, attribute: Any, value: Decimal | None) -> None:
    if value is not None:
        positive_decimal(inst, attribute, value)


def non_negative_decimal(_inst: Any, attribute: Any, value: Decimal) -> None:
    if type(value) is not Decimal:
        raise TypeError(f"{attribute.name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite() or value < 0:
        raise ValueError(f"{attribute.name} must be a finite Decimal >= 0, got {value}")
