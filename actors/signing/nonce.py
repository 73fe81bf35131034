"""Nonces: strictly increasing per signer, millisecond-based, surviving restarts.

The venue keeps the 100 highest nonces per signer and refuses duplicates, so a restarted
signer must never reuse one. The source reserves nonces in blocks: before handing out a nonce
beyond the reserved ceiling it durably records a new ceiling (``reserve_ms`` ahead), and a
restarted source starts above the recorded ceiling. One write per block keeps this off the hot
path; the nonce stays within the venue's window (T − 2 days, T + 1 day) because a block is
only seconds of clock time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


class NonceStore:
    """The reserved ceiling in a small file, written atomically (temp file, fsync, rename)."""

    def __init__(self, path: Path, check: Callable[[], None] | None = None) -> None:
        self.path = path
        self._check = check

    def read(self) -> int:
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"nonce store {self.path} is corrupt") from None

    def write(self, ceiling: int) -> None:
        if self._check is not None:
            self._check()  # a replaced incarnation must not move the ceiling
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, str(ceiling).encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


class NonceSource:
    def __init__(
        self, now_ms: Callable[[], int], store: NonceStore | None = None, reserve_ms: int = 10_000
    ) -> None:
        self._now_ms = now_ms
        self._store = store
        self._reserve = reserve_ms
        self._ceiling = store.read() if store is not None else 0
        self._last = self._ceiling

    @property
    def last(self) -> int:
        return self._last

    def next(self) -> int:
        nonce = max(self._now_ms(), self._last + 1)
        if self._store is not None and nonce > self._ceiling:
            ceiling = nonce + self._reserve
            self._store.write(ceiling)
            self._ceiling = ceiling
        self._last = nonce
        return nonce
