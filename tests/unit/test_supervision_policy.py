"""Pure supervision policy: plans per strategy and restart type, intensity, back-off."""

from __future__ import annotations

import random

import pytest

from supervision.policy import (
    Backoff,
    BackoffTracker,
    ChildState,
    ChildStatus,
    FailurePlan,
    IntensityWindow,
    Restart,
    Strategy,
    plan_exit,
    should_restart,
)

P, T, TMP = Restart.PERMANENT, Restart.TRANSIENT, Restart.TEMPORARY
RUN, DOWN, GONE = ChildState.RUNNING, ChildState.DOWN, ChildState.REMOVED


def kids(*specs: tuple[str, Restart, ChildState]) -> list[ChildStatus]:
    return [ChildStatus(id=i, restart=r, state=s) for i, r, s in specs]


CHAIN = kids(("a", P, RUN), ("b", P, RUN), ("c", P, RUN), ("d", P, RUN))


def test_one_for_one_restarts_only_the_failed_child() -> None:
    plan = plan_exit(Strategy.ONE_FOR_ONE, CHAIN, "b", abnormal=True)
    assert plan == FailurePlan(restart=True, stop=(), start=("b",), remove=())


def test_rest_for_one_stops_later_children_in_reverse_and_restarts_in_order() -> None:
    plan = plan_exit(Strategy.REST_FOR_ONE, CHAIN, "b", abnormal=True)
    assert plan.stop == ("d", "c")
    assert plan.start == ("b", "c", "d")


def test_one_for_all_stops_all_others_in_reverse_and_restarts_all_in_order() -> None:
    plan = plan_exit(Strategy.ONE_FOR_ALL, CHAIN, "c", abnormal=True)
    assert plan.stop == ("d", "b", "a")
    assert plan.start == ("a", "b", "c", "d")


def test_restart_types_follow_otp() -> None:
    assert should_restart(P, abnormal=False)
    assert should_restart(P, abnormal=True)
    assert should_restart(T, abnormal=True)
    assert not should_restart(T, abnormal=False)
    assert not should_restart(TMP, abnormal=True)
    assert not should_restart(TMP, abnormal=False)


@pytest.mark.parametrize("strategy", list(Strategy))
def test_a_child_that_is_not_restarted_affects_no_sibling(strategy: Strategy) -> None:
    children = kids(("a", P, RUN), ("t", TMP, RUN), ("u", T, RUN), ("z", P, RUN))
    assert plan_exit(strategy, children, "t", abnormal=True) == FailurePlan(
        restart=False, remove=("t",)
    )
    assert plan_exit(strategy, children, "u", abnormal=False) == FailurePlan(
        restart=False, remove=("u",)
    )


def test_temporary_siblings_terminated_by_a_strategy_are_removed_not_restarted() -> None:
    children = kids(("a", P, RUN), ("t", TMP, RUN), ("u", T, RUN), ("z", P, RUN))
    plan = plan_exit(Strategy.ONE_FOR_ALL, children, "a", abnormal=True)
    assert plan.stop == ("z", "u", "t")
    assert plan.start == ("a", "u", "z")
    assert plan.remove == ("t",)


def test_siblings_already_down_join_the_group_and_removed_ones_stay_out() -> None:
    children = kids(("a", P, RUN), ("b", P, DOWN), ("c", P, GONE), ("d", P, RUN))
    plan = plan_exit(Strategy.ONE_FOR_ALL, children, "d", abnormal=True)
    assert plan.stop == ("a",)
    assert plan.start == ("a", "b", "d")


def test_permanent_child_exiting_normally_is_restarted() -> None:
    plan = plan_exit(Strategy.ONE_FOR_ONE, CHAIN, "a", abnormal=False)
    assert plan.restart
    assert plan.start == ("a",)


def test_unknown_child_is_an_error() -> None:
    with pytest.raises(KeyError):
        plan_exit(Strategy.ONE_FOR_ONE, CHAIN, "nope", abnormal=True)


def test_intensity_allows_exactly_intensity_restarts_within_the_period() -> None:
    window = IntensityWindow(intensity=2, period_s=5)
    assert window.record(0)
    assert window.record(1_000_000_000)
    assert not window.record(2_000_000_000)  # the third restart within 5 s


def test_intensity_forgets_restarts_older_than_the_period() -> None:
    window = IntensityWindow(intensity=1, period_s=1)
    # OTP's multiple_restarts case: a kill every 2.1 s never trips intensity 1 / 1 s.
    assert all(window.record(int(i * 2.1e9)) for i in range(10))
    assert len(window) == 1


def test_intensity_window_boundary_is_inclusive_like_otp() -> None:
    window = IntensityWindow(intensity=1, period_s=1)
    assert window.record(0)
    assert not window.record(1_000_000_000)  # R >= Now - Period keeps the restart at t=0
    window = IntensityWindow(intensity=1, period_s=1)
    assert window.record(0)
    assert window.record(1_000_000_001)


def test_intensity_zero_escalates_on_the_first_restart() -> None:
    assert not IntensityWindow(intensity=0, period_s=5).record(0)


def test_backoff_doubles_from_min_to_max_without_jitter() -> None:
    backoff = Backoff(min_s=0.05, max_s=0.4, random_factor=0)
    rng = random.Random(1)
    assert [backoff.delay_s(n, rng) for n in range(1, 7)] == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4]


def test_backoff_jitter_is_within_the_random_factor_and_seeded() -> None:
    backoff = Backoff(min_s=1, max_s=8, random_factor=0.2)
    first = [backoff.delay_s(n, random.Random(7)) for n in range(1, 6)]
    again = [backoff.delay_s(n, random.Random(7)) for n in range(1, 6)]
    assert first == again
    for n, delay in enumerate(first, start=1):
        base = backoff.base_delay_s(n)
        assert base <= delay <= base * 1.2


def test_backoff_tracker_resets_after_a_stable_run_and_gives_up_after_max_restarts() -> None:
    tracker = BackoffTracker(Backoff(min_s=1, max_s=10, random_factor=0, max_restarts=3))
    rng = random.Random(0)
    assert tracker.next_delay_s(0.1, rng) == 1
    assert tracker.next_delay_s(0.1, rng) == 2
    assert tracker.next_delay_s(5.5, rng) == 1  # ran >= (1 + 10) / 2 s: count resets
    assert tracker.next_delay_s(0.0, rng) == 2
    assert tracker.next_delay_s(0.0, rng) == 4
    assert tracker.next_delay_s(0.0, rng) is None  # a fourth consecutive restart: give up


def test_no_backoff_means_immediate_restart() -> None:
    assert BackoffTracker(None).next_delay_s(0, random.Random()) == 0


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="min_s"):
        Backoff(min_s=2, max_s=1)
    with pytest.raises(ValueError, match="1-based"):
        Backoff().base_delay_s(0)
