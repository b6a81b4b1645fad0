"""A device with a clock in the future cannot move time: its times are clamped."""

from __future__ import annotations

from datetime import timedelta

from streams import DEFAULT_POLICY, Policy
from tests.unit.factories import DAY, T0, healthy, heartbeat, progress, run


def test_a_heartbeat_from_the_future_is_clamped_to_now_plus_max_skew() -> None:
    state, _ = run([heartbeat(T0 + 30 * DAY)], now=T0, state=healthy())
    assert state.last_heartbeat == T0 + DEFAULT_POLICY.max_skew
    assert state.clamped_events == 1
    assert state.last_clamped_at == T0


def test_times_within_the_allowed_skew_are_kept() -> None:
    at = T0 + timedelta(minutes=4)
    state, _ = run([heartbeat(at)], now=T0, state=healthy())
    assert state.last_heartbeat == at
    assert state.clamped_events == 0


def test_a_future_clock_cannot_hide_silence() -> None:
    # The device claims new data "next month"; the clamped time still ages normally.
    policy = Policy(max_skew=timedelta(minutes=5))
    state, _ = run([progress(T0 + 30 * DAY)], now=T0, state=healthy(), policy=policy)
    state, transitions = run(
        [], now=T0 + 3 * DAY + timedelta(minutes=5), state=state, policy=policy
    )
    assert state.destinations[0].backup.level == "warning"


def test_clamping_applies_to_the_first_event_of_a_new_device() -> None:
    state, _ = run([heartbeat(T0 + 3 * DAY)], now=T0)
    assert state.first_seen == T0 + DEFAULT_POLICY.max_skew
    assert state.clamped_events == 1
