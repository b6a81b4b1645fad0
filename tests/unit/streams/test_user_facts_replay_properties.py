"""User facts decided by stream time: a worker that learned each of a user's actions as
it was made (live) and one that read the user's final record before replaying the month
decide the same alerts, with the same ids, whatever the device did and in whatever order
its events came (hypothesis)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.models import UserFacts
from streams import (
    DEFAULT_POLICY,
    NO_USER_FACTS,
    DeviceState,
    UserFactsConflict,
    UserTimeline,
    advance,
    apply,
    next_deadline,
    timeline_from_record,
)
from streams.users import deactivate_user, end_leave, put_on_leave, reactivate_user
from tests.unit.factories import T0, heartbeat, progress

HOUR = timedelta(hours=1)
TICKS = [T0 + n * HOUR for n in range(0, 25 * 24 + 1)]

hours = st.integers(min_value=0, max_value=20 * 24)
telemetry = st.lists(
    st.one_of(
        st.builds(lambda h: heartbeat(T0 + h * HOUR), st.integers(-3 * 24, 20 * 24)),
        st.builds(
            lambda h, p, b: progress(
                T0 + h * HOUR,
                percent=p,
                bytes_sent=b,
                session_state="completed" if p >= 100 else "sending",
            ),
            st.integers(-3 * 24, 20 * 24),
            st.sampled_from([50.0, 100.0]),
            st.sampled_from([0, 1000]),
        ),
    ),
    min_size=1,
    max_size=10,
)
actions = st.lists(
    st.tuples(
        hours,
        st.sampled_from(["leave", "end_leave", "deactivate", "reactivate"]),
        st.integers(min_value=1, max_value=10 * 24),
    ),
    max_size=6,
)


def _records(plan: list[tuple[int, str, int]]) -> list[tuple[datetime, UserFacts]]:
    """The user's record after each action that the facts allow, with its instant."""
    record: UserFacts | None = None
    made = []
    for n, (hour, action, length) in enumerate(sorted(plan)):
        at = T0 + hour * HOUR
        edited = T0 + timedelta(days=100, seconds=n)
        try:
            if action == "leave":
                record = put_on_leave(
                    record, "user-1", at=at, until=at + length * HOUR, updated_at=edited
                )
            elif action == "end_leave":
                record = end_leave(record, "user-1", at=at, updated_at=edited)
            elif action == "deactivate":
                record = deactivate_user(record, "user-1", at=at, updated_at=edited)
            else:
                record = reactivate_user(record, "user-1", at=at, updated_at=edited)
        except UserFactsConflict:
            continue
        made.append((at, record))
    return made


def _worker(events: list[Any], facts_at: Any) -> tuple[set[str], DeviceState]:
    """Ticks every hour; each event is applied after the tick before it (as its producer
    wrote it), the device decided at every tick where it is due. `facts_at(now)` is the
    user's record the worker holds at that tick."""
    state: DeviceState | None = None
    ids: set[str] = set()
    pending = sorted(events, key=lambda e: e.event_time)
    for now in TICKS:
        user = facts_at(now)
        if state is not None:
            deadline = next_deadline(state, DEFAULT_POLICY, user)
            if deadline is not None and deadline <= now:
                state, made = advance(state, now, DEFAULT_POLICY, user=user)
                ids |= {t.alert_id for t in made}
        while pending and pending[0].event_time <= now:
            state, made = apply(state, pending.pop(0), now, DEFAULT_POLICY)
            ids |= {t.alert_id for t in made}
    assert state is not None
    return ids, state


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=telemetry, plan=actions, data=st.data())
def test_live_and_replayed_facts_decide_the_same_alert_ids(
    events: list[Any], plan: list[tuple[int, str, int]], data: Any
) -> None:
    records = _records(plan)
    final = timeline_from_record(records[-1][1]) if records else NO_USER_FACTS

    def live(now: datetime) -> UserTimeline:
        known = [record for at, record in records if at <= now]
        return timeline_from_record(known[-1]) if known else NO_USER_FACTS

    ids_live, state_live = _worker(events, live)
    ids_replayed, state_replayed = _worker(data.draw(st.permutations(events)), lambda _: final)
    assert ids_live == ids_replayed
    assert state_live.connection == state_replayed.connection
    assert state_live.destinations == state_replayed.destinations
    assert state_live.user_hold == state_replayed.user_hold


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=telemetry, plan=actions)
def test_next_deadline_with_user_facts_is_never_later_than_a_transition(
    events: list[Any], plan: list[tuple[int, str, int]]
) -> None:
    records = _records(plan)
    user = timeline_from_record(records[-1][1]) if records else NO_USER_FACTS
    state: DeviceState | None = None
    for event in events:
        state, _ = apply(state, event, T0, DEFAULT_POLICY)
    assert state is not None
    for now in TICKS:
        deadline = next_deadline(state, DEFAULT_POLICY, user)
        after, made = advance(state, now, DEFAULT_POLICY, user=user)
        if made:
            assert deadline is not None and deadline <= now, (deadline, now, made)
        state = after
