"""What readers get: the device status and the alert record.

A device shows its worst destination; an alert carries the transition's id and, while
open, a diagnosis. (The user and org rollups are the report's: tests/unit/streams/
test_report.py.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
import orjson
import pytest
from jsonschema import Draft202012Validator

from schemas import Alert, DeviceStatus, decode_as, encode
from schemas.generate import JSON_DIR
from streams import (
    DEFAULT_POLICY,
    DeviceState,
    Policy,
    advance,
    device_status,
    to_alert,
)
from streams.state import Slot
from tests.unit.factories import DAY, SECOND, T0, healthy, heartbeat, progress, run

MINUTE = timedelta(minutes=1)


def two_destinations(device: str = "dev-1") -> DeviceState:
    events = [
        heartbeat(T0, device, reachable_destinations=["cloud", "nas"]),
        progress(T0, device, "cloud"),
        progress(T0, device, "nas"),
    ]
    state, _ = run(events, now=T0)
    return state


def with_levels(state: DeviceState, connection: str = "ok", **by_destination: Any) -> DeviceState:
    """`state` with alert levels set directly: `cloud=("warning", "ok")` sets the cloud
    destination's backup and completion levels."""
    destinations = []
    for dest in state.destinations:
        backup, completion = by_destination.get(dest.destination_id, ("ok", "ok"))
        destinations.append(
            msgspec.structs.replace(
                dest,
                backup=Slot(backup, T0) if backup != "ok" else Slot(),
                completion=Slot(completion, T0) if completion != "ok" else Slot(),
            )
        )
    return msgspec.structs.replace(
        state,
        connection=Slot(connection, T0) if connection != "ok" else Slot(),  # type: ignore[arg-type]
        destinations=tuple(destinations),
    )


# --- device_status -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cloud", "nas", "backup", "completion"),
    [
        (("ok", "ok"), ("ok", "ok"), "ok", "ok"),
        (("ok", "ok"), ("warning", "ok"), "warning", "ok"),
        (("warning", "ok"), ("critical", "ok"), "critical", "ok"),
        (("critical", "ok"), ("ok", "warning"), "critical", "warning"),
        (("ok", "critical"), ("ok", "warning"), "ok", "critical"),
    ],
)
def test_a_device_shows_the_worst_destination_of_each_kind(
    cloud: tuple[str, str], nas: tuple[str, str], backup: str, completion: str
) -> None:
    state = with_levels(two_destinations(), cloud=cloud, nas=nas)

    status = device_status(state, T0)

    assert status.alert_states == {"connection": "ok", "backup": backup, "completion": completion}
    assert [(d.backup_state, d.completion_state) for d in status.destinations] == [cloud, nas]


@pytest.mark.parametrize(
    ("connection", "cloud", "worst_state"),
    [
        ("ok", ("ok", "ok"), "ok"),
        ("warning", ("ok", "ok"), "warning"),
        ("ok", ("ok", "warning"), "warning"),
        ("warning", ("critical", "ok"), "critical"),
        ("critical", ("warning", "ok"), "critical"),
        ("ok", ("ok", "critical"), "critical"),
    ],
)
def test_the_device_state_is_the_worst_of_its_kinds(
    connection: str, cloud: tuple[str, str], worst_state: str
) -> None:
    state = with_levels(two_destinations(), connection=connection, cloud=cloud)

    assert device_status(state, T0).worst_state == worst_state


def test_a_destination_the_device_stopped_reaching_turns_the_device_red() -> None:
    now = T0 + 8 * DAY
    events: list[Any] = []
    for day in range(1, 9):
        events += [heartbeat(T0 + day * DAY), progress(T0 + day * DAY, destination="cloud")]
    state, _ = run(events, now=now, state=two_destinations())

    status = device_status(state, now)

    assert status.alert_states == {"connection": "ok", "backup": "critical", "completion": "ok"}
    assert status.worst_state == "critical"
    assert [(d.destination_id, d.backup_state) for d in status.destinations] == [
        ("cloud", "ok"),
        ("nas", "critical"),
    ]
    assert [(a["kind"], a["destination_id"], a["state"]) for a in status.open_alerts] == [
        ("backup", "nas", "critical")
    ]
    assert status.top_cause == "no_connection"


