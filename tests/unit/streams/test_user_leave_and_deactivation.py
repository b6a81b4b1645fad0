"""A user's leave and deactivation decide a device's alerts like its own snooze and
deactivation, at each decision's `now`, for every alert kind, whatever user the device
had before."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from schemas.models import OrgPolicy, UserFacts
from streams import (
    DEFAULT_POLICY,
    NO_USER_FACTS,
    DeviceState,
    UserTimeline,
    advance,
    apply,
    next_deadline,
    policy_from_record,
    timeline_from_record,
)
from streams.diagnosis import diagnose
from streams.transitions import Transition
from streams.users import deactivate_user, end_leave, put_on_leave, reactivate_user
from tests.unit.factories import DAY, SECOND, T0, command, healthy, heartbeat, kinds, progress

EDIT = T0 + 100 * DAY


def leave(start: datetime, until: datetime, user: str = "user-1") -> UserTimeline:
    record = put_on_leave(
        None, user, at=start, until=until, reason="parental leave", actor="api", updated_at=EDIT
    )
    return timeline_from_record(record)


def deactivated(start: datetime, end: datetime | None = None, user: str = "user-1") -> UserTimeline:
    record: UserFacts = deactivate_user(None, user, at=start, reason="left", updated_at=EDIT)
    if end is not None:
        record = reactivate_user(record, user, at=end, updated_at=EDIT)
    return timeline_from_record(record)


def decide(
    state: DeviceState, times: list[datetime], user: UserTimeline = NO_USER_FACTS
) -> tuple[DeviceState, list[Transition]]:
    """Decide at each time, in order; every transition made."""
    made: list[Transition] = []
    for now in times:
        state, transitions = advance(state, now, DEFAULT_POLICY, user=user)
        made += transitions
    return state, made


# Devices in trouble of one kind each, from T0 on (default thresholds: connection 3/5,
# backup 3/7, completion 7/14 days).
def _silent() -> DeviceState:
    """Heard from at T0, then nothing: connection and backup alerts."""
    return healthy()


def _not_backing_up(days: int = 30) -> DeviceState:
    """Reaches its destination every day, never sends new data after T0: backup alerts."""
    state: DeviceState | None = healthy()
    for day in range(1, days):
        state, _ = apply(state, heartbeat(T0 + day * DAY), T0 + day * DAY, DEFAULT_POLICY)
    assert state is not None
    return state


def _never_completing(days: int = 30) -> DeviceState:
    """Sends data every day, never reaches 100 % after T0: completion alerts."""
    state: DeviceState | None = healthy()
    for day in range(1, days):
        at = T0 + day * DAY
        state, _ = apply(state, heartbeat(at), at, DEFAULT_POLICY)
        state, _ = apply(
            state, progress(at, percent=60.0, session_state="sending"), at, DEFAULT_POLICY
        )
    assert state is not None
    return state


# kind -> (device, the day its warning opens)
KINDS = {
    "connection": (_silent, 3),
    "backup": (_not_backing_up, 3),
    "completion": (_never_completing, 7),
}


def _of(transitions: list[Transition], kind: str) -> list[tuple[str, str, str]]:
    return [(t.from_level, t.to_level, t.reason) for t in transitions if t.kind == kind]


@pytest.mark.parametrize("kind", KINDS)
def test_a_leave_over_a_threshold_suppresses_the_alert_until_it_ends(kind: str) -> None:
    make, warning_day = KINDS[kind]
    start, end = T0 + (warning_day - 1) * DAY, T0 + (warning_day + 1) * DAY
    user = leave(start, end)
    state, made = decide(
        make(), [T0 + warning_day * DAY - SECOND, T0 + warning_day * DAY, end - SECOND], user
    )
    assert _of(made, kind) == []
    assert state.user_hold is not None and state.user_hold.kind == "leave"
    # Due exactly when the leave ends, and alerting from the true state then.
    assert next_deadline(state, DEFAULT_POLICY, user) == end
    state, made = decide(state, [end], user)
    assert ("ok", "warning", "leave_ended") in _of(made, kind)
    assert state.user_hold is None


@pytest.mark.parametrize("kind", KINDS)
def test_a_leave_that_ends_before_the_threshold_leaves_the_alert_at_its_threshold(
    kind: str,
) -> None:
    make, warning_day = KINDS[kind]
    threshold = T0 + warning_day * DAY
    user = leave(T0 + DAY, threshold - SECOND)
    state, made = decide(make(), [T0 + DAY, threshold - SECOND], user)
    assert _of(made, kind) == []
    state, made = decide(state, [threshold], user)
    assert _of(made, kind) == [("ok", "warning", "threshold")]


@pytest.mark.parametrize("kind", KINDS)
def test_a_user_deactivation_resolves_the_open_alert_and_stops_new_ones(kind: str) -> None:
    make, warning_day = KINDS[kind]
    opened = T0 + warning_day * DAY
    user = deactivated(opened + DAY)
    state, made = decide(make(), [opened], user)
    assert _of(made, kind) == [("ok", "warning", "threshold")]
    state, made = decide(state, [opened + DAY - SECOND, opened + DAY], user)
    assert _of(made, kind) == [("warning", "ok", "user_deactivated")]
    assert {t.name for t in made} == {"resolved"}
    state, made = decide(state, [opened + n * DAY for n in (2, 5, 10, 20)], user)
    assert made == []
    assert next_deadline(state, DEFAULT_POLICY, user) is None


@pytest.mark.parametrize("kind", KINDS)
def test_a_reactivated_user_s_device_alerts_again_from_its_true_state_with_a_new_id(
    kind: str,
) -> None:
    make, warning_day = KINDS[kind]
    opened = T0 + warning_day * DAY
    back = opened + 2 * DAY
    user = deactivated(opened + DAY, back)
    state, first = decide(make(), [opened, opened + DAY], user)
    assert next_deadline(state, DEFAULT_POLICY, user) == back
    state, again = decide(state, [back - SECOND, back], user)
    reopened = [t for t in again if t.kind == kind]
    assert reopened and reopened[0].from_level == "ok" and reopened[0].to_level != "ok"
    # The same episode, reopened: an alert of its own.
    assert reopened[0].alert_id not in {t.alert_id for t in first}


def test_a_device_on_leave_when_it_first_reports_stays_quiet_until_the_leave_ends() -> None:
    user = leave(T0 - DAY, T0 + 10 * DAY)
    state, made = decide(healthy(), [T0 + n * DAY for n in range(10)], user)
    assert made == []
    state, made = decide(state, [T0 + 10 * DAY], user)
    assert sorted(kinds(made)) == [("backup", "ok", "critical"), ("connection", "ok", "critical")]
    assert {t.reason for t in made} == {"leave_ended"}


def test_a_device_that_moves_to_a_user_on_leave_follows_its_new_user() -> None:
    on_leave = leave(T0, T0 + 30 * DAY, user="user-2")
    state, _ = decide(healthy(), [T0])
    # The old user's device, then the new user's (a heartbeat names them).
    state, _ = apply(state, heartbeat(T0 + DAY, user_id="user-2"), T0 + DAY, DEFAULT_POLICY)
    assert state is not None and state.user_id == "user-2"
    # Its user's record is another revision: due at once.
    assert next_deadline(state, DEFAULT_POLICY, on_leave) is not None
    assert next_deadline(state, DEFAULT_POLICY, on_leave) <= T0 + DAY  # type: ignore[operator]
    state, made = decide(state, [T0 + n * DAY for n in range(1, 30)], on_leave)
    assert made == []


def test_a_device_that_leaves_a_deactivated_user_alerts_again_under_its_new_user() -> None:
    gone = deactivated(T0, user="user-1")
    state, made = decide(healthy(), [T0 + 4 * DAY], gone)
    assert made == [] and state.user_hold is not None
    state, _ = apply(
        state, command("set_user", T0 + 4 * DAY, user_id="user-3"), T0 + 4 * DAY, DEFAULT_POLICY
    )
    assert state is not None
    # user-3 has no facts: the device's own state decides again.
    assert next_deadline(state, DEFAULT_POLICY, NO_USER_FACTS) is not None
    state, made = decide(state, [T0 + 4 * DAY + SECOND], NO_USER_FACTS)
    assert state.user_hold is None
    assert ("connection", "ok", "warning") in kinds(made)


def test_a_policy_change_during_a_snooze_surfaces_as_a_policy_change() -> None:
    looser = policy_from_record(
        OrgPolicy(
            org_id="org-1",
            updated_at=T0 + 4 * DAY,
            connection_warning_days=10,
            connection_critical_days=20,
            backup_warning_days=10,
            backup_critical_days=20,
        )
    )
    state, made = decide(healthy(), [T0 + 3 * DAY])
    assert ("connection", "ok", "warning") in kinds(made)
    until = T0 + 6 * DAY
    state, _ = apply(state, command("snooze", T0 + 3 * DAY, snooze_until=until), T0, DEFAULT_POLICY)
    assert state is not None
    state, made = advance(state, T0 + 5 * DAY, looser)
    assert made == []
    assert next_deadline(state, looser) == until
    state, made = advance(state, until, looser)
    assert {(t.kind, t.to_level, t.reason) for t in made} == {
        ("connection", "ok", "policy_changed"),
        ("backup", "ok", "policy_changed"),
    }


def test_a_policy_change_during_a_leave_surfaces_as_a_policy_change() -> None:
    tighter = policy_from_record(
        OrgPolicy(
            org_id="org-1",
            updated_at=T0 + DAY,
            connection_warning_days=1,
            connection_critical_days=2,
        )
    )
    user = leave(T0 + DAY / 2, T0 + 2 * DAY)
    state, _ = decide(healthy(), [T0 + DAY / 2], user)
    state, made = advance(state, T0 + DAY, tighter, user=user)
    assert made == []
    state, made = advance(state, T0 + 2 * DAY, tighter, user=user)
    assert ("connection", "ok", "critical", "policy_changed") in [
        (t.kind, t.from_level, t.to_level, t.reason) for t in made
    ]


def test_without_a_policy_change_a_leave_ends_as_leave_ended_and_a_snooze_as_snooze_ended() -> None:
    state, made = decide(healthy(), [T0])
    state, _ = apply(state, command("snooze", T0, snooze_until=T0 + 4 * DAY), T0, DEFAULT_POLICY)
    assert state is not None
    state, made = decide(state, [T0 + 4 * DAY])
    assert {t.reason for t in made} == {"snooze_ended"}


def test_a_leave_ended_early_by_the_admin_ends_at_that_instant() -> None:
    record = put_on_leave(None, "user-1", at=T0, until=T0 + 30 * DAY, updated_at=EDIT)
    ended = timeline_from_record(end_leave(record, "user-1", at=T0 + 4 * DAY, updated_at=EDIT))
    state, made = decide(healthy(), [T0 + DAY, T0 + 4 * DAY - SECOND], ended)
    assert made == []
    state, made = decide(state, [T0 + 4 * DAY], ended)
    assert ("connection", "ok", "warning") in kinds(made)


def test_the_diagnosis_names_the_leave_and_the_deactivation_with_certainty() -> None:
    state, _ = decide(healthy(), [T0 + 4 * DAY], leave(T0 + DAY, T0 + 30 * DAY))
    for kind in ("connection", "backup"):
        top = diagnose(state, kind, T0 + 4 * DAY)[0]  # type: ignore[arg-type]
        assert (top.code, top.score) == ("extended_leave_or_powered_off", 1.0)
        assert top.evidence["user_on_leave_until"] == (T0 + 30 * DAY).isoformat()
        assert top.evidence["reason"] == "parental leave"
    state, _ = decide(healthy(), [T0 + 4 * DAY], deactivated(T0 + DAY))
    top = diagnose(state, "connection", T0 + 4 * DAY)[0]
    assert (top.code, top.score) == ("left_organization", 1.0)
    assert top.evidence["user_deactivated_since"] == (T0 + DAY).isoformat()


def test_a_leave_decides_nothing_for_a_deactivated_device_and_resumes_with_it() -> None:
    state, _ = apply(healthy(), command("deactivate", T0), T0, DEFAULT_POLICY)
    assert state is not None
    user = leave(T0 + DAY, T0 + 2 * DAY)
    state, made = decide(state, [T0 + n * DAY for n in range(1, 5)], user)
    assert made == []


def test_a_user_hold_moves_the_deadline_of_a_device_with_nothing_else_due() -> None:
    # Decided while the leave is in the future (a record known before the clock reaches
    # it: a worker behind, a replay): due when it starts, then when it ends.
    user = leave(T0 + timedelta(hours=5), T0 + timedelta(hours=9))
    state, _ = decide(healthy(), [T0], user)
    assert next_deadline(state, DEFAULT_POLICY, user) == T0 + timedelta(hours=5)
    state, _ = decide(state, [T0 + timedelta(hours=5)], user)
    assert state.user_hold is not None
    assert next_deadline(state, DEFAULT_POLICY, user) == T0 + timedelta(hours=9)
