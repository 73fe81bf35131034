"""Fencing: an incarnation that has been replaced cannot perform side effects.

A Python thread cannot be killed, so a hung incarnation is abandoned rather than stopped. It may
wake up later and try to write; fencing makes that write fail. Each child slot owns one
`FenceAuthority` that outlives incarnations; each incarnation gets a `Fence` carrying the epoch it
was started with. When the supervisor retires an incarnation (death or abandonment) it advances the
authority's epoch, after which every older `Fence` reports ``is_current == False`` and ``check()``
raises `FencedError`.

``check()`` is a cheap read and leaves a tiny window (the epoch may advance right after the check).
Writers that must close the window run the write inside ``with fence.guard():`` — ``advance()``
waits for guarded sections to finish (bounded by ``guard_timeout_s``). Resources such as the
journal register a revocation callback with `Fence.on_revoke`; ``advance()`` runs the callbacks of
older epochs so the replaced incarnation's resources are released (its journal lock, for one) and
the next incarnation can take them over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from supervision.errors import FencedError

log = logging.getLogger(__name__)


class FenceAuthority:
    """The per-child source of truth for which epoch may perform side effects."""

    def __init__(self, name: str, guard_timeout_s: float = 1.0) -> None:
        self.name = name
        self._epoch = 0
        self._lock = threading.RLock()
        self._guard_timeout_s = guard_timeout_s
        self._revocations: list[tuple[int, Callable[[], None]]] = []

    @property
    def epoch(self) -> int:
        return self._epoch

    def issue(self) -> Fence:
        """Advance the epoch and return the fence of the new incarnation."""
        return Fence(self, self.advance())

    def advance(self) -> int:
        """Invalidate every fence issued so far; returns the new epoch.

        Waits (bounded) for guarded sections in progress, then runs the revocation callbacks
        registered under older epochs.
        """
        acquired = self._lock.acquire(timeout=self._guard_timeout_s)
        if not acquired:
            log.error(
                "fence %s: a guarded section of a replaced incarnation is still running after "
                "%.1fs; advancing the epoch anyway",
                self.name,
                self._guard_timeout_s,
            )
        try:
            self._epoch += 1
            new_epoch = self._epoch
            stale = [cb for epoch, cb in self._revocations if epoch < new_epoch]
            self._revocations = [(e, cb) for e, cb in self._revocations if e >= new_epoch]
        finally:
            if acquired:
                self._lock.release()
        for callback in stale:
            try:
                callback()
            except Exception:
                log.exception("fence %s: a revocation callback failed", self.name)
        return new_epoch

    def _register(self, epoch: int, callback: Callable[[], None]) -> bool:
        with self._lock:
            if epoch != self._epoch:
                return False
            self._revocations.append((epoch, callback))
            return True

    def _unregister(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._revocations = [(e, cb) for e, cb in self._revocations if cb is not callback]


class Fence:
    """What one incarnation holds: ``check()`` before every side effect."""

    __slots__ = ("_authority", "epoch")

    def __init__(self, authority: FenceAuthority, epoch: int) -> None:
        self._authority = authority
        self.epoch = epoch

    def __repr__(self) -> str:
        return f"Fence({self._authority.name!r}, epoch={self.epoch}, current={self.is_current})"

    @property
    def name(self) -> str:
        return self._authority.name

    @property
    def is_current(self) -> bool:
        return self._authority._epoch == self.epoch

    def check(self) -> None:
        """Raise `FencedError` if this incarnation has been replaced."""
        if self._authority._epoch != self.epoch:
            raise FencedError(
                f"{self._authority.name}: incarnation epoch {self.epoch} has been replaced "
                f"(current epoch {self._authority._epoch}); side effect refused"
            )

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Hold the epoch steady while the body performs its side effect."""
        with self._authority._lock:
            self.check()
            yield

    def on_revoke(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` when this fence is invalidated; returns an unregister function.

        If the fence is already stale the callback runs at once (in the caller's thread).
        """
        if not self._authority._register(self.epoch, callback):
            callback()

        def unregister() -> None:
            self._authority._unregister(callback)

        return unregister
