"""A book: the newest record of each key of a compacted topic, and what each is made into.

Every worker (and each report reader, and the notifier) reads the whole topic at every
start, then follows it (agents/kafka/follower.py). A record that does not read is
refused and counted, never dead-lettered: the topic is read again at the next start,
and a record that stopped the reading would stop every process each time. A record
older than the one a key holds changes nothing; a tombstone forgets the key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from agents.kafka.follower import Record, TopicFollower
from schemas.errors import InvalidRecord
from schemas.types import loggable

if TYPE_CHECKING:
    from datetime import datetime

    from agents.metrics import WorkerMetrics
    from agents.settings import Settings

__all__ = ["Book"]

log = logging.getLogger(__name__)

# The record as published (with its `updated_at`), and what readers are given of it.
R = TypeVar("R")
V = TypeVar("V")


class Book(Generic[R, V]):
    """The newest record of each key of `TOPIC`; `made_for(key)` what it was made into."""

    # The topic, without the prefix.
    TOPIC: ClassVar[str]
    # What a record is, in messages ("an org policy").
    WHAT: ClassVar[str]
    # The worker's counter of refused records, and the stage its unexpected errors
    # are counted under (agents/metrics.py).
    ERRORS_METRIC: ClassVar[str]
    STAGE: ClassVar[str]
    # The errors that say a record is invalid (any other is unexpected).
    INVALID: ClassVar[tuple[type[Exception], ...]] = (InvalidRecord,)

    def __init__(
        self,
        settings: Settings,
        on_change: Callable[[str], None] | None = None,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.settings = settings
        self._records: dict[str, R] = {}
        self._made: dict[str, V] = {}
        # Counts the changes taken, so that readers can tell a cached answer is stale.
        self.revision = 0
        # Records refused for an exception that is not a validation error.
        self.unexpected_errors = 0
        self._on_change = on_change
        self._metrics = metrics
        self._follower = TopicFollower(
            settings.kafka, settings.topic(self.TOPIC), self._take, wait_ms=1000
        )
        # Set once the topic was read up to where it ended when the book started.
        self.loaded = self._follower.caught_up

    def read(self, value: bytes) -> tuple[str, R, V]:
        """The key, the record and what it is made into; raises one of `INVALID` when
        the record is refused."""
        raise NotImplementedError

    def updated_at(self, record: R) -> datetime:
        raise NotImplementedError

    def record_for(self, key: str) -> R | None:
        return self._records.get(key)

    def apply_record(self, value: bytes | None, key: bytes | None = None) -> str | None:
        """Take one record of the topic; return the key it changed, if any."""
        if value is None:  # a tombstone: the key is forgotten
            if key is None:
                return None
            name = key.decode("utf-8", "replace")
            if self._records.pop(name, None) is None:
                return None
            self._made.pop(name, None)
            self.revision += 1
            return name
        try:
            name, record, made = self.read(value)
        except self.INVALID as err:
            log.warning("refused %s record: %s", self.WHAT, loggable(str(err)))
            self._count_refusal()
            return None
        except Exception as err:  # noqa: BLE001 - a record must not stop the reading
            # Every worker reads the whole topic at every start: a record that raised
            # here would stop them all, each time. The key keeps what it had.
            self.unexpected_errors += 1
            log.error(
                "refused %s record that failed unexpectedly (%s: %s)",
                self.WHAT,
                type(err).__name__,
                loggable(str(err)),
                exc_info=err,
            )
            self._count_refusal()
            if self._metrics is not None:
                self._metrics.unexpected_errors.labels(self.STAGE).inc()
            return None
        previous = self._records.get(name)
        if previous is not None and self.updated_at(previous) > self.updated_at(record):
            return None
        self._records[name] = record
        self._made[name] = made
        self.revision += 1
        return name

    def _count_refusal(self) -> None:
        if self._metrics is not None:
            getattr(self._metrics, self.ERRORS_METRIC).inc()

    def _take(self, record: Record) -> None:
        name = self.apply_record(record.value, record.key)
        if name is not None:
            log.info("took %s record of %s", self.WHAT, loggable(name))
            if self._on_change is not None:
                self._on_change(name)

    async def run(self) -> None:
        """Read the whole topic, then follow it until cancelled (on a first start, the
        topic may not exist yet: it is waited for)."""
        await self._follower.run()

    async def caught_up(self) -> None:
        """Return once the book holds every record the topic held when called.

        A worker calls it before the decisions of a batch with ticks: a fact written
        before a tick is then known when that tick is decided, whatever the pace of
        the two consumers, so a live run decides as a replay does."""
        await self._follower.reached_end()
