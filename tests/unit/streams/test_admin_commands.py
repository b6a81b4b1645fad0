"""Deactivation, snoozes and user changes, ordered with the telemetry."""

from __future__ import annotations

from streams import DEFAULT_POLICY, advance, apply, next_deadline
from tests.unit.factories import DAY, SECOND, T0, command, healthy, heartbeat, kinds, run


def _critical_device():  # type: ignore[no-untyped-def]
    state, _ = advance(healthy(), T0 + 8 * DAY, DEFAULT_POLICY)
    assert state.connection.level == "critical"
    return state


def test_deactivation_resolves_every_open_alert_at_once_with_its_reason() -> None:
    state = _critical_device()
    now = T0 + 8 * DAY
    state, transitions = apply(state, command("deactivate", now), now, DEFAULT_POLICY)
    assert state is not None
    assert sorted(kinds(transitions)) == [
        ("backup", "critical", "ok"),
        ("connection", "critical", "ok"),
    ]
    assert {t.reason for t in transitions} == {"deactivated"}
    assert {t.name for t in transitions} == {"resolved"}
    assert state.deactivated


def test_a_deactivated_device_emits_nothing() -> None:
    now = T0 + DAY
    state, _ = run([command("deactivate", now)], now=now, state=healthy())
    for day in (3, 5, 7, 14, 30):
        state, transitions = advance(state, T0 + day * DAY, DEFAULT_POLICY)
        assert transitions == []
    assert next_deadline(state, DEFAULT_POLICY) is None


def test_reactivation_resumes_from_the_true_state() -> None:
    state, _ = run([command("deactivate", T0 + DAY)], now=T0 + DAY, state=healthy())
    now = T0 + 6 * DAY
    state, transitions = run([command("reactivate", now)], now=now, state=state)
    assert ("connection", "ok", "critical") in kinds(transitions)


def test_commands_applied_out_of_order_end_in_issue_order() -> None:
    deactivate = command("deactivate", T0 + DAY)
    reactivate = command("reactivate", T0 + 2 * DAY)
    state, _ = run([reactivate, deactivate], now=T0 + 2 * DAY, state=healthy())
    assert not state.deactivated


def test_a_snooze_suppresses_until_its_end_then_alerts_resume_from_the_true_state() -> None:
    until = T0 + 10 * DAY
    state, _ = run([command("snooze", T0, snooze_until=until)], now=T0, state=healthy())
    assert next_deadline(state, DEFAULT_POLICY) == until
    for day in (3, 5, 7, 9):
        state, transitions = advance(state, T0 + day * DAY, DEFAULT_POLICY)
        assert transitions == []
    state, transitions = advance(state, until, DEFAULT_POLICY)
    assert ("connection", "ok", "critical") in kinds(transitions)
    assert {t.reason for t in transitions} == {"snooze_ended"}
    assert state.snoozed_until is None


def test_unsnooze_ends_the_snooze_early() -> None:
    state, _ = run([command("snooze", T0, snooze_until=T0 + 30 * DAY)], now=T0, state=healthy())
    now = T0 + 4 * DAY
    state, transitions = run([command("unsnooze", now)], now=now, state=state)
    assert ("connection", "ok", "warning") in kinds(transitions)


def test_a_snooze_that_already_ended_has_no_effect() -> None:
    now = T0 + DAY
    state, _ = run([command("snooze", now, snooze_until=now - SECOND)], now=now, state=healthy())
    assert state.snoozed_until is None


def test_set_user_replaced_and_left_org_are_recorded() -> None:
    state, _ = run(
        [
            command("user_left_org", T0),
            command("replaced", T0, replaced_by="dev-2"),
        ],
        state=healthy(),
    )
    assert state.user_left_org and state.replaced_by == "dev-2"
    state, _ = run([command("set_user", T0 + SECOND, user_id="user-9")], state=state)
    assert state.user_id == "user-9" and not state.user_left_org


def test_heartbeats_after_deactivation_do_not_alert() -> None:
    now = T0 + DAY
    state, _ = run([command("deactivate", now)], now=now, state=healthy())
    later = T0 + 20 * DAY
    state, transitions = run([heartbeat(T0 + 2 * DAY)], now=later, state=state)
    assert transitions == []
