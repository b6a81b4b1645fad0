"""User facts: every worker reads the whole compacted `user-facts` topic, then follows it.

A user's leaves and deactivations apply to every device whose current user they are,
whatever partition it is on, so each worker (and each report reader) holds every user's
record, as it holds every org policy. Which of a record's facts held for a decision is
decided by the partition's clock (`streams.users`, docs/architecture.md §7).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from agents.books.book import Book
from agents.kafka.topics import USER_FACTS
from schemas.codec import decode_as, encode
from schemas.models import UserFacts
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
    from agents.settings import Settings

__all__ = ["UserBook", "edit_user", "encoded", "read_user_record"]

log = logging.getLogger(__name__)


class UserBook(Book[UserFacts, UserTimeline]):
    """The facts of each user with a record, kept current from the topic; a tombstone
    forgets them.

    `loaded` is set once the topic was read up to where it ended when the book started:
    a worker decides nothing before, so that a restart never decides a device of a
    user on leave as if the leave were not there.
    """

    TOPIC: ClassVar[str] = USER_FACTS
    WHAT: ClassVar[str] = "a user facts"
    ERRORS_METRIC: ClassVar[str] = "user_facts_errors"
    STAGE: ClassVar[str] = "user_facts"

    def read(self, value: bytes) -> tuple[str, UserFacts, UserTimeline]:
        record = decode_as(value, UserFacts)
        return record.user_id, record, timeline_from_record(record)

    def updated_at(self, record: UserFacts) -> datetime:
        return record.updated_at

    def facts_for(self, user_id: str) -> UserTimeline:
        return self._made.get(user_id, NO_USER_FACTS)


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
