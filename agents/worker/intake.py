"""Hands the input topics' records to the worker in bulk, past Faust's per-record path.

Faust's consumer reads records in batches (`getmany`) and then delivers them one at a
time: for each record its fetcher awaits `wait_first(callback(message),
suspend_flow.wait())` — two tasks and an `asyncio.wait` — and the conductor takes a
lock, decodes the record into an `Event` and queues it for the stream, which the agent
drains event by event. Profiled, that path cost more of the worker's main thread than
the whole core (see docs/benchmarks.md). `BulkInputConsumer` keeps Faust's consumer
(its thread, rebalancing, offsets bookkeeping, commits) and changes only what the
fetcher does with a fetch: the records of the input topics are given to one coroutine
as a list, as aiokafka fetched them, and acknowledged per partition as one range of
offsets; any other record (none today) still goes through Faust's callback, one by one.

Even that bookkeeping done record by record — Faust's `getmany` making a message object
of each record and telling its sensors, then `track_message` and `ack` per record —
cost a tenth of the worker's CPU (docs/benchmarks.md). So per fetch: one marker among
the consumer's unacknowledged messages while the batch is processed (a rebalance waits
for it, as for a message, in `wait_empty`), and once it is done each partition's offsets
added to the acknowledged ones at once. Offsets missing from the log (compaction,
transaction markers) inside a fetch are acknowledged with the range, as Faust counts gaps
acknowledged.

Before it commits offsets the consumer awaits `before_commit` (the worker writes its state
cache then, agents.worker.cache): a committed offset implies the states of its records are
written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from faust.types import TP
from mode.utils.futures import notify

from agents.worker.resume import ResumingConsumer

__all__ = ["BulkInputConsumer", "bulk_consumer_class"]

log = logging.getLogger(__name__)

BulkHandler = Callable[[list[Any]], Awaitable[None]]
BeforeCommit = Callable[[], Awaitable[None]]
# Told how long one partition-assignment callback took (seconds) and how many
# partitions it assigned.
AssignmentTimer = Callable[[float, int], None]
# A partition's records taken from fetches, and the first offset their acknowledgement
# covers (`BulkInputConsumer._take`).
Taken = tuple[int, list[Any]]


class BulkInputConsumer(ResumingConsumer):
    """Faust's aiokafka consumer whose fetcher hands `bulk_topics` records over in bulk."""

    bulk_topics: frozenset[str] = frozenset()
    on_bulk: BulkHandler | None = None
    before_commit: BeforeCommit | None = None
    on_assignment_timed: AssignmentTimer | None = None

    async def on_partitions_assigned(self, assigned: set[Any], generation_id: int = 0) -> None:
        # Timed because the group waits for it: while it runs, this member answers no
        # rebalance, and a rebalance started meanwhile waits for every member.
        started = time.perf_counter()
        await super().on_partitions_assigned(assigned, generation_id)
        took = time.perf_counter() - started
        log.info("partition assignment (%d partitions) took %.3f s", len(assigned), took)
        if self.on_assignment_timed is not None:
            self.on_assignment_timed(took, len(assigned))

    async def _commit_offsets(self, offsets: Any, start_new_transaction: bool = True) -> bool:
        # Every commit comes here (the timer's, a rebalance's, the one at stop), before
        # Faust flushes the producer and commits: the offsets were taken first, so every
        # record they cover has been handed over and its states are in the cache.
        if self.before_commit is not None:
            await self.before_commit()
        committed: bool = await super()._commit_offsets(offsets, start_new_transaction)
        return committed

    async def _drain_messages(self, fetcher: Any) -> None:
        # The fetcher's loop, as Faust's `Consumer._drain_messages` and `getmany`, a
        # fetch at a time.
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        bulk_topics = self.bulk_topics
        on_bulk = self.on_bulk
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                await self.sleep(0)
                if self.should_stop:
                    continue
                records, active_partitions = await self._wait_next_records(1.0)
                if records is None or self.should_stop:
                    continue
                if not self.flow_active:
                    # As Faust's `getmany`: what was fetched while the flow stopped is
                    # read again from the committed offsets.
                    try:
                        await self.perform_seek()
                    except Exception as exc:  # noqa: BLE001 - as Faust does
                        log.warning("seek while the flow is stopped failed: %r", exc)
                    continue
                bulk: dict[TP, Taken] = {}
                for tp, fetched in records.items():
                    if not (
                        active_partitions is None
                        or tp in active_partitions
                        or tp in self._buffered_partitions
                    ):
                        continue
                    if on_bulk is not None and tp.topic in bulk_topics:
                        taken = self._take(tp, fetched)
                        if taken is not None:
                            bulk[tp] = taken
                    else:
                        await self._one_by_one(tp, fetched)
                if bulk and on_bulk is not None:
                    await self._hand_over(bulk, on_bulk)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        except Exception as exc:
            log.exception("bulk intake failed: %r", exc)
            raise

    def _take(self, tp: TP, fetched: list[Any]) -> Taken | None:
        """The records of a fetch not handed over yet (a seek may read some again) and
        the first offset their acknowledgement covers (offsets missing from the log
        since the last record read included); the partition's read offset moves to the
        last. None when nothing is left."""
        last = self._read_offset[tp]
        if last is not None and fetched and fetched[0].offset < last:
            fetched = [record for record in fetched if record.offset >= last]
        if not fetched:
            return None
        first = fetched[0].offset
        self._read_offset[tp] = fetched[-1].offset
        return (first if last is None else min(first, last + 1)), fetched

    async def _one_by_one(self, tp: TP, fetched: list[Any]) -> None:
        """Faust's own path for a record of another topic: its callback, per record."""
        read_offset = self._read_offset
        for record in fetched:
            offset = record.offset
            last = read_offset[tp]
            if last is not None and offset < last:
                continue
            if last and offset - last > 1 and self.app.topics.acks_enabled_for(tp.topic):
                await self._add_gap(tp, last + 1, offset)
            read_offset[tp] = offset
            message = self._to_message(tp, record)
            await self.wait_first(self.callback(message), self.suspend_flow.wait())

    async def _hand_over(self, bulk: dict[TP, Taken], on_bulk: BulkHandler) -> None:
        # A rebalance in progress (flow suspended) or partitions taken away since the
        # fetch: those records are not ours to process now; the new owner (or this
        # worker after the rebalance) reads them again from the committed offset.
        if not self.flow_active:
            return
        assigned = self.assignment()
        if any(tp not in assigned for tp in bulk):
            bulk = {tp: fetched for tp, fetched in bulk.items() if tp in assigned}
            if not bulk:
                return
        batch = [record for _, fetched in bulk.values() for record in fetched]
        in_flight: Any = _InFlight()
        self._unacked_messages.add(in_flight)
        try:
            await on_bulk(batch)
            for tp, (first, fetched) in bulk.items():
                self._ack_range(tp, first, fetched[-1].offset)
        finally:
            in_flight.acked = True
            self._unacked_messages.discard(in_flight)
            notify(self._waiting_for_ack)

    def _ack_range(self, tp: TP, first: int, last: int) -> None:
        """Acknowledge offsets `first`..`last` of a partition, as `ack` does each."""
        committed = self._committed_offset[tp]
        if committed is not None:
            first = max(first, committed)
        if first > last:
            return
        acked_index = self._acked_index[tp]
        offsets = range(first, last + 1)
        if not acked_index.isdisjoint(offsets):
            offsets = [offset for offset in offsets if offset not in acked_index]  # type: ignore[assignment]
        acked_index.update(offsets)
        self._acked[tp].extend(offsets)
        self._n_acked += len(offsets)


class _InFlight:
    """Stands for a batch being processed among the consumer's unacknowledged messages."""

    __slots__ = ("__weakref__", "acked")

    def __init__(self) -> None:
        self.acked = False


def bulk_consumer_class(
    topics: frozenset[str],
    on_bulk: BulkHandler,
    before_commit: BeforeCommit | None = None,
    on_assignment_timed: AssignmentTimer | None = None,
) -> type[BulkInputConsumer]:
    """A `BulkInputConsumer` bound to one worker's input topics, handler, pre-commit step
    and assignment hooks (the Faust transport instantiates the class itself)."""
    return type(
        "WorkerInputConsumer",
        (BulkInputConsumer,),
        {
            "bulk_topics": topics,
            "on_bulk": staticmethod(on_bulk),
            "before_commit": staticmethod(before_commit) if before_commit else None,
            "on_assignment_timed": staticmethod(on_assignment_timed)
            if on_assignment_timed
            else None,
        },
    )
