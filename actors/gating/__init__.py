"""The pre-trade gate's logic (the `actors.risk_gate` actor is its thin shell).

* `core`: `GateCore` — a strategy's commands in; normalised, risk-checked commands (or denials)
  out to the order tracker.
* `normalize`: prices and sizes the venue can take, market-order pricing, per-strategy submit
  rates, the fat-finger band (`RiskConfig`).
* `pressure`: `BackPressure` — refuses new orders while the signer's backlog would outlive them.
"""
