"""Runtime assembly: configuration, the supervision tree of the five actors plus strategies,
and the launcher behind ``scripts/run``."""
