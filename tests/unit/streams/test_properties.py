"""Properties of the state machine over generated event histories (hypothesis)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from streams import DEFAULT_POLICY, DeviceState, Policy, Thresholds, advance, apply, next_deadline
from streams.machine import RECENT_EVENTS
from streams.state import pack_fingerprints
from tests.unit.factories import DAY, T0, command, heartbeat, progress

HOUR = timedelta(hours=1)

offsets = st.integers(min_value=-20 * 24, max_value=0).map(lambda h: T0 + h * HOUR)
destinations = st.sampled_from(["cloud", "nas"])


@st.composite
def heartbeats(draw: Any) -> Any:
    return heartbeat(
        draw(offsets),
        reachable_destinations=draw(
            st.sampled_from([[], ["cloud"], ["nas"], ["cloud", "nas"], ["nas", "cloud", "nas"]])
        ),
        backup_paused=draw(st.booleans()),
        service_state=draw(st.sampled_from(["running", "running", "stopping"])),
        hostname=draw(st.sampled_from(["a", "b"])),
    )


@st.composite
def reports(draw: Any) -> Any:
    percent = draw(st.sampled_from([0.0, 42.0, 99.5, 100.0]))
    return progress(
        draw(offsets),
        destination=draw(destinations),
        percent=percent,
        session_state=draw(st.sampled_from(["sending", "idle", "completed", "paused"])),
        bytes_sent=draw(st.sampled_from([0, 1, 10_000_000])),
        errors={"locked": draw(st.integers(0, 3)), "vanished": draw(st.integers(0, 2))},
    )


events = st.lists(st.one_of(heartbeats(), reports()), min_size=1, max_size=12)


def _fold(
    history: list[Any], now: Any, policy: Policy = DEFAULT_POLICY
) -> tuple[DeviceState, set[str]]:
    state = None
    ids: set[str] = set()
    for event in history:
        state, decided = apply(state, event, now, policy)
        ids |= {t.alert_id for t in decided}
    assert state is not None
    state, decided = advance(state, now, policy)
    return state, ids | {t.alert_id for t in decided}


def _canonical(state: DeviceState) -> DeviceState:
    # The arrival order of the duplicate-detection ring is the only thing order may change.
    return replace(state, recent=pack_fingerprints(sorted(set(state.fingerprints))))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(history=events, data=st.data())
def test_any_permutation_gives_the_same_state_and_alert_ids(history: list[Any], data: Any) -> None:
    shuffled = data.draw(st.permutations(history))
    state_a, ids_a = _fold(history, T0)
    state_b, ids_b = _fold(shuffled, T0)
    assert _canonical(state_a) == _canonical(state_b)
    assert ids_a == ids_b


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(history=events, data=st.data())
def test_duplicating_events_gives_the_same_state_and_alert_ids(
    history: list[Any], data: Any
) -> None:
    # A producer retry re-sends a record shortly after the original (within the
    # duplicate-detection ring); replays of the log itself are caught by offsets.
    with_duplicates: list[Any] = []
    for event in history:
        with_duplicates.append(event)
        if data.draw(st.booleans()):
            back = data.draw(st.integers(0, min(len(with_duplicates) - 1, RECENT_EVENTS // 2)))
            with_duplicates.append(with_duplicates[-1 - back])
    state_a, ids_a = _fold(history, T0)
    state_b, ids_b = _fold(with_duplicates, T0)
    assert _canonical(state_a) == _canonical(state_b)
    assert ids_a == ids_b


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=events,
    reminder=st.sampled_from([None, timedelta(hours=7)]),
    snooze=st.sampled_from([None, 2, 9]),
)
def test_next_deadline_is_never_later_than_the_first_transition(
    history: list[Any], reminder: timedelta | None, snooze: int | None
) -> None:
    policy = Policy(
        connection=Thresholds(timedelta(days=3), timedelta(days=5)),
        reminder_interval=reminder,
    )
    state, _ = _fold(history, T0, policy)
    if snooze is not None:
        state, _ = apply(state, command("snooze", T0, snooze_until=T0 + snooze * DAY), T0, policy)
        assert state is not None
    # Step time forward in 10-minute steps over 30 days; before each deadline nothing may
    # change, and at a transition the deadline must have been due.
    now = T0
    for _ in range(30 * 144):
        deadline = next_deadline(state, policy)
        now += timedelta(minutes=10)
        state_after, transitions = advance(state, now, policy)
        if transitions:
            assert deadline is not None and deadline <= now, (deadline, now, transitions)
        if deadline is None or deadline > now:
            assert state_after.connection == state.connection
            assert state_after.destinations == state.destinations
        state = state_after
