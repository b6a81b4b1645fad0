"""Read a whole topic into memory, then keep following it (for small compacted topics)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.kafka.connection import KafkaConnection

from schemas.types import loggable

__all__ = ["TopicReader"]

log = logging.getLogger(__name__)


class TopicReader:
    """Every partition of `topic` from the beginning, handed to `apply(key, value)`.

    `caught_up` is set once everything that was in the topic at start has been read:
    the notifier takes no alert before it knows every delivery already made and every
    org's recipients.
    """

    def __init__(
        self,
        connection: KafkaConnection,
        topic: str,
        apply: Callable[[bytes | None, bytes | None], None],
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.connection = connection
        self.topic = topic
        self.apply = apply
        # Called for each record whose `apply` raised (it is then skipped).
        self.on_error = on_error
        self.caught_up = asyncio.Event()
        self.records = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 120.0) -> None:
        self._task = asyncio.create_task(self._run(), name=f"read {self.topic}")
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

    async def _run(self) -> None:
        # No group: the consumer is given every partition of the topic, and follows
        # partitions added later.
        consumer = self.connection.consumer(
            self.topic,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            assigned = consumer.assignment()
            while not assigned:
                await asyncio.sleep(0.1)
                assigned = consumer.assignment()
            ends = await consumer.end_offsets(assigned)
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        self.records += 1
                        self._take(record)
                if not self.caught_up.is_set() and await _at_end(consumer, ends):
                    log.info("read %s to its end (%d records)", self.topic, self.records)
                    self.caught_up.set()
        finally:
            await consumer.stop()

    def _take(self, record: Any) -> None:
        try:
            self.apply(record.key, record.value)
        except Exception as err:  # noqa: BLE001 - one record must not stop the reading
            # The topic is read from its start at every start: a record that stopped the
            # reader here would stop the notifier for good.
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


async def _at_end(consumer: Any, ends: dict[Any, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True
