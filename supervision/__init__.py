"""Supervision on pykka: supervisors, stable handles, fencing, the journal, injected time."""