def test_the_device_percent_is_its_least_complete_destination() -> None:
    later = T0 + SECOND
    events = [
        progress(later, destination="cloud", percent=99.0, todo_bytes=100, selected_bytes=1000),
        progress(later, destination="nas", percent=87.5, todo_bytes=300, selected_bytes=2000),
    ]
    state, _ = run(events, now=later, state=two_destinations())

    status = device_status(state, later)

    assert status.percent_complete == 87.5
    assert (status.selected_bytes, status.todo_bytes) == (3000, 400)


def test_a_device_without_destinations_is_zero_percent_complete() -> None:
    state, _ = run([heartbeat(T0, reachable_destinations=[])], now=T0)

    status = device_status(state, T0)

    assert (status.percent_complete, status.destinations) == (0.0, [])
    assert status.alert_states == {"connection": "ok", "backup": "ok", "completion": "ok"}


@pytest.mark.parametrize(
    ("since_heartbeat", "policy", "online"),
    [
        pytest.param(timedelta(0), DEFAULT_POLICY, True, id="heartbeat now"),
        pytest.param(15 * MINUTE - SECOND, DEFAULT_POLICY, True, id="15 min less a second"),
        pytest.param(15 * MINUTE, DEFAULT_POLICY, False, id="exactly 15 min"),
        pytest.param(DAY, DEFAULT_POLICY, False, id="a day"),
        pytest.param(
            20 * MINUTE, Policy(online_window=30 * MINUTE), True, id="20 min, 30 min window"
        ),
        pytest.param(
            30 * MINUTE, Policy(online_window=30 * MINUTE), False, id="30 min, 30 min window"
        ),
    ],
)
def test_a_device_is_online_while_its_last_heartbeat_is_younger_than_the_window(
    since_heartbeat: timedelta, policy: Policy, online: bool
) -> None:
    state = healthy()

    assert device_status(state, T0 + since_heartbeat, policy).online is online


def test_a_device_that_never_sent_a_heartbeat_is_offline() -> None:
    state, _ = run([progress(T0)], now=T0)

    assert device_status(state, T0).online is False


@pytest.mark.parametrize(
    ("app_version", "minimum", "outdated"),
    [
        ("11.4.2", None, False),
        ("11.4.2", "11.5", True),
        ("11.4.2", "11.4.2", False),
        ("11.4", "11.4.1", True),
        ("11.10.0", "11.9", False),  # numeric, not alphabetical
        ("12.0", "11.9.9", False),
        # A hotfix, beta or build suffix ends the version: 11.1.2, not 11.1.23.
        ("11.1.2-hotfix3", "11.1.10", True),
        ("10.0.3b2", "10.0.4", True),
        ("11.2.1 build 42", "11.3", True),
        ("11.0.0-rc1", "11.0.1", True),
        ("11.1.2-hotfix3", "11.1.2", False),
    ],
)
def test_the_app_version_is_outdated_below_the_org_minimum(
    app_version: str, minimum: str | None, outdated: bool
) -> None:
    state, _ = run([heartbeat(T0, app_version=app_version)], now=T0)

    status = device_status(state, T0, Policy(minimum_app_version=minimum))

    assert status.app_version == app_version
    assert status.app_version_outdated is outdated


def test_the_status_tells_when_it_was_decided_and_what_the_device_last_did() -> None:
    now = T0 + 2 * DAY
    state, _ = run([heartbeat(T0 + DAY, reachable_destinations=[])], now=now, state=healthy())

    status = device_status(state, now)

    assert status.stream_time == now
    assert (status.last_heartbeat, status.last_connected) == (T0 + DAY, T0)
    assert (status.last_activity, status.last_completed_backup) == (T0, T0)
    assert (status.first_seen, status.hostname) == (T0, "dev-1-host")


