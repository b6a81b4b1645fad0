"""A user's facts as periods of stream time: what holds at an instant, when the next
change comes, and how the API's actions edit the record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.models import UserFacts, UserPeriod
from streams import UserFactsConflict, timeline_from_record
from streams.users import (
    USER_PERIODS,
    deactivate_user,
    end_leave,
    put_on_leave,
    reactivate_user,
)
from tests.unit.factories import DAY, SECOND, T0

EDIT = T0 + 100 * DAY  # the wall-clock time of the edits (the record's revision)


def _leave(start_day: float, end_day: float) -> UserFacts:
    return put_on_leave(
        None, "user-1", at=T0 + start_day * DAY, until=T0 + end_day * DAY, updated_at=EDIT
    )


@pytest.mark.parametrize(
    ("at", "holds"),
    [
        (T0 + 2 * DAY - SECOND, False),
        (T0 + 2 * DAY, True),  # a period holds from its start…
        (T0 + 5 * DAY - SECOND, True),
        (T0 + 5 * DAY, False),  # …up to its end, excluded
    ],
)
def test_a_leave_holds_from_its_start_up_to_its_end(at, holds) -> None:  # type: ignore[no-untyped-def]
    hold = timeline_from_record(_leave(2, 5)).hold_at(at)
    assert (hold is not None) is holds
    if hold is not None:
        assert (hold.kind, hold.start, hold.until) == ("leave", T0 + 2 * DAY, T0 + 5 * DAY)


def test_a_deactivation_wins_over_a_leave_and_holds_until_undone() -> None:
    record = deactivate_user(
        _leave(2, 30), "user-1", at=T0 + 4 * DAY, reason="left", updated_at=EDIT
    )
    timeline = timeline_from_record(record)
    assert timeline.hold_at(T0 + 3 * DAY).kind == "leave"  # type: ignore[union-attr]
    hold = timeline.hold_at(T0 + 400 * DAY)
    assert hold is not None and hold.kind == "deactivated" and hold.reason == "left"
    record = reactivate_user(record, "user-1", at=T0 + 10 * DAY, updated_at=EDIT)
    timeline = timeline_from_record(record)
    assert timeline.hold_at(T0 + 10 * DAY - SECOND).kind == "deactivated"  # type: ignore[union-attr]
    # Back from the deactivation, into the leave that still runs.
    assert timeline.hold_at(T0 + 10 * DAY).kind == "leave"  # type: ignore[union-attr]
    assert timeline.hold_at(T0 + 30 * DAY) is None


def test_the_next_change_is_the_first_start_or_end_after_the_instant() -> None:
    timeline = timeline_from_record(_leave(2, 5))
    assert timeline.next_change_after(T0) == T0 + 2 * DAY
    assert timeline.next_change_after(T0 + 2 * DAY) == T0 + 5 * DAY
    assert timeline.next_change_after(T0 + 5 * DAY) is None


def test_ending_a_leave_cuts_it_at_that_instant_and_keeps_what_held_before() -> None:
    record = end_leave(_leave(2, 30), "user-1", at=T0 + 6 * DAY, updated_at=EDIT)
    assert [(p.start, p.end) for p in record.periods] == [(T0 + 2 * DAY, T0 + 6 * DAY)]
    # A leave ended the instant it began leaves nothing behind.
    record = end_leave(_leave(2, 30), "user-1", at=T0 + 2 * DAY, updated_at=EDIT)
    assert record.periods == []


def test_a_new_leave_replaces_the_one_that_holds() -> None:
    record = put_on_leave(
        _leave(2, 30), "user-1", at=T0 + 6 * DAY, until=T0 + 9 * DAY, updated_at=EDIT
    )
    assert [(p.start, p.end) for p in record.periods] == [
        (T0 + 2 * DAY, T0 + 6 * DAY),
        (T0 + 6 * DAY, T0 + 9 * DAY),
    ]


@pytest.mark.parametrize(
    "action",
    [
        lambda r: end_leave(r, "user-1", at=T0 + 9 * DAY, updated_at=EDIT),
        lambda r: reactivate_user(r, "user-1", at=T0 + 3 * DAY, updated_at=EDIT),
        lambda r: deactivate_user(
            deactivate_user(r, "user-1", at=T0, updated_at=EDIT),
            "user-1",
            at=T0 + DAY,
            updated_at=EDIT,
        ),
        lambda r: put_on_leave(r, "user-1", at=T0 + 3 * DAY, until=T0 + 3 * DAY, updated_at=EDIT),
    ],
    ids=["end a leave that is over", "reactivate an active user", "deactivate twice", "empty"],
)
def test_an_action_that_contradicts_the_facts_is_refused(action) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UserFactsConflict):
        action(_leave(2, 5))


def test_every_edit_moves_the_revision_even_within_one_clock_reading() -> None:
    first = _leave(2, 5)
    second = deactivate_user(first, "user-1", at=T0 + 6 * DAY, updated_at=EDIT)
    assert second.updated_at > first.updated_at
    assert timeline_from_record(second).revision != timeline_from_record(first).revision


def test_the_record_keeps_the_newest_periods() -> None:
    record = None
    for n in range(USER_PERIODS + 5):
        at = T0 + n * DAY
        record = put_on_leave(
            record, "user-1", at=at, until=at + timedelta(hours=1), updated_at=EDIT
        )
    assert record is not None and len(record.periods) == USER_PERIODS
    assert record.periods[-1].start == T0 + (USER_PERIODS + 4) * DAY


def test_a_deactivation_still_holding_is_kept_past_the_newest_periods() -> None:
    record = deactivate_user(None, "user-1", at=T0, reason="left", updated_at=EDIT)
    for n in range(1, USER_PERIODS + 5):
        at = T0 + n * DAY
        record = put_on_leave(
            record, "user-1", at=at, until=at + timedelta(hours=1), updated_at=EDIT
        )
    assert len(record.periods) == USER_PERIODS
    assert record.periods[0].kind == "deactivated" and record.periods[0].end is None
    hold = timeline_from_record(record).hold_at(T0 + 200 * DAY)
    assert hold is not None and hold.kind == "deactivated"


def test_a_leave_needs_an_end_after_its_start() -> None:
    with pytest.raises(ValueError, match="`end`"):
        UserPeriod(kind="leave", start=T0)
    with pytest.raises(ValueError, match="after `start`"):
        UserPeriod(kind="deactivated", start=T0, end=T0)
