"""Alerts are emitted on transitions only: ok→warning→critical→ok, never twice for a state."""

from __future__ import annotations

from streams import DEFAULT_POLICY, advance
from tests.unit.factories import DAY, SECOND, T0, healthy, heartbeat, kinds, progress, run


def test_connection_warning_fires_once_at_three_days() -> None:
    state = healthy()
    fired = []
    for step in range(0, 4 * 24 * 6):  # every 10 minutes for 4 days
        state, transitions = advance(state, T0 + step * DAY / 144, DEFAULT_POLICY)
        fired += kinds(transitions)
    assert fired.count(("connection", "ok", "warning")) == 1
    assert ("connection", "warning", "critical") not in fired


def test_silence_walks_ok_warning_critical_then_a_heartbeat_resolves() -> None:
    state = healthy()
    state, opened = advance(state, T0 + 3 * DAY, DEFAULT_POLICY)
    state, escalated = advance(state, T0 + 5 * DAY, DEFAULT_POLICY)
    state, again = advance(state, T0 + 5 * DAY + SECOND, DEFAULT_POLICY)
    back = T0 + 6 * DAY
    state, resolved = run([heartbeat(back)], now=back, state=state)
    assert ("connection", "ok", "warning") in kinds(opened)
    assert ("connection", "warning", "critical") in kinds(escalated)
    assert kinds(again) == []
    assert ("connection", "critical", "ok") in kinds(resolved)
    names = {t.kind: t.name for t in resolved}
    assert names["connection"] == "resolved"
    assert state.connection.level == "ok"


def test_a_device_first_seen_already_silent_past_critical_goes_straight_to_critical() -> None:
    now = T0 + 10 * DAY
    # Its only heartbeat is ten days old and it reached no destination then.
    _, transitions = run([heartbeat(T0, reachable_destinations=[])], now=now)
    assert ("connection", "ok", "critical") in kinds(transitions)
    (connection,) = [t for t in transitions if t.kind == "connection"]
    assert connection.name == "opened"
    assert connection.episode_start == T0


def test_nothing_is_decided_until_the_clock_says_so() -> None:
    # Telemetry alone changes facts; alerts come from `advance`, on the clock.
    from streams import apply

    state = healthy()
    state, _ = advance(state, T0 + 4 * DAY, DEFAULT_POLICY)
    assert state.connection.level == "warning"
    state, decided = apply(state, heartbeat(T0 + 4 * DAY), T0 + 4 * DAY, DEFAULT_POLICY)
    assert decided == []
    assert state is not None and state.connection.level == "warning"
    state, decided = advance(state, T0 + 4 * DAY, DEFAULT_POLICY)
    assert kinds(decided) == [("connection", "warning", "ok")]


def test_warning_to_ok_to_warning_opens_a_new_episode_with_a_new_id() -> None:
    state = healthy()
    state, first = advance(state, T0 + 3 * DAY, DEFAULT_POLICY)
    back = T0 + 3 * DAY + SECOND
    state, _ = run([heartbeat(back), progress(back)], now=back, state=state)
    state, second = advance(state, back + 3 * DAY, DEFAULT_POLICY)
    first_open = [t for t in first if t.kind == "connection"][0]
    second_open = [t for t in second if t.kind == "connection"][0]
    assert first_open.name == second_open.name == "opened"
    assert first_open.alert_id != second_open.alert_id
    assert second_open.episode_start == back


def test_an_escalation_keeps_the_episode_start() -> None:
    state = healthy()
    state, opened = advance(state, T0 + 3 * DAY, DEFAULT_POLICY)
    state, escalated = advance(state, T0 + 5 * DAY, DEFAULT_POLICY)
    (a,) = [t for t in opened if t.kind == "connection"]
    (b,) = [t for t in escalated if t.kind == "connection"]
    assert a.episode_start == b.episode_start == T0
    assert b.threshold_s == 5 * 86400
    assert b.observed_s == 5 * 86400