def test_an_encoded_device_status_decodes_with_its_own_model() -> None:
    status = device_status(healthy(), T0)

    assert decode_as(encode(status), DeviceStatus) == status


# --- to_alert ------------------------------------------------------------------------


def transitions_at(now: datetime, state: DeviceState | None = None) -> tuple[DeviceState, Any]:
    state, transitions = advance(state or healthy(), now, DEFAULT_POLICY)
    return state, {(t.kind, t.to_level): t for t in transitions}


@pytest.mark.parametrize(
    ("silent_for", "to_level", "days_observed", "threshold_days"),
    [
        (3 * DAY, "warning", 3.0, 3.0),
        (3.5 * DAY, "warning", 3.5, 3.0),
        (5 * DAY, "critical", 5.0, 5.0),
        (5 * DAY + 6 * timedelta(hours=1), "critical", 5.25, 5.0),
    ],
)
def test_an_alert_counts_days_observed_against_the_threshold_in_days(
    silent_for: timedelta, to_level: str, days_observed: float, threshold_days: float
) -> None:
    now = T0 + silent_for
    state, transitions = transitions_at(now)
    transition = transitions[("connection", to_level)]

    alert = to_alert(transition, state, emitted_at=now + SECOND)

    assert (alert.days_observed, alert.threshold_days) == (days_observed, threshold_days)


def test_an_opened_alert_carries_the_transition_id_and_a_diagnosis() -> None:
    now = T0 + 3 * DAY
    state, transitions = transitions_at(now)
    transition = transitions[("connection", "warning")]

    alert = to_alert(transition, state, emitted_at=now + SECOND)
    wire = orjson.loads(encode(alert))

    assert alert.alert_id == transition.alert_id
    assert wire["schema"] == "alert/1"
    assert (wire["from"], wire["to"], wire["transition"]) == ("ok", "warning", "opened")
    assert (alert.device_id, alert.user_id, alert.org_id) == ("dev-1", "user-1", "org-1")
    assert (alert.destination_id, alert.episode_start) == (None, T0)
    assert (alert.decided_at, alert.emitted_at) == (now, now + SECOND)
    assert alert.diagnosis[0].code == "extended_leave_or_powered_off"
    assert all(cause.action for cause in alert.diagnosis)


def test_a_destination_alert_names_its_destination_and_is_diagnosed_for_it() -> None:
    now = T0 + 7 * DAY
    state, transitions = transitions_at(now)
    transition = transitions[("backup", "critical")]

    alert = to_alert(transition, state, emitted_at=now)

    assert (alert.kind, alert.destination_id, alert.alert_id) == (
        "backup",
        "cloud",
        transition.alert_id,
    )
    # The device reaches no destination: why comes first, then the destination.
    assert [c.code for c in alert.diagnosis] == ["extended_leave_or_powered_off", "no_connection"]
    assert alert.diagnosis[1].evidence["destination_id"] == "cloud"


def test_a_resolved_alert_has_no_diagnosis_and_no_threshold() -> None:
    opened_at = T0 + 3 * DAY
    state, _ = transitions_at(opened_at)
    back = opened_at + timedelta(hours=1)
    state, transitions = run([heartbeat(back), progress(back)], now=back, state=state)
    resolved = next(t for t in transitions if t.kind == "connection")

    alert = to_alert(resolved, state, emitted_at=back)

    assert (alert.from_state, alert.to_state, alert.transition) == ("warning", "ok", "resolved")
    assert alert.alert_id == resolved.alert_id
    assert alert.diagnosis == []
    assert alert.threshold_days is None


def test_an_alert_record_round_trips_and_validates_against_its_json_schema() -> None:
    now = T0 + 5 * DAY
    state, transitions = transitions_at(now)
    alert = to_alert(transitions[("connection", "critical")], state, emitted_at=now)
    document = orjson.loads((JSON_DIR / "alert.v1.json").read_bytes())

    assert decode_as(encode(alert), Alert) == alert
    assert [
        e.message for e in Draft202012Validator(document).iter_errors(orjson.loads(encode(alert)))
    ] == []
