"""The user book (every worker's copy of the user-facts topic) keeps the newest record
of each user, forgets a user at a tombstone, and refuses a record it cannot read,
counting it, with the user keeping the facts they had."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from agents.books.users import UserBook
from agents.metrics import WorkerMetrics
from agents.settings import Settings
from schemas.codec import encode
from streams import NO_USER_FACTS
from streams.users import deactivate_user, put_on_leave
from tests.unit.factories import DAY, T0


def _book() -> tuple[UserBook, WorkerMetrics, list[str]]:
    changed: list[str] = []
    metrics = WorkerMetrics(CollectorRegistry())
    return UserBook(Settings(), on_change=changed.append, metrics=metrics), metrics, changed


def test_the_newest_record_of_a_user_wins_whatever_the_order_read() -> None:
    first = put_on_leave(None, "user-1", at=T0, until=T0 + 9 * DAY, updated_at=T0)
    second = deactivate_user(first, "user-1", at=T0 + DAY, updated_at=T0 + DAY)
    book, _, changed = _book()
    assert book.apply_record(encode(second)) == "user-1"
    assert book.apply_record(encode(first)) is None  # older: ignored
    assert book.record_for("user-1") == second
    hold = book.facts_for("user-1").hold_at(T0 + 2 * DAY)
    assert hold is not None and hold.kind == "deactivated"
    assert book.facts_for("user-2") is NO_USER_FACTS


def test_a_tombstone_forgets_the_user() -> None:
    book, _, _ = _book()
    book.apply_record(encode(put_on_leave(None, "user-1", at=T0, until=T0 + DAY, updated_at=T0)))
    revision = book.revision
    assert book.apply_record(None, b"user-1") == "user-1"
    assert book.facts_for("user-1") is NO_USER_FACTS and book.revision > revision
    assert book.apply_record(None, b"user-1") is None


def test_a_record_that_does_not_decode_is_refused_and_counted() -> None:
    book, metrics, _ = _book()
    good = put_on_leave(None, "user-1", at=T0, until=T0 + DAY, updated_at=T0)
    book.apply_record(encode(good))
    broken = b'{"schema": "user_facts/1", "user_id": "user-1", "updated_at": "soon"}'
    assert book.apply_record(broken) is None
    assert book.record_for("user-1") == good
    assert metrics.user_facts_errors._value.get() == 1
