"""A threshold counts as reached at exactly its value, per kind and per destination."""

from __future__ import annotations

from datetime import timedelta

import pytest

from streams import DEFAULT_POLICY, Policy, Thresholds, advance
from tests.unit.factories import DAY, SECOND, T0, healthy, heartbeat, progress, run

# (kind, elapsed since the reference, expected level) with the default policy:
# connection 3/5 days, backup 3/7 days, completion 7/14 days.
CONNECTION = [
    (3 * DAY - SECOND, "ok"),
    (3 * DAY, "warning"),
    (5 * DAY - SECOND, "warning"),
    (5 * DAY, "critical"),
]
BACKUP = [
    (3 * DAY - SECOND, "ok"),
    (3 * DAY, "warning"),
    (7 * DAY - SECOND, "warning"),
    (7 * DAY, "critical"),
]
COMPLETION = [
    (7 * DAY - SECOND, "ok"),
    (7 * DAY, "warning"),
    (14 * DAY - SECOND, "warning"),
    (14 * DAY, "critical"),
]


@pytest.mark.parametrize(("elapsed", "level"), CONNECTION)
def test_connection_level_at_the_boundary(elapsed: timedelta, level: str) -> None:
    state = healthy()
    state, _ = advance(state, T0 + elapsed, DEFAULT_POLICY)
    assert state.connection.level == level


@pytest.mark.parametrize(("elapsed", "level"), BACKUP)
def test_backup_freshness_level_at_the_boundary(elapsed: timedelta, level: str) -> None:
    # The device keeps reaching the cloud destination (so connection stays ok) but
    # sends no new data and never completes after T0.
    state = healthy()
    now = T0 + elapsed
    state, _ = run([heartbeat(now)], now=now, state=state)
    assert state.connection.level == "ok"
    assert state.destinations[0].backup.level == level


@pytest.mark.parametrize(("elapsed", "level"), COMPLETION)
def test_completion_level_at_the_boundary(elapsed: timedelta, level: str) -> None:
    # Data keeps flowing (new bytes every report) but 100 % was last reached at T0.
    state = healthy()
    now = T0 + elapsed
    state, _ = run(
        [heartbeat(now), progress(now, percent=97.0, session_state="sending")],
        now=now,
        state=state,
    )
    dest = state.destinations[0]
    assert dest.backup.level == "ok"
    assert dest.completion.level == level


@pytest.mark.parametrize(("elapsed", "level"), BACKUP)
def test_each_destination_is_judged_on_its_own(elapsed: timedelta, level: str) -> None:
    state, _ = run(
        [
            heartbeat(T0, reachable_destinations=["cloud", "nas"]),
            progress(T0, destination="cloud"),
            progress(T0, destination="nas"),
        ]
    )
    now = T0 + elapsed
    # Only the cloud destination keeps receiving data.
    state, _ = run(
        [
            heartbeat(now, reachable_destinations=["cloud", "nas"]),
            progress(now, destination="cloud"),
        ],
        now=now,
        state=state,
    )
    levels = {d.destination_id: d.backup.level for d in state.destinations}
    assert levels == {"cloud": "ok", "nas": level}


def test_an_org_policy_moves_the_boundaries() -> None:
    policy = Policy(connection=Thresholds(timedelta(days=1), timedelta(days=2)))
    state = healthy()
    state, _ = advance(state, T0 + DAY - SECOND, policy)
    assert state.connection.level == "ok"
    state, _ = advance(state, T0 + DAY, policy)
    assert state.connection.level == "warning"
    state, _ = advance(state, T0 + 2 * DAY, policy)
    assert state.connection.level == "critical"
