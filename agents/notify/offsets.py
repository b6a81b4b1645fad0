"""Which consumer offsets may be committed. Pure: no Kafka.

A record's offset may be committed only once every delivery of it and of every
record before it on its partition is done (delivered, known as delivered, or
dead-lettered). Deliveries finish out of order — a webhook answers while the mail
server is down — so each partition keeps its records in offset order with the number
of deliveries still open, and the committable position is the first open one.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["OffsetTracker"]


class OffsetTracker:
    def __init__(self) -> None:
        self._open: dict[int, OrderedDict[int, int]] = {}
        # Per partition: the offset after the last record whose work is all done.
        self._done_up_to: dict[int, int] = {}
        self._committed: dict[int, int] = {}
        # Bumped when a partition is revoked: a delivery that finishes later must not
        # count against the records of a later assignment of that partition.
        self._epochs: dict[int, int] = {}

    def epoch(self, partition: int) -> int:
        return self._epochs.get(partition, 0)

    def add(self, partition: int, offset: int, deliveries: int) -> None:
        """A record was read, with `deliveries` deliveries still to finish."""
        records = self._open.setdefault(partition, OrderedDict())
        records[offset] = deliveries
        self._advance(partition)

    def finish(self, partition: int, offset: int, epoch: int = 0) -> None:
        """One delivery of the record at `offset` (read in `epoch`) is done."""
        records = self._open.get(partition)
        if epoch != self.epoch(partition) or records is None or offset not in records:
            return  # its partition was revoked meanwhile
        records[offset] -= 1
        self._advance(partition)

    def _advance(self, partition: int) -> None:
        records = self._open[partition]
        while records:
            offset, remaining = next(iter(records.items()))
            if remaining > 0:
                break
            records.popitem(last=False)
            self._done_up_to[partition] = offset + 1

    def open_records(self) -> int:
        return sum(sum(1 for n in r.values() if n > 0) for r in self._open.values())

    def position(self, partition: int) -> int | None:
        """The offset a restarted consumer would resume from, once committed."""
        return self._done_up_to.get(partition)

    def to_commit(self) -> dict[int, int]:
        """Positions that moved since the last `committed` call."""
        return {
            p: offset for p, offset in self._done_up_to.items() if self._committed.get(p) != offset
        }

    def committed(self, positions: dict[int, int]) -> None:
        self._committed.update(positions)

    def revoke(self, partitions: set[int]) -> None:
        """Forget revoked partitions: their next owner resumes from the last commit."""
        for p in partitions:
            self._open.pop(p, None)
            self._done_up_to.pop(p, None)
            self._committed.pop(p, None)
            self._epochs[p] = self.epoch(p) + 1
