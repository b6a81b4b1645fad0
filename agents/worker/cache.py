"""The device states decided since the last commit, newest per key, written at the commit.

Most of a fleet reports more than once between two commits of the worker's input offsets
(one a second): each record changes its device's state, and writing every change to the
store and the changelog wrote 272 k states for 300 k records, each one then read by every
reader of the changelog. Kafka Streams' record cache answers that: a state change waits in
the cache, replacing the one before it for the same key, and the cache is flushed — store,
then changelog — before the offsets are committed. `StateCache` does that for the worker:

* a batch's states enter the cache only once its alerts, statuses, dead letters and
  re-routed records are acknowledged (docs/architecture.md §5), so every state flushed
  records only decisions the broker already holds;
* the worker's consumer flushes the cache before it commits offsets, so a committed
  offset still implies that the states of its records are in the changelog; a crash
  before the flush loses only states whose records are read again, and decided again
  (the same alert ids), from the committed offsets;
* reads go through the cache first (`get`), so the next batch sees the newest state;
* a flush writes the store for every taken key before it awaits anything (a read never
  finds a state in neither place) and flushes run one at a time (two flushes interleaving
  their changelog batches could leave an older state last on a partition);
* the cache flushes on its own once it holds `limit` keys, which bounds its memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

__all__ = ["DEFAULT_LIMIT", "StateCache"]

log = logging.getLogger(__name__)

# Keys held before the cache flushes without waiting for the commit: ~1 KB a state, about
# the 10 MB of Kafka Streams' default cache.
DEFAULT_LIMIT = 10_000

Items = list[tuple[bytes, bytes]]


class StateCache:
    """Pending state writes per partition (key -> encoded state), coalesced per key.

    `write_store(partition, items)` puts items in the local store, at once;
    `send_changelog(partition, items)` sends them to the partition's changelog and
    returns once the broker has acknowledged them.
    """

    def __init__(
        self,
        write_store: Callable[[int, Items], None],
        send_changelog: Callable[[int, Items], Awaitable[None]],
        limit: int = DEFAULT_LIMIT,
    ) -> None:
        self._write_store = write_store
        self._send_changelog = send_changelog
        self.limit = limit
        self._pending: dict[int, dict[bytes, bytes]] = {}
        self._size = 0
        self._flushing = asyncio.Lock()
        # What was put and what was flushed (a put replacing a pending key is coalesced).
        self.puts = 0
        self.flushed = 0

    def __len__(self) -> int:
        return self._size

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The pending state of `key`, or None when none waits (read the store)."""
        pending = self._pending.get(partition)
        return None if pending is None else pending.get(key)

    def pending(self, partition: int) -> Mapping[bytes, bytes]:
        """The states of one partition waiting to be written."""
        return self._pending.get(partition, {})

    def put(self, writes: Mapping[str, bytes], homes: Mapping[str, int]) -> None:
        """Hold a carried-out batch's state writes (key -> encoded state, and each key's
        partition); a key already pending is replaced."""
        by_partition = self._pending
        size = self._size
        for key, value in writes.items():
            partition = homes[key]
            pending = by_partition.get(partition)
            if pending is None:
                pending = by_partition[partition] = {}
            raw = key.encode()
            if raw not in pending:
                size += 1
            pending[raw] = value
        self._size = size
        self.puts += len(writes)

    @property
    def full(self) -> bool:
        return self._size >= self.limit

    async def flush(self) -> int:
        """Write every pending state: all to the store first, then to the changelog;
        return once the broker has acknowledged them. Returns the states written."""
        async with self._flushing:
            taken, self._pending, self._size = self._pending, {}, 0
            items = {partition: list(pending.items()) for partition, pending in taken.items()}
            for partition, written in items.items():
                self._write_store(partition, written)
            sends = [self._send_changelog(p, written) for p, written in items.items() if written]
            await asyncio.gather(*sends)
            count = sum(len(written) for written in items.values())
            self.flushed += count
            return count

    def drop(self, partitions: Iterable[int] | None = None) -> int:
        """Forget the pending states of `partitions` (all: None) without writing them:
        partitions handed to another worker, whose records it reads again from the
        committed offsets. Returns the states forgotten."""
        numbers = list(self._pending) if partitions is None else list(partitions)
        dropped = 0
        for number in numbers:
            dropped += len(self._pending.pop(number, {}))
        self._size -= dropped
        if dropped:
            log.info("%d pending state(s) of revoked partitions forgotten", dropped)
        return dropped
