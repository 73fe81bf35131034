"""The order tracker's logic: lifecycle table, order records, evidence handling, persistence.

Everything here is plain Python driven by explicit inputs and an explicit ``now``; the actor in
`actors.order_tracker` is a thin shell that feeds it messages and timer ticks.
"""
