"""Per-signer nonce rules (PROTOCOL §13).

A nonce is accepted when it lies in (now − 2 days, now + 1 day), was never used by that signer,
and — once the signer has 100 stored nonces — is greater than the smallest of them. The 100
highest nonces are kept.
"""

from __future__ import annotations

import heapq

MS_PER_DAY = 86_400_000
KEPT = 100


class NonceTracker:
    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._heaps: dict[str, list[int]] = {}
        self._sets: dict[str, set[int]] = {}

    def check(self, signer: str, nonce: int, now_ms: int) -> str | None:
        """The venue's error text if ``nonce`` may not be used now, else None."""
        if nonce <= now_ms - 2 * MS_PER_DAY:
            return f"Invalid nonce: nonce too low {nonce} (must be within 2 days of now)"
        if nonce >= now_ms + MS_PER_DAY:
            return f"Invalid nonce: nonce too high {nonce} (must be within 1 day of now)"
        used = self._sets.get(signer)
        if used is not None and nonce in used:
            return f"Invalid nonce: duplicate nonce {nonce}"
        heap = self._heaps.get(signer)
        if heap is not None and len(heap) >= self._kept and nonce <= heap[0]:
            return f"Invalid nonce: nonce too low {nonce} < {heap[0]}"
        return None

    def use(self, signer: str, nonce: int) -> None:
        """Record ``nonce`` (after `check` said it is fine)."""
        heap = self._heaps.setdefault(signer, [])
        used = self._sets.setdefault(signer, set())
        heapq.heappush(heap, nonce)
        used.add(nonce)
        if len(heap) > self._kept:
            used.discard(heapq.heappop(heap))

    def forget(self, signer: str) -> None:
        """Drop a signer's nonce set (a replaced agent wallet is pruned like on the venue)."""
        self._heaps.pop(signer, None)
        self._sets.pop(signer, None)
