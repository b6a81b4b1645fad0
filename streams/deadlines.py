"""Which devices are due: a per-partition index of `next_deadline`s.

A tick must cost O(devices due), not O(devices): a heap ordered by deadline, with lazy
deletion (a device rescheduled leaves its old entry behind, recognized as stale when
popped because it no longer matches `scheduled`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime

__all__ = ["DeadlineIndex"]


class DeadlineIndex:
    __slots__ = ("_heap", "scheduled")

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        # device -> its current deadline (epoch seconds); the source of truth.
        self.scheduled: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self.scheduled)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self.scheduled

    def schedule(self, device_id: str, deadline: datetime | None) -> None:
        """Set (or clear, with None) the device's deadline."""
        if deadline is None:
            self.scheduled.pop(device_id, None)
            return
        at = deadline.timestamp()
        if self.scheduled.get(device_id) == at:
            return
        self.scheduled[device_id] = at
        heapq.heappush(self._heap, (at, device_id))
        # Stale entries pile up when devices are rescheduled often; rebuild when they
        # outnumber the live ones so the heap stays O(devices).
        if len(self._heap) > 2 * len(self.scheduled) + 1024:
            self._compact()

    def pop_due(self, now: datetime) -> Iterator[str]:
        """Remove and yield every device whose deadline is at or before `now`."""
        return self._pop(now.timestamp(), inclusive=True)

    def pop_before(self, now: datetime) -> Iterator[str]:
        """Remove and yield every device whose deadline is before `now`."""
        return self._pop(now.timestamp(), inclusive=False)

    def _pop(self, limit: float, *, inclusive: bool) -> Iterator[str]:
        heap = self._heap
        scheduled = self.scheduled
        while heap and (heap[0][0] <= limit if inclusive else heap[0][0] < limit):
            at, device_id = heapq.heappop(heap)
            if scheduled.get(device_id) == at:
                del scheduled[device_id]
                yield device_id

    def due_by(self, now: datetime) -> bool:
        """Whether some device's deadline is at or before `now`."""
        at = self.next_due()
        return at is not None and at <= now.timestamp()

    def next_due(self) -> float | None:
        """The earliest live deadline (epoch seconds), dropping stale entries on the way."""
        heap = self._heap
        while heap:
            at, device_id = heap[0]
            if self.scheduled.get(device_id) == at:
                return at
            heapq.heappop(heap)
        return None

    def _compact(self) -> None:
        self._heap = [(at, device_id) for device_id, at in self.scheduled.items()]
        heapq.heapify(self._heap)
