"""The per-minute limits are a continuously refilled bucket (docs/simulator.md, "Limits").
Two properties back the documented choice: every client that keeps to a sliding minute is
accepted, and no client gets more than one window's allowance plus the refill in any span."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from venues.simulator.limits import TokenBucket

WINDOW_S = 60.0
WINDOW_NS = 60_000_000_000
CAPACITY = 1200

requests = st.lists(
    st.tuples(
        st.one_of(  # the gap before it, ns; exact window boundaries included
            st.integers(min_value=0, max_value=5 * WINDOW_NS // 60),
            st.sampled_from([0, 1, WINDOW_NS // 4, WINDOW_NS - 1, WINDOW_NS, WINDOW_NS + 1]),
        ),
        st.sampled_from([1, 2, 20, 60, 150, 1200]),  # weight
    ),
    min_size=1, max_size=300,
)


def timeline(gaps_and_weights: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    now = 0
    for gap, weight in gaps_and_weights:
        now += gap
        out.append((now, weight))
    return out


def sliding_minute_admits(sequence: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """What a client that never exceeds the allowance within any minute would send: a request
    goes out only if the minute ending at it stays within the allowance."""
    sent: list[tuple[int, int]] = []
    for t, weight in sequence:
        recent = sum(w for s, w in sent if s > t - WINDOW_NS)
        if recent + weight <= CAPACITY:
            sent.append((t, weight))
    return sent


@settings(max_examples=200, deadline=None)
@given(requests)
def test_every_sliding_minute_client_is_accepted(raw: list[tuple[int, int]]) -> None:
    bucket = TokenBucket(CAPACITY, WINDOW_S, now_ns=0)
    for t, weight in sliding_minute_admits(timeline(raw)):
        assert bucket.take(weight, t), (t, weight)


@settings(max_examples=200, deadline=None)
@given(requests)
def test_no_span_gets_more_than_the_allowance_plus_the_refill(
    raw: list[tuple[int, int]],
) -> None:
    bucket = TokenBucket(CAPACITY, WINDOW_S, now_ns=0)
    accepted = [(t, w) for t, w in timeline(raw) if bucket.take(w, t)]
    for i, (start, _) in enumerate(accepted):
        total = 0
        for t, weight in accepted[i:]:
            total += weight
            # Integer arithmetic: total <= CAPACITY + CAPACITY * (t - start) / WINDOW_NS.
            assert total * WINDOW_NS <= CAPACITY * WINDOW_NS + CAPACITY * (t - start)
