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
any other record (none today) still goes through Faust's callback. Before it commits
offsets it awaits `before_commit` (the worker writes its state cache then,
agents.worker.cache): a committed offset implies the states of its records are written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from agents.worker.resume import ResumingConsumer

__all__ = ["BulkInputConsumer", "bulk_consumer_class"]

log = logging.getLogger(__name__)

BulkHandler = Callable[[list[Any]], Awaitable[None]]
BeforeCommit = Callable[[], Awaitable[None]]


class BulkInputConsumer(ResumingConsumer):
    """Faust's aiokafka consumer whose fetcher hands `bulk_topics` records over in bulk."""

    bulk_topics: frozenset[str] = frozenset()
    on_bulk: BulkHandler | None = None
    before_commit: BeforeCommit | None = None

    async def _commit_offsets(self, offsets: Any, start_new_transaction: bool = True) -> bool:
        # Every commit comes here (the timer's, a rebalance's, the one at stop), before
        # Faust flushes the producer and commits: the offsets were taken first, so every
        # record they cover has been handed over and its states are in the cache.
        if self.before_commit is not None:
            await self.before_commit()
        committed: bool = await super()._commit_offsets(offsets, start_new_transaction)
        return committed

    async def _drain_messages(self, fetcher: Any) -> None:
        # The fetcher's loop, as Faust's `Consumer._drain_messages`, batch by batch.
        callback = self.callback
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        bulk_topics = self.bulk_topics
        on_bulk = self.on_bulk
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                await self.sleep(0)
                if self.should_stop:
                    continue
                bulk: list[Any] = []
                async for tp, message in self.getmany(timeout=1.0):
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


def bulk_consumer_class(
    topics: frozenset[str], on_bulk: BulkHandler, before_commit: BeforeCommit | None = None
) -> type[BulkInputConsumer]:
    """A `BulkInputConsumer` bound to one worker's input topics, handler and pre-commit
    step (the Faust transport instantiates the class itself)."""
    return type(
        "WorkerInputConsumer",
        (BulkInputConsumer,),
        {
            "bulk_topics": topics,
            "on_bulk": staticmethod(on_bulk),
            "before_commit": staticmethod(before_commit) if before_commit else None,
        },
    )
