"""`OrderIndex`: which orders are live, and which finished first, without scanning them all.

The tracker keeps up to ``retention_max_orders`` (20,000) finished orders besides the live
ones. Its tick (every 0.25 s) used to walk every one of them for deadlines and retention and
sort the finished ones to trim them: ~14 ms a tick at 20,000, and each journaled tick paid it
again when a restarted tracker replayed its journal (10 s recoveries under load, during which
the tracker serves nobody). The index keeps:

* the live orders (not terminal), walked in the committed dict's order — the order in which a
  tick visits them decides how events get numbered, so it must be the same live and in a
  replay in another process;
* a heap of finished orders by (terminal time, cloid), the order retention forgets them in.
  Entries are checked when popped (an order that was revised or forgotten leaves a stale one).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from actors.order_tracking.records import OrderRecord
from messages.ids import ClientOrderId


class OrderIndex:
    __slots__ = ("_finished", "_next_pos", "_pos", "live")

    def __init__(self) -> None:
        self.live: dict[ClientOrderId, None] = {}
        self._pos: dict[ClientOrderId, int] = {}
        """Each order's place in the committed dict's insertion order."""
        self._next_pos = 0
        self._finished: list[tuple[int, ClientOrderId]] = []

    def rebuild(self, orders: Mapping[ClientOrderId, OrderRecord]) -> None:
        self.live = {}
        self._pos = {}
        self._next_pos = 0
        self._finished = []
        for cloid, record in orders.items():
            self._place(cloid)
            self._track(cloid, None, record)

    def commit(self, orders: Mapping[ClientOrderId, OrderRecord],
               removed: Iterable[ClientOrderId],
               staged: Mapping[ClientOrderId, OrderRecord]) -> None:
        """Before ``orders`` drops ``removed`` and takes ``staged`` (as `dict.update` does)."""
        gone = set()
        for cloid in removed:
            if cloid in orders:
                gone.add(cloid)
                self._pos.pop(cloid, None)
                self.live.pop(cloid, None)
        for cloid, record in staged.items():
            old = None if cloid in gone else orders.get(cloid)
            if old is None:
                self._place(cloid)  # new, or re-added after a removal: at the end, like a dict
            self._track(cloid, old, record)
        if len(self._finished) > 2 * len(orders) + 1024:
            self._compact(orders, staged, gone)

    def live_in_order(self) -> list[ClientOrderId]:
        pos = self._pos
        return sorted(self.live, key=pos.__getitem__)

    def oldest_finished(self) -> tuple[int, ClientOrderId] | None:
        return self._finished[0] if self._finished else None

    def drop_oldest_finished(self) -> None:
        heapq.heappop(self._finished)

    # --- internals ---------------------------------------------------------------------------
    def _place(self, cloid: ClientOrderId) -> None:
        self._pos[cloid] = self._next_pos
        self._next_pos += 1

    def _track(self, cloid: ClientOrderId, old: OrderRecord | None, record: OrderRecord) -> None:
        if not record.state.is_terminal:
            self.live[cloid] = None
            return
        self.live.pop(cloid, None)
        key = record.terminal_ns or 0
        if old is None or not old.state.is_terminal or (old.terminal_ns or 0) != key:
            heapq.heappush(self._finished, (key, cloid))

    def _compact(self, orders: Mapping[ClientOrderId, OrderRecord],
                 staged: Mapping[ClientOrderId, OrderRecord], gone: set[ClientOrderId]) -> None:
        """Drop stale heap entries (the committed state is ``orders`` minus ``gone`` plus
        ``staged``)."""
        def current(cloid: ClientOrderId) -> OrderRecord | None:
            record = staged.get(cloid)
            if record is None and cloid not in gone:
                record = orders.get(cloid)
            return record

        kept = []
        seen: set[ClientOrderId] = set()
        for key, cloid in self._finished:
            record = current(cloid)
            if (record is not None and record.state.is_terminal
                    and (record.terminal_ns or 0) == key and cloid not in seen):
                kept.append((key, cloid))
                seen.add(cloid)
        heapq.heapify(kept)
        self._finished = kept
