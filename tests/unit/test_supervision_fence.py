"""Fences: a replaced incarnation's side effects are refused."""

from __future__ import annotations

import threading

import pytest

from supervision import FencedError
from supervision.fence import Fence, FenceAuthority


def current(fence: Fence) -> bool:
    return fence.is_current


def test_fence_is_current_until_the_authority_advances() -> None:
    authority = FenceAuthority("tracker")
    first = authority.issue()
    assert current(first)
    first.check()
    second = authority.issue()
    assert not current(first)
    assert current(second)
    assert second.epoch > first.epoch
    with pytest.raises(FencedError, match="tracker"):
        first.check()
    second.check()


def test_guard_refuses_a_stale_fence_and_advance_waits_for_a_guarded_section() -> None:
    authority = FenceAuthority("publisher")
    fence = authority.issue()
    inside = threading.Event()
    leave = threading.Event()
    advanced = threading.Event()

    def writer() -> None:
        with fence.guard():
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=writer)
    thread.start()
    assert inside.wait(5)
    def advance() -> None:
        authority.advance()
        advanced.set()

    advancer = threading.Thread(target=advance)
    advancer.start()
    assert not advanced.wait(0.05)  # blocked behind the guarded write
    leave.set()
    assert advanced.wait(5)
    thread.join(5)
    advancer.join(5)
    with pytest.raises(FencedError), fence.guard():
        pytest.fail("a stale fence entered its guarded section")


def test_revocation_callbacks_run_when_the_fence_goes_stale() -> None:
    authority = FenceAuthority("journal")
    fence = authority.issue()
    calls: list[str] = []
    fence.on_revoke(lambda: calls.append("revoked"))
    unregister = fence.on_revoke(lambda: calls.append("never"))
    unregister()
    assert calls == []
    newer = authority.issue()
    assert calls == ["revoked"]
    newer.on_revoke(lambda: calls.append("newer"))
    fence.on_revoke(lambda: calls.append("late"))  # already stale: runs at once
    assert calls == ["revoked", "late"]


def test_a_failing_revocation_callback_does_not_stop_the_others() -> None:
    authority = FenceAuthority("x")
    fence = authority.issue()
    calls: list[int] = []

    def boom() -> None:
        raise RuntimeError("boom")

    fence.on_revoke(boom)
    fence.on_revoke(lambda: calls.append(1))
    authority.advance()
    assert calls == [1]
