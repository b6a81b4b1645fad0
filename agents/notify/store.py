"""What was delivered, remembered across restarts in a compacted topic.

Why a topic and not a local file: the notifier is stateless in every deployment
(a Kubernetes Deployment, a compose service without a volume) and may move between
hosts, while Kafka is already the one thing it needs. One small record per delivery,
keyed by (alert id, channel, recipient hash); compaction keeps the latest per key,
and the notifier reads it all back before taking its first alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from agents.kafka.follower import TopicFollower

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

    from agents.kafka.connection import KafkaConnection

__all__ = ["DeliveredStore"]

log = logging.getLogger(__name__)


class DeliveredStore:
    def __init__(
        self,
        connection: KafkaConnection,
        topic: str,
        producer: AIOKafkaProducer,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.topic = topic
        self.producer = producer
        self._done: set[bytes] = set()
        # Only keys are read: a value, however hostile, is never decoded.
        self.reader = TopicFollower(
            connection,
            topic,
            lambda record: self._apply(record.key, record.value),
            on_error=on_error,
        )

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        # Another notifier of the group (before a rebalance) writes here too.
        if key is not None:
            if value is None:
                self._done.discard(key)
            else:
                self._done.add(key)

    def __contains__(self, key: bytes) -> bool:
        return key in self._done

    def __len__(self) -> int:
        return len(self._done)

    async def start(self) -> None:
        await self.reader.start()
        log.info("%d deliveries known from %s", len(self._done), self.topic)

    async def stop(self) -> None:
        await self.reader.stop()

    async def record(self, keys: list[bytes], outcome: str) -> None:
        """Remember `keys` as done; returns once the broker has them.

        A delivery's record is acknowledged before its alert's offset may be
        committed; should the broker be away, this waits for it rather than let the
        commit run ahead of what is remembered.
        """
        value = orjson.dumps({"outcome": outcome, "at": datetime.now(UTC).isoformat()})
        delay = 0.5
        while True:
            try:
                futures = [await self.producer.send(self.topic, value, key=key) for key in keys]
                await asyncio.gather(*futures)
            except Exception as err:  # noqa: BLE001 - any producer failure: try again
                log.warning("could not record deliveries in %s (%s); retrying", self.topic, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._done.update(keys)
            return
