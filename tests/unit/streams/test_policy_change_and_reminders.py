"""A policy change re-evaluates against the new thresholds; reminders repeat open alerts."""

from __future__ import annotations

from datetime import timedelta

from streams import DEFAULT_POLICY, Policy, Thresholds, advance, apply, next_deadline
from tests.unit.factories import DAY, T0, healthy, heartbeat, kinds


def test_a_stricter_policy_opens_an_alert_at_the_next_decision() -> None:
    state, transitions = advance(healthy(), T0 + 2 * DAY, DEFAULT_POLICY)
    assert transitions == []
    strict = Policy(connection=Thresholds(timedelta(days=1), timedelta(days=2)))
    state, transitions = advance(state, T0 + 2 * DAY, strict, reason="policy_changed")
    assert ("connection", "ok", "critical") in kinds(transitions)
    assert {t.reason for t in transitions} == {"policy_changed"}


def test_a_looser_policy_resolves_an_open_alert() -> None:
    state, _ = advance(healthy(), T0 + 4 * DAY, DEFAULT_POLICY)
    assert state.connection.level == "warning"
    loose = Policy(connection=Thresholds(timedelta(days=10), timedelta(days=20)))
    state, transitions = advance(state, T0 + 4 * DAY, loose, reason="policy_changed")
    assert ("connection", "warning", "ok") in kinds(transitions)


def test_reminders_are_off_by_default() -> None:
    state, _ = advance(healthy(), T0 + 5 * DAY, DEFAULT_POLICY)
    state, transitions = advance(state, T0 + 5 * DAY + timedelta(hours=30), DEFAULT_POLICY)
    assert transitions == []


def test_reminders_repeat_an_open_alert_at_the_interval() -> None:
    policy = Policy(reminder_interval=timedelta(hours=12))
    state, _ = advance(healthy(), T0 + 5 * DAY, policy)
    assert state.connection.level == "critical"
    at = T0 + 5 * DAY + timedelta(hours=12)
    assert next_deadline(state, policy) == at
    state, early = advance(state, at - timedelta(seconds=1), policy)
    assert [t for t in early if t.kind == "connection"] == []
    state, reminded = advance(state, at, policy)
    (reminder,) = [t for t in reminded if t.kind == "connection"]
    assert reminder.name == "reminder"
    assert reminder.from_level == reminder.to_level == "critical"
    state, again = advance(state, at + timedelta(hours=12), policy)
    (second,) = [t for t in again if t.kind == "connection"]
    assert second.alert_id != reminder.alert_id


def test_a_device_that_moves_org_is_decided_for_its_news_not_for_a_policy_change() -> None:
    # Silent in org-1 until a connection warning; then a heartbeat names org-2, whose
    # policy is another revision: the alert resolves because the device is back.
    org_1 = Policy(revision="org-1's")
    org_2 = Policy(revision="org-2's")
    state, _ = apply(None, heartbeat(T0), T0, org_1)
    state, _ = advance(state, T0, org_1)
    state, opened = advance(state, T0 + 3 * DAY, org_1)
    assert [(t.kind, t.reason) for t in opened if t.kind == "connection"] == [
        ("connection", "threshold")
    ]

    back = T0 + 3 * DAY + timedelta(hours=1)
    state, _ = apply(state, heartbeat(back, org_id="org-2"), back, org_2)
    state, decided = advance(state, back, org_2)

    connection = [(t.to_level, t.reason) for t in decided if t.kind == "connection"]
    assert connection == [("ok", "new_event")]
    assert {t.reason for t in decided} == {"new_event"}
    assert (state.org_id, state.policy_revision) == ("org-2", "org-2's")
