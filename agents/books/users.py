"""User facts: every worker reads the whole compacted `user-facts` topic, then follows it.

A user's leaves and deactivations apply to every device whose current user they are,
whatever partition it is on, so each worker (and each report reader) holds every user's
record, as it holds every org policy. Which of a record's facts held for a decision is
decided by the partition's clock (`streams.users`, docs/architecture.md §7).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from agents.kafka.follower import Record, TopicFollower
from agents.kafka.topics import USER_FACTS
from schemas.codec import decode_as, encode
from schemas.errors import InvalidRecord
from schemas.models import UserFacts
from schemas.types import loggable
from streams.errors import UserFactsConflict
from streams.users import (
    NO_USER_FACTS,
    UserTimeline,
    deactivate_user,
    end_leave,
    put_on_leave,
    reactivate_user,
    timeline_from_record,
)

if TYPE_CHECKING:
    from agents.metrics import WorkerMetrics
    from agents.settings import Settings

__all__ = ["UserBook", "edit_user", "encoded", "read_user_record"]

log = logging.getLogger(__name__)


class UserBook:
    """The facts of each user with a record, kept current from the topic.

    `loaded` is set once the topic was read up to where it ended when the book started:
    a worker decides nothing before, so that a restart never decides a device of a
    user on leave as if the leave were not there.
    """

    def __init__(
        self,
        settings: Settings,
        on_change: Callable[[str], None] | None = None,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.settings = settings
        self._records: dict[str, UserFacts] = {}
        self._timelines: dict[str, UserTimeline] = {}
        # Counts the changes taken, so that readers can tell a cached answer is stale.
        self.revision = 0
        self._follower = TopicFollower(
            settings.kafka, settings.topic(USER_FACTS), self._take, wait_ms=1000
        )
        self.loaded = self._follower.caught_up
        self._on_change = on_change
        self._metrics = metrics
        # Records refused for an exception that is not a validation error.
        self.unexpected_errors = 0

    def facts_for(self, user_id: str) -> UserTimeline:
        return self._timelines.get(user_id, NO_USER_FACTS)

    def record_for(self, user_id: str) -> UserFacts | None:
        return self._records.get(user_id)

    def apply_record(self, value: bytes | None, key: bytes | None = None) -> str | None:
        """Take one record of the topic; return the user it changed, if any."""
        if value is None:  # a tombstone: the user's facts are forgotten
            if key is None:
                return None
            user_id = key.decode("utf-8", "replace")
            if self._records.pop(user_id, None) is None:
                return None
            self._timelines.pop(user_id, None)
            self.revision += 1
            return user_id
        try:
            record = decode_as(value, UserFacts)
            timeline = timeline_from_record(record)
        except InvalidRecord as err:
            log.warning("refused a user facts record: %s", loggable(str(err)))
            if self._metrics is not None:
                self._metrics.user_facts_errors.inc()
            return None
        except Exception as err:  # noqa: BLE001 - a record must not stop the reading
            # Every worker reads the whole topic at every start: a record that raised
            # here would stop them all, each time. The user keeps the facts they had.
            self.unexpected_errors += 1
            log.error(
                "refused a user facts record that failed unexpectedly (%s: %s)",
                type(err).__name__,
                loggable(str(err)),
                exc_info=err,
            )
            if self._metrics is not None:
                self._metrics.user_facts_errors.inc()
                self._metrics.unexpected_errors.labels("user_facts").inc()
            return None
        previous = self._records.get(record.user_id)
        if previous is not None and previous.updated_at > record.updated_at:
            return None
        self._records[record.user_id] = record
        self._timelines[record.user_id] = timeline
        self.revision += 1
        return record.user_id

    def _take(self, record: Record) -> None:
        user_id = self.apply_record(record.value, record.key)
        if user_id is not None:
            log.info("facts of user %s updated", loggable(user_id))
            if self._on_change is not None:
                self._on_change(user_id)

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


async def read_user_record(settings: Settings, user_id: str) -> UserFacts | None:
    """The newest record of one user on the topic (for the CLI, which edits it)."""
    book = UserBook(settings)
    task = asyncio.create_task(book.run())
    try:
        loaded = asyncio.create_task(book.loaded.wait())
        await asyncio.wait({task, loaded}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        return book.record_for(user_id)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def encoded(record: UserFacts) -> tuple[bytes, bytes]:
    """The key and value a user's record is published with."""
    return record.user_id.encode(), encode(record)


async def edit_user(
    settings: Settings,
    user_id: str,
    action: str,
    *,
    at: datetime,
    until: datetime | None = None,
    reason: str = "",
    actor: str = "cli",
) -> UserFacts:
    """Take one user action at stream time `at` on the user's newest record and
    publish the result; raises `UserFactsConflict` when the facts contradict it."""
    previous = await read_user_record(settings, user_id)
    updated_at = datetime.now(UTC)
    if action == "leave":
        if until is None:
            raise UserFactsConflict("a leave needs an end (until when)")
        record = put_on_leave(
            previous,
            user_id,
            at=at,
            until=until,
            reason=reason,
            actor=actor,
            updated_at=updated_at,
        )
    elif action == "end-leave":
        record = end_leave(previous, user_id, at=at, updated_at=updated_at)
    elif action == "deactivate":
        record = deactivate_user(
            previous, user_id, at=at, reason=reason, actor=actor, updated_at=updated_at
        )
    elif action == "reactivate":
        record = reactivate_user(previous, user_id, at=at, updated_at=updated_at)
    else:
        raise ValueError(f"unknown user action {action!r}")
    producer = settings.kafka.producer(acks="all")
    await settings.kafka.start(producer)
    try:
        key, value = encoded(record)
        await producer.send_and_wait(settings.topic(USER_FACTS), value, key=key)
    finally:
        await producer.stop()
    return record
