"""Execution's logic: order normalisation and risk, request budgets, in-flight requests."""
