"""Per-device daily windows: fourteen UTC days of activity, rolling over by day."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.types import MAX_COUNT
from streams import DEFAULT_POLICY, advance, apply, decode_state, encode_state
from streams.machine import WINDOW_DAYS
from streams.state import day_number
from tests.unit.factories import DAY, SECOND, T0, command, healthy, heartbeat, progress, run


def test_activity_is_counted_in_the_bucket_of_its_day() -> None:
    state, _ = run(
        [
            heartbeat(T0),
            heartbeat(T0 + DAY),
            progress(
                T0 + DAY,
                bytes_sent=700,
                percent=40.0,
                session_state="sending",
                errors={"locked": 2, "vanished": 1},
            ),
            progress(
                T0 + DAY, bytes_sent=300, errors={"changed_during_backup": 4}, destination="nas"
            ),
        ],
        now=T0 + DAY,
    )
    first, second = state.days
    assert (first.heartbeats, first.bytes_sent) == (1, 0)
    assert second.heartbeats == 1
    assert second.bytes_sent == 1000
    assert (second.locked, second.vanished, second.changed) == (2, 1, 4)
    assert second.completions == 1


def test_buckets_older_than_fourteen_days_roll_off() -> None:
    state = healthy()
    for day in range(1, 20):
        state, _ = run([heartbeat(T0 + day * DAY)], now=T0 + day * DAY, state=state)
    assert len(state.days) == WINDOW_DAYS
    assert state.days[-1].day - state.days[0].day == WINDOW_DAYS - 1


def test_an_event_older_than_the_window_is_not_counted() -> None:
    now = T0 + 20 * DAY
    state, _ = run([heartbeat(now)], now=now, state=healthy())
    before = state.days
    state, _ = run([heartbeat(T0 + DAY)], now=now, state=state)
    assert state.days == before
    # ...but it still counts as a sign of life in the facts.
    assert state.first_seen == T0


def test_the_window_rolls_on_a_decision_without_events() -> None:
    state = healthy()
    state, _ = advance(state, T0 + 30 * DAY, DEFAULT_POLICY)
    assert state.days == ()


def test_heartbeats_of_one_day_are_counted_in_its_bucket_in_any_order() -> None:
    hour = DAY / 24
    late = heartbeat(T0 + hour)  # after the next day's heartbeat
    events = [heartbeat(T0), heartbeat(T0 + 2 * hour), heartbeat(T0 + DAY), late]
    state, _ = run(events, now=T0 + DAY)
    state, _ = run([heartbeat(T0 + DAY + hour)], now=T0 + DAY + hour, state=state)
    first, second = state.days
    assert (first.heartbeats, second.heartbeats) == (3, 2)
    assert second.day - first.day == 1


def test_a_day_rolls_off_when_another_heartbeat_of_the_newest_day_is_folded_in() -> None:
    old = T0 - (WINDOW_DAYS - 1) * DAY
    state, _ = run([heartbeat(old), heartbeat(T0)], now=T0)
    assert [b.heartbeats for b in state.days] == [1, 1]
    # The clock has moved to the next day when the next heartbeat of T0's day arrives.
    folded, _ = apply(state, heartbeat(T0 + DAY / 48), T0 + DAY + DAY / 24, DEFAULT_POLICY)
    assert folded is not None
    assert [(b.day, b.heartbeats) for b in folded.days] == [(state.days[1].day, 2)]


def test_the_heartbeats_of_the_newest_day_roll_off_with_their_day() -> None:
    state, _ = run([heartbeat(T0), heartbeat(T0 + DAY / 24)], now=T0 + DAY / 24)
    state, _ = advance(state, T0 + WINDOW_DAYS * DAY, DEFAULT_POLICY)
    assert state.days == ()
    state, _ = run([heartbeat(T0 + WINDOW_DAYS * DAY)], now=T0 + WINDOW_DAYS * DAY, state=state)
    assert [b.heartbeats for b in state.days] == [1]


HOUR = DAY / 24


@settings(max_examples=300)
@given(
    hours=st.lists(st.integers(min_value=-18 * 24, max_value=24), min_size=1, max_size=24),
    progress_hours=st.lists(st.integers(min_value=-18 * 24, max_value=24), max_size=4),
    data=st.data(),
)
def test_each_days_heartbeats_are_counted_in_any_order(
    hours: list[int], progress_hours: list[int], data: st.DataObject
) -> None:
    now = T0 + DAY
    # Distinct heartbeats (a hostname each), so that none is a duplicate of another.
    beats = [heartbeat(T0 + h * HOUR, hostname=f"host-{i}") for i, h in enumerate(hours)]
    reports = [progress(T0 + h * HOUR, bytes_sent=100) for h in progress_hours]
    events = data.draw(st.permutations(beats + reports))
    state, _ = run(events, now=now)
    oldest = day_number(now) - WINDOW_DAYS + 1
    expected = Counter(
        day_number(b.event_time) for b in beats if day_number(b.event_time) >= oldest
    )
    assert {d.day: d.heartbeats for d in state.days if d.heartbeats} == expected
    # Every day with activity in the window has one bucket, in order.
    active = set(expected) | {
        day_number(r.event_time) for r in reports if day_number(r.event_time) >= oldest
    }
    assert [d.day for d in state.days] == sorted(active)


@settings(max_examples=300)
@given(
    hours=st.lists(st.integers(min_value=0, max_value=30 * 24), min_size=1, max_size=24),
    progress_hours=st.lists(st.integers(min_value=0, max_value=30 * 24), max_size=4),
    data=st.data(),
)
def test_each_days_heartbeats_are_counted_while_the_clock_moves(
    hours: list[int], progress_hours: list[int], data: st.DataObject
) -> None:
    # Each event is folded in at a clock that never goes back and is at least its own
    # time, so days roll off while events, late ones among them, come in.
    beats = [heartbeat(T0 + h * HOUR, hostname=f"host-{i}") for i, h in enumerate(hours)]
    reports = [progress(T0 + h * HOUR, bytes_sent=100) for h in progress_hours]
    events = data.draw(st.permutations(beats + reports))
    state = None
    now = T0
    for event in events:
        now = max(now, event.event_time + data.draw(st.sampled_from([0, 1, 36])) * HOUR)
        state, _ = apply(state, event, now, DEFAULT_POLICY)
    assert state is not None
    state, _ = advance(state, now, DEFAULT_POLICY)
    oldest = day_number(now) - WINDOW_DAYS + 1
    expected = Counter(
        day_number(b.event_time) for b in beats if day_number(b.event_time) >= oldest
    )
    assert {d.day: d.heartbeats for d in state.days if d.heartbeats} == expected


def test_a_window_of_heartbeats_alone_rolls_on_a_decision_that_changes_nothing_else() -> None:
    # Deactivated: the decision settles the window and decides nothing.
    state, _ = run(
        [heartbeat(T0 - DAY), heartbeat(T0), command("deactivate", T0)], now=T0 + DAY / 24
    )
    assert [b.heartbeats for b in state.days] == [1, 1]
    later, _ = advance(state, T0 + (WINDOW_DAYS + 1) * DAY, DEFAULT_POLICY)
    assert later.days == ()
    assert later.window_start == 0


def test_sums_past_what_a_count_holds_are_held_there_and_the_state_still_stores() -> None:
    # Each report at the largest count a record may carry: two of them on one day sum
    # past it, and a few thousand past the 64-bit integers a state is stored with.
    big = {"locked": MAX_COUNT, "permission_denied": MAX_COUNT, "vanished": MAX_COUNT}
    events = [
        progress(
            T0 + i * SECOND,
            percent=50.0,
            session_state="sending",
            bytes_sent=MAX_COUNT,
            selected_bytes=MAX_COUNT,
            errors={**big, "changed_during_backup": MAX_COUNT},
        )
        for i in range(3)
    ]
    state, _ = run(events, now=T0)

    (day,) = state.days
    assert (day.bytes_sent, day.locked, day.permission_denied, day.vanished, day.changed) == (
        MAX_COUNT,
    ) * 5
    assert decode_state(encode_state(state)) == state
