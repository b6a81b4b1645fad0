"""Hands the input topics' records to the worker in bulk, past Faust's per-record path.

Faust's consumer reads records in batches (`getmany`) and then delivers them one at a
time: for each record its fetcher awaits `wait_first(callback(message),
suspend_flow.wait())` — two tasks and an `asyncio.wait` — and the conductor takes a
lock, decodes the record into an `Event` and queues it for the stream, which the agent
drains event by event. Profiled, that path cost more of the worker's main thread than
the whole core (see docs/benchmarks.md). `BulkInputConsumer` keeps Faust's consumer
(its thread, rebalancing, offsets bookkeeping, commits) and changes only what the
fetcher does with a batch: records of the input topics are collected and given to one
coroutine as a list, tracked and acknowledged through the consumer as the stream would;
any other record (none today) still goes through Faust's callback.

After an assignment, the records of a partition whose state the `memory://` store is
still reading (agents/worker/store.py, "After an assignment") are held here, in the
order read, and the partition is paused; once it is read they are handed over first,
and it is fetched again. Held records are neither tracked nor acknowledged: a rebalance
meanwhile drops them, and whoever owns the partition next reads them again from the
committed offset.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from faust.types import TP

from agents.worker.resume import ResumingConsumer

__all__ = ["BulkInputConsumer", "bulk_consumer_class"]

log = logging.getLogger(__name__)

BulkHandler = Callable[[list[Any]], Awaitable[None]]
# Told how long one partition-assignment callback took (seconds) and how many
# partitions it assigned.
AssignmentTimer = Callable[[float, int], None]
# Whether an input partition's state is still being read after its assignment.
Unread = Callable[[int], bool]


class BulkInputConsumer(ResumingConsumer):
    """Faust's aiokafka consumer whose fetcher hands `bulk_topics` records over in bulk."""

    bulk_topics: frozenset[str] = frozenset()
    on_bulk: BulkHandler | None = None
    on_assignment_timed: AssignmentTimer | None = None
    unread: Unread | None = None
    # Records of partitions whose state is still being read, by partition, in the order
    # read; neither tracked nor acknowledged, so a rebalance can drop them: the next
    # owner reads them again from the committed offset.
    _held: dict[Any, list[Any]] | None = None

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        if self._held:
            log.info("dropping the held records of %d partition(s)", len(self._held))
            self._held.clear()
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[Any], generation_id: int = 0) -> None:
        # Timed because the group waits for it: while it runs, this member answers no
        # rebalance, and a rebalance started meanwhile waits for every member.
        started = time.perf_counter()
        await super().on_partitions_assigned(assigned, generation_id)
        took = time.perf_counter() - started
        log.info("partition assignment (%d partitions) took %.3f s", len(assigned), took)
        if self.on_assignment_timed is not None:
            self.on_assignment_timed(took, len(assigned))

    async def _drain_messages(self, fetcher: Any) -> None:
        # The fetcher's loop, as Faust's `Consumer._drain_messages`, batch by batch.
        callback = self.callback
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        bulk_topics = self.bulk_topics
        on_bulk = self.on_bulk
        unread = self.unread or _never
        held = self._held = {}
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                await self.sleep(0)
                if self.should_stop:
                    continue
                if held and on_bulk is not None:
                    await self._release(held, unread, on_bulk)
                bulk: list[Any] = []
                # Held partitions are paused: come back soon to release them once read.
                async for tp, message in self.getmany(timeout=0.1 if held else 1.0):
                    offset = message.offset
                    last = read_offset[tp]
                    if last is not None and offset < last:
                        continue  # read again after a seek: already handed over
                    if last and offset - last > 1 and acks_enabled_for(message.topic):
                        # Offsets missing from the log (compaction, transaction
                        # markers) count as acknowledged, as Faust does.
                        await self._add_gap(tp, last + 1, offset)
                    read_offset[tp] = offset
                    if on_bulk is not None and message.topic in bulk_topics:
                        if tp in held or unread(tp.partition):
                            self._hold(held, tp, message)
                        else:
                            bulk.append(message)
                    else:
                        await self.wait_first(callback(message), self.suspend_flow.wait())
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

    def _hold(self, held: dict[Any, list[Any]], tp: Any, message: Any) -> None:
        """Keep a record of a partition whose state is being read (agents.worker.store,
        "After an assignment"), and fetch no more of it until then."""
        waiting = held.get(tp)
        if waiting is None:
            waiting = held[tp] = []
            self.pause_partitions([TP(tp.topic, tp.partition)])
        waiting.append(message)

    async def _release(
        self, held: dict[Any, list[Any]], unread: Unread, on_bulk: BulkHandler
    ) -> None:
        """Hand over the held records of the partitions now read, then fetch them again."""
        ready = [tp for tp in held if not unread(tp.partition)]
        if not ready:
            return
        batch = [message for tp in ready for message in held.pop(tp)]
        await self._hand_over(batch, on_bulk)
        # Resumed only if still assigned: a rebalance pauses and resumes by itself.
        # Faust's own TP: its set of active partitions holds nothing else.
        assigned = self.assignment()
        self.resume_partitions([TP(tp.topic, tp.partition) for tp in ready if tp in assigned])

    async def _hand_over(self, batch: list[Any], on_bulk: BulkHandler) -> None:
        # A rebalance in progress (flow suspended) or partitions taken away since the
        # fetch: those records are not ours to process now; the new owner (or this
        # worker after the rebalance) reads them again from the committed offset.
        if not self.flow_active:
            return
        assigned = self.assignment()
        if any(message.tp not in assigned for message in batch):
            batch = [message for message in batch if message.tp in assigned]
            if not batch:
                return
        track = self.track_message
        for message in batch:
            track(message)
        await on_bulk(batch)
        ack = self.ack
        for message in batch:
            ack(message)


def _never(partition: int) -> bool:
    return False


def bulk_consumer_class(
    topics: frozenset[str],
    on_bulk: BulkHandler,
    on_assignment_timed: AssignmentTimer | None = None,
    unread: Unread | None = None,
) -> type[BulkInputConsumer]:
    """A `BulkInputConsumer` bound to one worker's input topics and handler (the Faust
    transport instantiates the class itself)."""
    return type(
        "WorkerInputConsumer",
        (BulkInputConsumer,),
        {
            "bulk_topics": topics,
            "on_bulk": staticmethod(on_bulk),
            "on_assignment_timed": staticmethod(on_assignment_timed)
            if on_assignment_timed
            else None,
            "unread": staticmethod(unread) if unread else None,
        },
    )
