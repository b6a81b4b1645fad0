"""The `memory://` store of the device-state table: bytes per partition, recovered in bulk.

Faust's memory store (`faust/stores/memory.py`) is one dict for every partition it
holds, standby copies included, and is rebuilt after each rebalance by Faust's
recovery, which takes the changelog the way the input topics used to come in: the
fetcher awaits `wait_first(callback(message), …)` per record, the conductor decodes
each into an `Event` and queues it, and `Recovery._slurp_changelogs` takes them back
one by one (offset bookkeeping, `on_changelog_event`, a buffer applied every
`recovery_buffer_size` events). Measured, that path replays ~6,300 changelog records
a second (docs/benchmarks.md): 270 s for 1.7 M records of 632 k devices.

`PartitionMemoryStore` keeps one dict of bytes per changelog partition and reads the
active partitions it does not hold yet itself: one aiokafka consumer with no group,
`getmany` in large fetches, the newest value of each key kept as bytes, a tombstone (no
value) deleting its key. It reports the offset it holds each partition up to as its
persisted offset, as the RocksDB store does for its files, so Faust's recovery finds
nothing left to replay (or only what was written since) and goes on as usual: standby
partitions, seeking the inputs to the committed offsets, the completion signal.

A partition's dict holds that partition's keys only, so a standby copy or another
partition's keys never show up when the worker lists one partition's devices.

**After an assignment.** Faust calls `on_rebalance` inside its partition-assignment
callback, before its recovery reads the stores' persisted offsets, and the group waits
for that callback: while it runs this member answers no rebalance, and one started
meanwhile waits for every member (reading 950 k devices there took 4.1 s,
docs/benchmarks.md). So `on_rebalance` only decides what to read
(`agents.worker.resume.changelog_reads`, from one end-offsets request, made only when a
partition is new to the store): a partition the store holds up to the changelog's end —
kept across the rebalance, written by no other worker since — is not read at all; the
others are marked unread, their persisted offset
set to where their read will stop, and read in a task of its own once the callback has
returned. Records Faust's recovery brings for an unread partition (written after that
offset) wait and are applied after the read. Until its read is done a batch with input
records of the partition waits for it in the worker's task (`Backupwatch.handle_messages`),
and the worker neither indexes it nor reports ready: nothing is decided on a state still
being read. A rebalance that
comes during a read cancels it; the partitions still assigned are read again from what
they held before, which ends in the same dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import faust
from faust.stores.base import SerializedStore
from faust.streams import current_event
from faust.types import TP, EventT
from yarl import URL

from agents.kafka.connection import KafkaConnection, connection_of
from agents.worker.resume import ChangelogRead, changelog_reads

__all__ = ["PartitionMemoryStore", "PartitionStoreTable", "read_changelog"]

log = logging.getLogger(__name__)

# One fetch may bring this much of a partition (and of all partitions together): large
# fetches keep the consumer's per-request cost small next to the records it brings.
PARTITION_FETCH_BYTES = 8 * 1024 * 1024
FETCH_BYTES = 64 * 1024 * 1024
# Records taken from the fetched batches at a time: the fetched bytes wait unparsed, so
# only this many record objects exist at once besides the values kept.
RECORDS_PER_TAKE = 10_000


async def read_changelog(
    connection: KafkaConnection,
    starts: Mapping[TP, int | None],
    partitions: Mapping[int, dict[bytes, bytes]],
    ends: Mapping[TP, int] | None = None,
) -> dict[TP, int]:
    """Apply the changelog partitions `starts` names to `partitions` (partition number
    -> key -> value), each from the offset after its start (None: from the beginning)
    up to its end offset when called (or the end offset `ends` gives, exclusive); return
    the last offset applied per partition (end - 1; -1 for an empty partition).

    Records are applied in offset order: the newest value of a key wins, a record
    without a value deletes its key, a record without a key is skipped (Faust's stores
    refuse those too).
    """
    from aiokafka import TopicPartition

    consumer = connection.consumer(
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
        fetch_max_bytes=FETCH_BYTES,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    started = time.perf_counter()
    applied = 0
    try:
        by_tp = {TopicPartition(tp.topic, tp.partition): tp for tp in starts}
        consumer.assign(list(by_tp))
        stops: dict[Any, int] = (
            {ktp: ends[tp] for ktp, tp in by_tp.items()}
            if ends is not None
            else await consumer.end_offsets(list(by_tp))
        )
        pending = set()
        for ktp, tp in by_tp.items():
            start = starts[tp]
            if start is None or start < 0:
                await consumer.seek_to_beginning(ktp)
            else:
                consumer.seek(ktp, start + 1)
            if await consumer.position(ktp) < stops[ktp]:
                pending.add(ktp)
        while pending:
            batches = await consumer.getmany(timeout_ms=200, max_records=RECORDS_PER_TAKE)
            for ktp, records in batches.items():
                stop = stops[ktp]
                if records and records[-1].offset >= stop:
                    # Fetched past the end asked for: what lies beyond is applied by
                    # whoever asked for that end.
                    records = [record for record in records if record.offset < stop]
                applied += len(records)
                data = partitions[ktp.partition]
                pop = data.pop
                for record in records:
                    key = record.key
                    if key is None:
                        continue
                    value = record.value
                    if value is None:
                        pop(key, None)
                    else:
                        data[key] = value
            for ktp in list(pending):
                if await consumer.position(ktp) >= stops[ktp]:
                    pending.discard(ktp)
                    consumer.pause(ktp)
            # Whatever else runs in the worker (its web server) gets its turn between
            # fetches.
            await asyncio.sleep(0)
        log.info(
            "read %d changelog records of %d partition(s) in %.1f s",
            applied,
            len(by_tp),
            time.perf_counter() - started,
        )
        return {tp: stops[ktp] - 1 for ktp, tp in by_tp.items()}
    finally:
        await consumer.stop()


class PartitionMemoryStore(SerializedStore[Any, Any]):
    """A memory store holding bytes per partition, recovered in bulk (module docstring).

    The worker reads and writes a partition's dict directly (`partition`); Faust's own
    paths (standby reading, `Table.__getitem__`) go through `_get`/`_set`, which pick
    the partition from the current event, as the RocksDB store does.
    """

    def __post_init__(self) -> None:
        self._partitions: dict[int, dict[bytes, bytes]] = {}
        # The changelog partitions whose dict holds every record up to the offset (the
        # store's persisted offset, which Faust's recovery resumes after).
        self._offsets: dict[TP, int] = {}
        # Assigned partitions not read yet (module docstring, "After an assignment"),
        # and the records Faust's recovery brought for them past what the read reaches,
        # applied once the read is done.
        self._unread: dict[int, tuple[TP, ChangelogRead]] = {}
        self._after_read: dict[int, list[tuple[bytes, bytes | None, int]]] = {}
        self._reading: asyncio.Task[None] | None = None
        # Set (and replaced) each time reads end, done or cancelled.
        self._read_ended = asyncio.Event()
        # Partitions read whole or in part since the worker started (a metric).
        self.partitions_read = 0

    # -- the worker's access --------------------------------------------------------

    def partition(self, number: int) -> dict[bytes, bytes]:
        """The dict of one partition's keys and values (created empty if new)."""
        data = self._partitions.get(number)
        if data is None:
            data = self._partitions[number] = {}
        return data

    def unread(self, number: int) -> bool:
        """Whether partition `number` was assigned and its changelog is still being
        read: its records must wait, its dict is not its state yet."""
        return number in self._unread

    @property
    def reading(self) -> bool:
        return bool(self._unread)

    async def wait_read(self, partitions: Iterable[int]) -> None:
        """Return once none of `partitions` is still being read."""
        while any(p in self._unread for p in partitions):
            await self._read_ended.wait()

    def _reads_ended(self) -> None:
        ended, self._read_ended = self._read_ended, asyncio.Event()
        ended.set()

    # -- recovery -------------------------------------------------------------------

    def persisted_offset(self, tp: TP) -> int | None:
        return self._offsets.get(tp)

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        # Only for a partition held from its start: the worker records each acked
        # changelog batch here, and an ack may come after the partition was revoked.
        held = self._offsets.get(tp)
        if held is not None and offset > held:
            self._offsets[tp] = offset

    async def on_rebalance(
        self,
        assigned: set[TP],
        revoked: set[TP],
        newly_assigned: set[TP],
        generation_id: int = 0,
    ) -> None:
        changelog = self.table.changelog_topic.get_topic_name()
        assignor: Any = self.app.assignor
        actives = {tp for tp in assignor.assigned_actives() if tp.topic == changelog}
        standbys = {tp for tp in assignor.assigned_standbys() if tp.topic == changelog}
        await self._stop_reading()
        kept = {tp.partition for tp in actives | standbys}
        for number in list(self._partitions):
            if number not in kept:
                del self._partitions[number]
        for tp in list(self._offsets):
            if tp not in actives and tp not in standbys:
                del self._offsets[tp]
        await self.defer_reads(actives)

    async def defer_reads(self, tps: Iterable[TP]) -> None:
        """Record which of the given changelog partitions need reading, and start reading
        them in a task of their own (module docstring, "After an assignment")."""
        tps = set(tps)
        if all(tp in self._offsets for tp in tps):
            # Every partition kept: nothing to ask the broker. What another worker wrote
            # to one meanwhile (it came back after a generation this worker missed) is
            # applied by Faust's recovery after the offset held, and the worker indexes
            # that partition again.
            log.info("%s: every changelog partition kept, none to read", self.table_name)
            return
        ends = await self._ends(tps)
        reads = changelog_reads(tps, self._offsets, ends)
        for tp in tps - reads.keys():
            # Held whole (an empty partition too, from its start): the worker's acked
            # writes move the offset on, so a later rebalance knows what it holds.
            self.partition(tp.partition)
            self._offsets.setdefault(tp, ends[tp] - 1)
        for tp, read in reads.items():
            self.partition(tp.partition)
            self._unread[tp.partition] = (tp, read)
            # Faust's recovery resumes after it: anything it finds beyond is written
            # since, and waits in `_after_read`.
            self._offsets[tp] = read.last
        kept = sorted(tp.partition for tp in tps if tp not in reads)
        log.info(
            "%s: changelog partitions to read %s, kept (nothing new) %s",
            self.table_name,
            sorted(tp.partition for tp in reads) or "none",
            kept or "none",
        )
        if reads:
            self._reading = asyncio.create_task(self._read(reads), name="read-changelog")

    async def _ends(self, tps: set[TP]) -> dict[TP, int]:
        """The end offset of each changelog partition, from the worker's own consumer,
        connected already (one request, no record read)."""
        consumer: Any = self.app.consumer
        return dict(await consumer.highwaters(*tps))

    async def _read(self, reads: Mapping[TP, ChangelogRead]) -> None:
        try:
            await read_changelog(
                connection_of(self.app),
                {tp: read.start for tp, read in reads.items()},
                self._partitions,
                ends={tp: read.last + 1 for tp, read in reads.items()},
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the worker cannot go on without its state
            log.exception("reading the changelog failed: %r", exc)
            await self.app.crash(exc)
            return
        for tp in reads:
            data = self.partition(tp.partition)
            for key, value, _offset in self._after_read.pop(tp.partition, ()):
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
            del self._unread[tp.partition]
        self.partitions_read += len(reads)
        self._reads_ended()
        log.info(
            "%s: %d keys held in the %d partition(s) read",
            self.table_name,
            sum(len(self._partitions[tp.partition]) for tp in reads),
            len(reads),
        )

    async def _stop_reading(self) -> None:
        """Cancel a read still going on (a rebalance came first): what its partitions
        held before it stands again; a read that applied part of a partition is simply
        done again from there, which ends in the same dict."""
        task, self._reading = self._reading, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for tp, read in self._unread.values():
            if read.start is None:
                self._offsets.pop(tp, None)
            else:
                self._offsets[tp] = read.start
        self._unread.clear()
        self._after_read.clear()
        self._reads_ended()

    async def recover(self, tps: Iterable[TP]) -> None:
        """Bring the given changelog partitions up to their current end, in bulk."""
        starts = {tp: self._offsets.get(tp) for tp in tps}
        if not starts:
            return
        for tp in starts:
            self.partition(tp.partition)
        reached = await read_changelog(connection_of(self.app), starts, self._partitions)
        self._offsets.update(reached)
        log.info(
            "%s: %d keys held in the %d partition(s) read",
            self.table_name,
            sum(len(self._partitions[tp.partition]) for tp in reached),
            len(reached),
        )

    def apply_changelog_batch(
        self,
        batch: Iterable[EventT[Any]],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        """Faust's recovery path (standby partitions, records written since the bulk
        read): raw keys and values into their partition's dict, in order."""
        offsets = self._offsets
        unread = self._unread
        for event in batch:
            message = event.message
            key = message.key
            if key is None:
                raise TypeError(f"Changelog entry is missing key: {message}")
            reading = unread.get(message.partition)
            if reading is not None:
                if message.offset <= reading[1].last:
                    continue  # the read applies it
                # Written after the offset the partition's read stops at: applied after it.
                self._after_read.setdefault(message.partition, []).append(
                    (key, message.value, message.offset)
                )
                if message.offset > offsets.get(message.tp, -1):
                    offsets[message.tp] = message.offset
                continue
            data = self.partition(message.partition)
            if message.value is None:
                data.pop(key, None)
            else:
                data[key] = message.value
            tp = message.tp
            held = offsets.get(tp)
            if held is None or message.offset > held:
                offsets[tp] = message.offset

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        return None

    def reset_state(self) -> None:
        return None

    async def backup_partition(
        self, tp: TP | int, flush: bool = True, purge: bool = False, keep: int = 1
    ) -> None:
        return None

    def restore_backup(self, tp: TP | int, latest: bool = True, backup_id: int = 0) -> None:
        return None

    # -- Faust's mapping interface (keys and values are bytes) -----------------------

    def _current_partition(self) -> int | None:
        event = current_event()
        return None if event is None else int(event.message.partition)

    def _get(self, key: bytes) -> bytes | None:
        partition = self._current_partition()
        if partition is not None:
            return self.partition(partition).get(key)
        for data in self._partitions.values():
            value = data.get(key)
            if value is not None:
                return value
        return None

    def _set(self, key: bytes, value: bytes | None) -> None:
        partition = self._current_partition()
        if partition is None:
            raise RuntimeError("a table write outside of an event: no partition to hold it")
        if value is None:
            self.partition(partition).pop(key, None)
        else:
            self.partition(partition)[key] = value

    def _del(self, key: bytes) -> None:
        for data in self._partitions.values():
            data.pop(key, None)

    def _iterkeys(self) -> Iterator[bytes]:
        for data in list(self._partitions.values()):
            yield from list(data)

    def _itervalues(self) -> Iterator[bytes]:
        for data in list(self._partitions.values()):
            yield from list(data.values())

    def _iteritems(self) -> Iterator[tuple[bytes, bytes]]:
        for data in list(self._partitions.values()):
            yield from list(data.items())

    def _size(self) -> int:
        return sum(len(data) for data in self._partitions.values())

    def _contains(self, key: bytes) -> bool:
        return any(key in data for data in self._partitions.values())

    def _clear(self) -> None:
        self._partitions.clear()
        self._offsets.clear()
        self._unread.clear()
        self._after_read.clear()


class PartitionStoreTable(faust.Table[bytes, bytes]):
    """A Faust table whose `memory://` store is a `PartitionMemoryStore`; any other
    store URL (`rocksdb://`) is Faust's own."""

    def _new_store_by_url(self, url: str | URL) -> Any:
        if URL(url).scheme != "memory":
            return super()._new_store_by_url(url)
        return PartitionMemoryStore(
            url,
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )
