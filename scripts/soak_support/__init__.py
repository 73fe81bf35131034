"""``scripts/soak``: a black-box soak of the runtime with the venue as the judge.

Modules: `options` (command line and the seeded plan), `venue` (the local exchange as a
subprocess and its control routes), `runtime` (``scripts/run`` as a subprocess: start,
``kill -9``, clean stop, RSS), `subscribers` (ZMQ consumers recording order events), `judge`
(pure comparison and counting), `evidence` (what the venue says, through the official SDK),
`drive` (the timeline) and `report` (JSON and human summaries). See docs/operations.md, "Soak".
"""
