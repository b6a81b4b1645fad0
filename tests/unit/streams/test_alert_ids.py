"""Alert ids are deterministic: device, kind, destination, transition, episode start."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from streams import DEFAULT_POLICY, Policy, Thresholds, advance, alert_id, apply
from tests.unit.factories import DAY, T0, command, healthy, heartbeat


def test_the_same_transition_of_the_same_episode_has_the_same_id() -> None:
    _, first = advance(healthy(), T0 + 3 * DAY, DEFAULT_POLICY)
    # Decided a minute later (a later tick), it is still the same alert.
    _, second = advance(healthy(), T0 + 3 * DAY + timedelta(minutes=1), DEFAULT_POLICY)
    assert {t.alert_id for t in first} == {t.alert_id for t in second}


def test_every_part_of_the_key_changes_the_id() -> None:
    base = ("dev-1", "backup", "cloud", "ok", "warning", T0)
    ids = {alert_id(*base)}
    variants = [
        ("dev-2", "backup", "cloud", "ok", "warning", T0),
        ("dev-1", "completion", "cloud", "ok", "warning", T0),
        ("dev-1", "backup", "nas", "ok", "warning", T0),
        ("dev-1", "backup", "cloud", "warning", "critical", T0),
        ("dev-1", "backup", "cloud", "ok", "warning", T0 + timedelta(seconds=1)),
    ]
    for variant in variants:
        ids.add(alert_id(*variant))
    assert len(ids) == len(variants) + 1


def test_ids_do_not_depend_on_the_process() -> None:
    # A fixed value: a worker restarted with another hash seed must produce it too.
    import subprocess
    import sys

    code = (
        "from datetime import datetime, UTC; from streams import alert_id; "
        "print(alert_id('dev-1','connection',None,'ok','warning',datetime(2026,11,1,tzinfo=UTC)))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


# --- an alert that repeats with one reference time is a new alert ----------------------
# The reference (here the last contact, T0) does not move while the device stays
# silent, so a reopened or re-escalated alert would otherwise repeat an id already sent,
# and consumers, which drop a repeated id, would never see it.

HOUR = timedelta(hours=1)


def _connection_ids(steps: list[tuple[datetime, Policy, list[Any]]]) -> list[str]:
    state = healthy()
    ids = []
    for now, policy, events in steps:
        for event in events:
            state, at_once = apply(state, event, now, policy)
            ids += [t.alert_id for t in at_once if t.kind == "connection"]
        state, decided = advance(state, now, policy)
        ids += [t.alert_id for t in decided if t.kind == "connection"]
    return ids


def test_an_alert_reopened_after_a_policy_change_has_a_new_id() -> None:
    looser = Policy(connection=Thresholds(4 * DAY, 6 * DAY), revision="looser")

    ids = _connection_ids(
        [
            (T0 + 3 * DAY, DEFAULT_POLICY, []),  # opened
            (T0 + 3 * DAY + HOUR, looser, []),  # resolved: within the new thresholds
            (T0 + 4 * DAY, looser, []),  # opened again
        ]
    )

    assert len(ids) == 3
    assert len(set(ids)) == 3


def test_each_deactivation_and_reactivation_of_a_silent_device_has_new_ids() -> None:
    now = T0 + 6 * DAY
    steps: list[tuple[datetime, Policy, list[Any]]] = [(now, DEFAULT_POLICY, [])]
    for hours, action in enumerate(["deactivate", "reactivate"] * 2, start=1):
        steps.append((now + hours * HOUR, DEFAULT_POLICY, [command(action, now + hours * HOUR)]))

    ids = _connection_ids(steps)

    # Opened, then each cycle: resolved by the deactivation, reopened after.
    assert len(ids) == 5
    assert len(set(ids)) == 5


def test_a_second_escalation_after_a_late_event_has_a_new_id() -> None:
    state, ids = healthy(), []
    for now, events in [
        (T0 + 3 * DAY, []),  # warning
        (T0 + 5 * DAY, []),  # critical
        # A contact made at T0 + 12 h reported late: back to warning...
        (T0 + 5 * DAY + HOUR, [heartbeat(T0 + 12 * HOUR)]),
        # ...and critical again once five days have passed since it.
        (T0 + 5 * DAY + 12 * HOUR, []),
    ]:
        for event in events:
            state, _ = apply(state, event, now, DEFAULT_POLICY)
        state, decided = advance(state, now, DEFAULT_POLICY)
        ids += [(t.name, t.alert_id) for t in decided if t.kind == "connection"]

    assert [name for name, _ in ids] == ["opened", "escalated", "deescalated", "escalated"]
    assert len({alert_id for _, alert_id in ids}) == 4


def test_a_slot_s_first_transitions_keep_the_ids_they_had_before_slots_counted() -> None:
    # Ids of alerts in flight when a worker is upgraded stay the same.
    _, decided = advance(healthy(), T0 + 3 * DAY, DEFAULT_POLICY)
    connection = next(t for t in decided if t.kind == "connection")

    assert connection.sequence == 0
    assert connection.alert_id == alert_id(
        "dev-1", "connection", None, "ok", "warning", connection.episode_start
    )
