"""The journal: state that must survive a crash (tracked orders, the nonce high-water mark).

Write-ahead discipline: validate a command, ``append`` its event, then apply it. Recovery at
start (``on_started``) is ``recover()``: the newest valid snapshot plus the records after it, in
order; the caller folds them into its state and then reconciles with the venue.

* Records are opaque bytes (callers msgpack-encode them with ``messages.codec``), framed with
  length + CRC32 and an explicit contiguous sequence number (see ``_format``).
* Opening scans the log and truncates a torn or corrupt tail, so the next append starts clean.
* Snapshots: temp file + fsync + ``os.replace`` + directory fsync; the newest two are kept.
  ``compact()`` rewrites the log without the records the newest snapshot covers.
* Durability: `Durability.PAGE_CACHE` (default), `Durability.group_commit(records, interval_ms)`,
  `Durability.EVERY_RECORD`.
* One writer: an exclusive ``fcntl.flock`` on ``journal.lock`` (which also records a writer
  epoch, incremented at every open); with a `Fence`, every append/snapshot/compaction checks it
  under the journal lock, and when the fence is advanced (the incarnation was replaced) the
  journal is revoked and its lock released so the next incarnation can open it.
"""

from supervision.journal._journal import Journal
from supervision.journal._types import Durability, Recovery, SyncMode

__all__ = ["Durability", "Journal", "Recovery", "SyncMode"]
