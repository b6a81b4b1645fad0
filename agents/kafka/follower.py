"""Read a compacted topic to its end, then follow it.

The books (org policies, user facts, notification targets), the fleet view (the
device-state changelog), the notifier (what it delivered, each org's recipients) and the
CrashPlan bridge (what it published) each hold a whole compacted topic in memory: they
read it from its beginning with a consumer of no group, know when they have read what
the topic held when they started (`caught_up`), and keep taking what is written after.
This is that reader, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from schemas.types import loggable

if TYPE_CHECKING:
    from agents.kafka.connection import KafkaConnection

__all__ = ["Record", "TopicFollower", "reached"]

log = logging.getLogger(__name__)


class Record(Protocol):
    """What a follower hands over of each record (an aiokafka `ConsumerRecord`)."""

    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


def reached(read_to: Mapping[Hashable, int], ends: Mapping[Hashable, int]) -> bool:
    """Whether the positions `read_to` are at or past `ends` on every partition of
    `ends` (a partition never read is at 0)."""
    return all(read_to.get(tp, 0) >= end for tp, end in ends.items())


class TopicFollower:
    """Every partition of `topic` from its beginning, each record handed to `take`.

    `caught_up` is set once everything the topic held when the follower started has
    been taken. A record whose `take` raises is skipped, logged and counted
    (`unexpected_errors`, and `on_error` called): the topic is read from its beginning at
    every start, so a record that stopped the reading would stop the process each time.
    """

    def __init__(
        self,
        connection: KafkaConnection,
        topic: str,
        take: Callable[[Record], None],
        *,
        on_error: Callable[[], None] | None = None,
        caught_up: asyncio.Event | None = None,
        max_records: int | None = None,
        wait_ms: int = 500,
        **consumer_options: Any,
    ) -> None:
        self.connection = connection
        self.topic = topic
        self.take = take
        self.on_error = on_error
        self.caught_up = caught_up if caught_up is not None else asyncio.Event()
        self.records = 0
        self.unexpected_errors = 0
        self._max_records = max_records
        self._wait_ms = wait_ms
        self._consumer_options = consumer_options
        # The consumer and how far it has read (while `run` runs), for `reached_end`.
        self._consumer: Any = None
        self._read_to: dict[Any, int] = {}
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run(self, *, to_end_only: bool = False) -> None:
        """Read the topic from its beginning, then follow it until cancelled (or, with
        `to_end_only`, return once caught up). A topic that does not exist yet is
        waited for: it may be created by another process, after this one starts."""
        consumer = self.connection.consumer(
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self._consumer_options,
        )
        await self.connection.start(consumer)
        loop = asyncio.get_running_loop()
        try:
            ends = await consumer.end_offsets(await _subscribe_whole(consumer, self.topic))
            self._consumer = consumer
            started = loop.time()
            while True:
                for tp in consumer.assignment():
                    self._read_to[tp] = await consumer.position(tp)
                self._wake()
                if not self.caught_up.is_set() and reached(self._read_to, ends):
                    self.caught_up.set()
                    log.info(
                        "read %s to its end: %d records in %.1f s",
                        self.topic,
                        self.records,
                        loop.time() - started,
                    )
                if to_end_only and self.caught_up.is_set():
                    return
                batches = await consumer.getmany(
                    timeout_ms=self._wait_ms, max_records=self._max_records
                )
                for records in batches.values():
                    for record in records:
                        self.records += 1
                        self._take(record)
                # Let the process's other tasks run between chunks of a long catch-up.
                await asyncio.sleep(0)
        finally:
            self._consumer = None
            # Whoever waits in `reached_end` must not wait on a reader that has stopped.
            self._wake()
            await consumer.stop()

    async def reached_end(self) -> None:
        """Return once every record the topic held when called has been taken (at once
        when the follower is not running).

        The worker calls it through the user book before the decisions of a batch with
        ticks: a fact written before a tick is then known when that tick is decided,
        whatever the pace of the two consumers, so a live run decides as a replay does."""
        await self.caught_up.wait()
        consumer = self._consumer
        if consumer is None:
            return
        ends = await consumer.end_offsets(list(self._read_to))
        while not reached(self._read_to, ends) and self._consumer is consumer:
            await self._progress.wait()

    async def start(self, timeout: float = 120.0) -> None:
        """Follow the topic in a task of its own; return once caught up. Raises what
        stopped the reading, or `TimeoutError` when the end was not reached in time."""
        self._task = asyncio.create_task(self.run(), name=f"read {self.topic}")
        done, _ = await asyncio.wait(
            [self._task, asyncio.create_task(self.caught_up.wait())],
            timeout=timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if self._task in done:
            self._task.result()  # raises what stopped it
        if not self.caught_up.is_set():
            raise TimeoutError(f"could not read {self.topic} to its end within {timeout:g}s")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def _wake(self) -> None:
        self._progress.set()
        self._progress.clear()

    def _take(self, record: Record) -> None:
        try:
            self.take(record)
        except Exception as err:  # noqa: BLE001 - one record must not stop the reading
            self.unexpected_errors += 1
            log.error(
                "%s: record %d of partition %d failed unexpectedly (%s: %s); skipped",
                self.topic,
                record.offset,
                record.partition,
                type(err).__name__,
                loggable(str(err)),
                exc_info=err,
            )
            if self.on_error is not None:
                self.on_error()


async def _subscribe_whole(consumer: Any, topic: str) -> list[Any]:
    """Subscribe a consumer with no group to `topic` once it exists, and return its
    partitions once assigned: with no group, aiokafka assigns every partition, and
    partitions added later too.

    Listed before subscribing: the topic may be created after this process starts (by
    a worker, a notifier), and the metadata requests of a subscription may have a
    broker that creates topics on first use create it with its defaults, not compacted."""
    while topic not in await consumer.topics():
        await asyncio.sleep(1.0)
    consumer.subscribe([topic])
    while not consumer.assignment():
        await asyncio.sleep(0.1)
    return sorted(consumer.assignment())
