"""Every cause the console's article lists is recognized from a device's own reports.

Each scenario builds a device, with the factories, that shows one cause the way a real
device would, checks that the alert it is diagnosed for is actually open, and checks
that the cause comes first with the evidence an admin needs to act.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from schemas.types import AlertKind
from streams import DeviceState, Hints, device_status, diagnose, to_alert
from streams.diagnosis import CAUSES, estimated_time_to_finish
from tests.unit.factories import (
    DAY,
    SECOND,
    T0,
    command,
    healthy,
    heartbeat,
    progress,
    run,
)


@dataclass(frozen=True)
class Scenario:
    state: DeviceState
    now: datetime
    hints: Hints | None = None
    # (kind, destination) of the alert the diagnosis is for; it must be open.
    alert: tuple[AlertKind, str | None] = ("connection", None)


def alert_level(scenario: Scenario) -> str:
    kind, destination_id = scenario.alert
    if kind == "connection":
        return scenario.state.connection.level
    dest = scenario.state.destination(destination_id or "cloud")
    assert dest is not None
    return dest.backup.level if kind == "backup" else dest.completion.level


# --- connection: the device has not reached any destination for six days -------------

SILENT_FOR = 6 * DAY


def powered_off() -> Scenario:
    state, _ = run([], now=T0 + SILENT_FOR, state=healthy())
    return Scenario(state, T0 + SILENT_FOR)


def with_command(action: str, **fields: Any) -> Callable[[], Scenario]:
    def build() -> Scenario:
        events = [command(action, T0 + DAY, **fields)]
        state, _ = run(events, now=T0 + SILENT_FOR, state=healthy())
        return Scenario(state, T0 + SILENT_FOR)

    return build


def replaced_according_to_the_fleet() -> Scenario:
    scenario = powered_off()
    return Scenario(
        scenario.state,
        scenario.now,
        hints=Hints(newer_device_id="dev-2", newer_device_last_seen=T0 + 5 * DAY),
    )


def online_but_no_destination(**heartbeat_fields: Any) -> Callable[[], Scenario]:
    """Heartbeats keep arriving every day, but none reaches a destination."""

    def build() -> Scenario:
        events = [
            heartbeat(T0 + day * DAY, reachable_destinations=[], **heartbeat_fields)
            for day in range(1, 7)
        ]
        state, _ = run(events, now=T0 + SILENT_FOR, state=healthy())
        return Scenario(state, T0 + SILENT_FOR)

    return build


def last_heartbeat_said(service_state: str) -> Callable[[], Scenario]:
    def build() -> Scenario:
        events = [heartbeat(T0 + DAY, service_state=service_state)]
        state, _ = run(events, now=T0 + SILENT_FOR, state=healthy())
        return Scenario(state, T0 + SILENT_FOR)

    return build


# --- backup: a new device whose daily sessions get no data through --------------------
# Nothing is sent in the whole window, so the only evidence is what each scenario adds;
# the backup alert is open because no new data arrived in four days.

STALLED_FOR = 4 * DAY


def stalled(
    errors: dict[str, int] | None = None,
    heartbeat_fields: dict[str, Any] | None = None,
    **progress_fields: Any,
) -> Callable[[], Scenario]:
    def build() -> Scenario:
        progress_fields.setdefault("session_state", "scanning")
        events: list[Any] = []
        for day in range(5):
            at = T0 + day * DAY
            events.append(heartbeat(at, **(heartbeat_fields or {})))
            events.append(
                progress(at, percent=40.0, bytes_sent=0, errors=errors, **progress_fields)
            )
        state, _ = run(events, now=T0 + STALLED_FOR)
        return Scenario(state, T0 + STALLED_FOR, alert=("backup", "cloud"))

    return build


# --- completion: data flows every day, 100 % is never reached -------------------------


def stuck_at_99_by_locked_files() -> Scenario:
    events: list[Any] = []
    for day in range(1, 9):
        at = T0 + day * DAY
        events.append(heartbeat(at))
        events.append(
            progress(
                at,
                percent=99.6,
                session_state="sending",
                bytes_sent=500_000_000,
                todo_files=3,
                todo_bytes=40_000_000,
                errors={"locked": 3},
            )
        )
    state, _ = run(events, now=T0 + 8 * DAY, state=healthy())
    return Scenario(state, T0 + 8 * DAY, alert=("completion", "cloud"))


def first_backup_too_big_for_the_interval() -> Scenario:
    """2 GB a day for eight days against 80 GB to do, sessions every 15 minutes.

    The open alert is completion: data does flow, so backup freshness is fine.
    """
    events: list[Any] = []
    for day in range(8):
        at = T0 + day * DAY
        events.append(heartbeat(at))
        events.append(
            progress(
                at,
                percent=60.0,
                session_state="sending",
                bytes_sent=2_000_000_000,
                selected_bytes=200_000_000_000,
                todo_bytes=80_000_000_000,
                backup_interval_s=900,
            )
        )
    state, _ = run(events, now=T0 + 7 * DAY)
    return Scenario(state, T0 + 7 * DAY, alert=("completion", "cloud"))


@dataclass(frozen=True)
class Expected:
    code: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)


def iso(t: datetime) -> str:
    return t.isoformat()


CASES = [
    pytest.param(
        powered_off,
        Expected(
            "extended_leave_or_powered_off",
            0.8,
            {
                "online": False,
                "last_heartbeat": iso(T0),
                "days_since_heartbeat": 6.0,
                "days_since_connected": 6.0,
            },
        ),
        id="powered off: no heartbeat, no destination",
    ),
    pytest.param(
        with_command("user_left_org"),
        Expected("left_organization", 0.95, {"user_id": "user-1", "user_left_org": True}),
        id="user left the organization",
    ),
    pytest.param(
        with_command("replaced", replaced_by="dev-2"),
        Expected(
            "replaced_by_newer_device",
            0.9,
            {
                "newer_device_id": "dev-2",
                "newer_device_last_seen": None,
                "this_device_last_heartbeat": iso(T0),
            },
        ),
        id="replaced, by command",
    ),
    pytest.param(
        replaced_according_to_the_fleet,
        Expected(
            "replaced_by_newer_device",
            0.9,
            {
                "newer_device_id": "dev-2",
                "newer_device_last_seen": iso(T0 + 5 * DAY),
                "this_device_last_heartbeat": iso(T0),
            },
        ),
        id="replaced, by hints",
    ),
    pytest.param(
        online_but_no_destination(connect_error="local_interference"),
        Expected(
            "interfering_application",
            0.85,
            {
                "online": True,
                "last_heartbeat": iso(T0 + 6 * DAY),
                "last_connected": iso(T0),
                "reachable_destinations": [],
                "connect_error": "local_interference",
            },
        ),
        id="interfering application",
    ),
    pytest.param(
        online_but_no_destination(),
        Expected(
            "communication_blocked",
            0.75,
            {
                "online": True,
                "last_heartbeat": iso(T0 + 6 * DAY),
                "last_connected": iso(T0),
                "reachable_destinations": [],
                "connect_error": None,
            },
        ),
        id="communication blocked, no error reported",
    ),
    pytest.param(
        online_but_no_destination(connect_error="blocked"),
        Expected(
            "communication_blocked",
            0.85,
            {"online": True, "reachable_destinations": [], "connect_error": "blocked"},
        ),
        id="communication blocked, reported as blocked",
    ),
    pytest.param(
        last_heartbeat_said("uninstalling"),
        Expected(
            "app_uninstalled_or_service_stopped",
            0.9,
            {"last_service_state": "uninstalling", "last_heartbeat": iso(T0 + DAY)},
        ),
        id="app uninstalled",
    ),
    pytest.param(
        last_heartbeat_said("stopping"),
        Expected(
            "app_uninstalled_or_service_stopped",
            0.85,
            {"last_service_state": "stopping", "last_heartbeat": iso(T0 + DAY)},
        ),
        id="service stopped",
    ),
    pytest.param(
        stalled(errors={"changed_during_backup": 30}),
        Expected(
            "constantly_changing_files",
            0.85,
            {"changed_during_backup_14d": 150, "changed_during_backup_last_session": 30},
        ),
        id="constantly changing files",
    ),
    pytest.param(
        stalled(errors={"vanished": 20}),
        Expected(
            "vanished_temporary_files", 0.8, {"vanished_14d": 100, "vanished_last_session": 20}
        ),
        id="vanished temporary files",
    ),
    pytest.param(
        stalled(errors={"locked": 3, "permission_denied": 2}),
        Expected(
            "locked_or_permission_denied",
            0.625,
            {
                "locked_14d": 15,
                "permission_denied_14d": 10,
                "locked_last_session": 3,
                "permission_denied_last_session": 2,
            },
        ),
        id="locked files or missing permission",
    ),
    pytest.param(
        stalled(heartbeat_fields={"backup_paused": True}),
        Expected("paused_by_user", 0.9, {"backup_paused": True, "session_state": "scanning"}),
        id="paused, says the heartbeat",
    ),
    pytest.param(
        stalled(session_state="paused"),
        Expected("paused_by_user", 0.9, {"backup_paused": False, "session_state": "paused"}),
        id="paused, says the session",
    ),
    pytest.param(
        stalled(cpu_throttled=True),
        Expected("cpu_throttled", 0.8, {"cpu_throttled": True, "cpu_limit_percent": 100}),
        id="CPU throttled, says the session",
    ),
    pytest.param(
        stalled(heartbeat_fields={"cpu_limit_percent": 20}),
        Expected("cpu_throttled", 0.5, {"cpu_throttled": False, "cpu_limit_percent": 20}),
        id="CPU limited to 20 %",
    ),
    pytest.param(
        stalled(network_throttled=True),
        Expected("network_throttled", 0.8, {"network_throttled": True, "network_limit_kbps": None}),
        id="network throttled, says the session",
    ),
    pytest.param(
        stalled(heartbeat_fields={"network_limit_kbps": 256}),
        Expected("network_throttled", 0.5, {"network_throttled": False, "network_limit_kbps": 256}),
        id="network limited to 256 kbps",
    ),
    pytest.param(
        first_backup_too_big_for_the_interval,
        Expected(
            "backup_interval_too_short",
            0.75,
            {
                "todo_bytes": 80_000_000_000,
                "bytes_sent_14d": 16_000_000_000,
                # 80 GB to do at 16 GB per 8 active days (2 GB a day) = 40 days.
                "estimated_hours_to_finish": 40 * 24.0,
                "backup_interval_hours": 0.25,
            },
        ),
        id="backup interval too short",
    ),
    pytest.param(
        stuck_at_99_by_locked_files,
        Expected(
            "locked_files_block_completion",
            0.9,
            {
                "percent_complete": 99.6,
                "todo_files": 3,
                "locked_last_session": 3,
                "permission_denied_last_session": 0,
                "last_new_data": iso(T0 + 8 * DAY),
                "last_completed_backup": iso(T0),
            },
        ),
        id="locked files block completion",
    ),
]


@pytest.mark.parametrize(("build", "expected"), CASES)
def test_the_cause_the_device_shows_ranks_first_with_its_evidence(
    build: Callable[[], Scenario], expected: Expected
) -> None:
    scenario = build()
    kind, destination_id = scenario.alert
    assert alert_level(scenario) != "ok", "the scenario must open the alert it diagnoses"

    causes = diagnose(
        scenario.state, kind, scenario.now, destination_id=destination_id, hints=scenario.hints
    )

    first = causes[0]
    assert first.code == expected.code, [c.code for c in causes]
    assert first.score == expected.score
    assert {k: first.evidence.get(k) for k in expected.evidence} == expected.evidence
    assert first.action == CAUSES[expected.code][1] and first.action
    assert first.summary == CAUSES[expected.code][0] and first.summary


def test_every_cause_of_the_article_has_a_scenario() -> None:
    covered = {case.values[1].code for case in CASES}  # type: ignore[union-attr]

    assert covered | {"no_connection", "undetermined"} == set(CAUSES)


def test_a_diagnosis_is_ranked_by_score_then_code_without_repeats() -> None:
    scenario = stalled(
        errors={"changed_during_backup": 2, "vanished": 60, "locked": 1},
        heartbeat_fields={"backup_paused": True, "network_limit_kbps": 512},
        cpu_throttled=True,
        network_throttled=True,
    )()

    causes = diagnose(scenario.state, "backup", scenario.now, destination_id="cloud")

    assert [(c.code, c.score) for c in causes] == [
        ("paused_by_user", 0.9),
        # Equal scores: the code decides, so the order never depends on rule order.
        ("cpu_throttled", 0.8),
        ("network_throttled", 0.8),
        ("vanished_temporary_files", 0.8),
        ("constantly_changing_files", 0.55),
        ("locked_or_permission_denied", 0.525),
    ]


def test_a_backup_diagnosis_names_the_short_interval_too() -> None:
    # The article lists the interval under backup issues, so a backup diagnosis of the
    # same device names it as well.
    scenario = first_backup_too_big_for_the_interval()

    causes = diagnose(scenario.state, "backup", scenario.now, destination_id="cloud")

    assert [(c.code, c.score) for c in causes] == [("backup_interval_too_short", 0.75)]


# --- no_connection: a backup alert on a destination the device does not reach ---------


def test_a_dark_device_s_backup_diagnosis_names_why_it_is_dark_before_the_destination() -> None:
    now = T0 + 4 * DAY
    state, _ = run([], now=now, state=healthy())
    assert state.destinations[0].backup.level == "warning"

    causes = diagnose(state, "backup", now, destination_id="cloud")

    # The device reaches no destination at all: why is the cause; the destination's
    # silence follows from it.
    assert [(c.code, c.score) for c in causes] == [
        ("extended_leave_or_powered_off", 0.8),
        ("no_connection", 0.55),
    ]
    assert causes[1].evidence == {
        "destination_id": "cloud",
        "last_connected": iso(T0),
        "device_connection_state": "warning",
    }
    assert causes[1].action == CAUSES["no_connection"][1]


def test_a_strong_connection_cause_outranks_the_missing_connection_itself() -> None:
    now = T0 + 4 * DAY
    state, _ = run([command("user_left_org", T0 + DAY)], now=now, state=healthy())

    causes = diagnose(state, "backup", now, destination_id="cloud")

    assert [(c.code, c.score) for c in causes] == [
        ("left_organization", 0.95),
        ("extended_leave_or_powered_off", 0.8),
        ("no_connection", 0.55),
    ]


def test_what_slowed_the_transfers_comes_after_the_lost_connection() -> None:
    # Backups with a few locked files every day, then the device is switched off.
    events: list[Any] = []
    for day in range(4):
        at = T0 + day * DAY
        events += [
            heartbeat(at),
            progress(at, session_state="sending", bytes_sent=1_000_000, errors={"locked": 40}),
        ]
    now = T0 + 10 * DAY
    state, _ = run(events, now=now)
    assert state.destinations[0].backup.level == "critical"

    causes = diagnose(state, "backup", now, destination_id="cloud")

    assert [(c.code, c.score) for c in causes] == [
        ("extended_leave_or_powered_off", 0.8),
        ("no_connection", 0.55),
        # Half their weight: nothing can arrive while the device is off.
        ("locked_or_permission_denied", 0.425),
    ]


def test_a_device_that_talked_to_the_cloud_then_went_dark_reads_as_powered_off() -> None:
    # Reached its destination at T0, then a day of heartbeats that reach none, then
    # nothing for twelve days.
    events = [
        heartbeat(T0 + DAY + timedelta(hours=h), reachable_destinations=[]) for h in range(24)
    ]
    now = T0 + 14 * DAY
    state, _ = run(events, now=now, state=healthy())
    assert state.connection.level == "critical"

    causes = diagnose(state, "connection", now)

    assert [(c.code, c.score) for c in causes] == [
        ("extended_leave_or_powered_off", 0.8),
        # Before it went quiet, it reached the cloud but no destination.
        ("communication_blocked", 0.4),
    ]
    assert causes[0].evidence["days_since_heartbeat"] == 12.04
    assert causes[1].evidence["online"] is False


def test_a_device_still_talking_to_the_cloud_reads_as_blocked_in_a_backup_alert() -> None:
    events = [heartbeat(T0 + day * DAY, reachable_destinations=[]) for day in range(1, 5)]
    now = T0 + 4 * DAY
    state, _ = run(events, now=now, state=healthy())

    causes = diagnose(state, "backup", now, destination_id="cloud")

    assert [c.code for c in causes][:2] == ["communication_blocked", "no_connection"]


@pytest.mark.parametrize(
    ("reached_until", "named"),
    [(T0 + 2 * DAY, False), (T0 + 2 * DAY - SECOND, True)],
    ids=["reached for half the silence", "out of reach for most of it"],
)
def test_no_connection_is_named_when_the_destination_was_out_of_reach_for_most_of_the_silence(
    reached_until: datetime, named: bool
) -> None:
    # No new data since T0; the device kept reaching the destination until
    # `reached_until`. Data often stops a little before a device goes dark.
    now = T0 + 4 * DAY
    state, _ = run([heartbeat(reached_until)], now=now, state=healthy())

    codes = [c.code for c in diagnose(state, "backup", now, destination_id="cloud")]

    assert ("no_connection" in codes) is named


def test_an_online_device_is_not_called_powered_off_for_one_unreached_destination() -> None:
    now = T0 + 4 * DAY
    events: list[Any] = [
        heartbeat(T0, reachable_destinations=["cloud", "nas"]),
        progress(T0, destination="nas"),
    ]
    for day in range(5):
        events += [heartbeat(T0 + day * DAY), progress(T0 + day * DAY)]
    state, _ = run(events, now=now)
    nas = state.destination("nas")
    assert nas is not None and nas.backup.level == "warning"

    causes = diagnose(state, "backup", now, destination_id="nas")

    assert (causes[0].code, causes[0].score) == ("no_connection", 0.8)
    assert causes[0].evidence["destination_id"] == "nas"
    assert "extended_leave_or_powered_off" not in [c.code for c in causes]


# --- undetermined: an open alert with nothing pointing anywhere -----------------------


@pytest.mark.parametrize("kind", ["backup", "completion"])
def test_an_alert_without_evidence_is_undetermined(kind: AlertKind) -> None:
    scenario = stalled()()
    assert scenario.state.destinations[0].backup.level == "warning"

    causes = diagnose(scenario.state, kind, scenario.now, destination_id="cloud")

    assert [(c.code, c.score) for c in causes] == [("undetermined", 0.1)]
    assert causes[0].evidence == {"kind": kind}
    assert causes[0].action == CAUSES["undetermined"][1]


@pytest.mark.parametrize(
    ("events", "destination_id"),
    [
        pytest.param([heartbeat(T0, reachable_destinations=[])], None, id="no destination yet"),
        pytest.param([heartbeat(T0), progress(T0)], "nas", id="unknown destination"),
    ],
)
def test_a_destination_diagnosis_without_the_destination_is_undetermined(
    events: list[Any], destination_id: str | None
) -> None:
    state, _ = run(events, now=T0)

    causes = diagnose(state, "backup", T0 + 4 * DAY, destination_id=destination_id)

    assert [c.code for c in causes] == ["undetermined"]


# --- estimated time to finish ----------------------------------------------------------


def test_the_time_to_finish_divides_the_todo_by_the_rate_of_active_days() -> None:
    now = T0 + 3 * DAY
    events = [
        progress(T0, percent=50.0, session_state="sending", bytes_sent=2_000_000_000),
        heartbeat(T0 + DAY),  # a day without data does not dilute the rate
        progress(T0 + 2 * DAY, percent=60.0, session_state="sending", bytes_sent=1_000_000_000),
        progress(
            T0 + 3 * DAY,
            percent=70.0,
            session_state="sending",
            bytes_sent=3_000_000_000,
            todo_bytes=5_000_000_000,
        ),
    ]
    state, _ = run(events, now=now)

    eta = estimated_time_to_finish(state, state.destinations[0], now)

    # 6 GB over 3 active days = 2 GB a day; 5 GB to do = 2.5 days.
    assert eta is not None
    assert eta.total_seconds() == pytest.approx(2.5 * 86400, abs=0.001)


def test_the_time_to_finish_counts_only_the_last_fourteen_days() -> None:
    early, _ = run([progress(T0, percent=10.0, bytes_sent=900_000_000_000)], now=T0)
    now = T0 + 20 * DAY
    state, _ = run(
        [progress(now, percent=20.0, bytes_sent=1_000_000_000, todo_bytes=3_000_000_000)],
        now=now,
        state=early,
    )

    eta = estimated_time_to_finish(state, state.destinations[0], now)

    assert eta is not None
    assert eta.total_seconds() == pytest.approx(3 * 86400, abs=0.001)


def test_there_is_no_time_to_finish_when_nothing_is_to_do() -> None:
    state = healthy()

    assert estimated_time_to_finish(state, state.destinations[0], T0) is None


def test_the_time_to_finish_is_unbounded_when_nothing_was_sent() -> None:
    state, _ = run([progress(T0, percent=40.0, bytes_sent=0)], now=T0)

    assert estimated_time_to_finish(state, state.destinations[0], T0) == timedelta.max


# One day that sent 86.4 MB: 1000 bytes a second, so the todo in bytes / 1000 is the
# estimate in seconds, against the default 900 s between sessions.
@pytest.mark.parametrize(
    ("todo_bytes", "score"),
    [
        pytest.param(900_000, None, id="finishes exactly within one interval"),
        pytest.param(900_001, 0.6, id="just over one interval"),
        pytest.param(3_600_000, 0.6, id="exactly four intervals"),
        pytest.param(3_600_001, 0.75, id="over four intervals"),
    ],
)
def test_the_interval_is_too_short_only_when_the_estimate_exceeds_it(
    todo_bytes: int, score: float | None
) -> None:
    events = [
        progress(
            T0, percent=50.0, session_state="sending", bytes_sent=86_400_000, todo_bytes=todo_bytes
        )
    ]
    state, _ = run(events, now=T0)

    scores = {c.code: c.score for c in diagnose(state, "completion", T0, destination_id="cloud")}

    assert scores.get("backup_interval_too_short") == score


# --- what the estimate and the evidence count ------------------------------------------


def test_a_backlog_that_would_never_finish_neither_crashes_nor_blames_the_interval() -> None:
    # 1 KB got through in a week against 2 TB to do: beyond what a timedelta holds.
    events: list[Any] = []
    for day in range(8):
        at = T0 + day * DAY
        events += [
            heartbeat(at),
            progress(
                at,
                percent=1.0,
                session_state="sending",
                bytes_sent=1_000 if day == 0 else 0,
                selected_bytes=2_100_000_000_000,
                todo_bytes=2_000_000_000_000,
            ),
        ]
    now = T0 + 8 * DAY
    state, transitions = run(events, now=now)

    assert estimated_time_to_finish(state, state.destinations[0], now) == timedelta.max
    causes = diagnose(state, "backup", now, destination_id="cloud")
    assert "backup_interval_too_short" not in [c.code for c in causes]
    assert [to_alert(t, state, now).kind for t in transitions]
    assert device_status(state, now).worst_state == "critical"


def test_a_destination_that_received_nothing_is_not_given_the_device_s_rate() -> None:
    # "cloud" receives 10 GB a day; "nas" is reached every day but receives nothing.
    events: list[Any] = []
    for day in range(6):
        at = T0 + day * DAY
        events += [
            heartbeat(at, reachable_destinations=["cloud", "nas"]),
            progress(at, destination="cloud", bytes_sent=10_000_000_000),
            progress(
                at,
                destination="nas",
                percent=40.0,
                session_state="scanning",
                bytes_sent=0,
                selected_bytes=200_000_000_000,
                todo_bytes=100_000_000_000,
            ),
        ]
    now = T0 + 5 * DAY
    state, _ = run(events, now=now)
    nas = state.destination("nas")
    assert nas is not None and nas.backup.level == "warning"

    assert estimated_time_to_finish(state, nas, now) == timedelta.max
    causes = diagnose(state, "backup", now, destination_id="nas")
    assert "backup_interval_too_short" not in [c.code for c in causes]


def test_destinations_that_both_receive_data_share_the_device_s_rate() -> None:
    events: list[Any] = []
    for day in range(4):
        at = T0 + day * DAY
        for destination in ("cloud", "nas"):
            events.append(
                progress(
                    at,
                    destination=destination,
                    percent=50.0,
                    session_state="sending",
                    bytes_sent=1_000_000_000,
                    todo_bytes=8_000_000_000,
                )
            )
    now = T0 + 3 * DAY
    state, _ = run(events, now=now)
    nas = state.destination("nas")
    assert nas is not None

    eta = estimated_time_to_finish(state, nas, now)

    # 8 GB over 4 days, 2 GB a day for the device, 1 GB a day for each destination.
    assert eta is not None
    assert eta.total_seconds() == pytest.approx(8 * 86400, abs=0.001)
    interval = next(
        c
        for c in diagnose(state, "completion", now, destination_id="nas")
        if c.code == "backup_interval_too_short"
    )
    assert interval.evidence["destinations_receiving_data"] == 2
    assert interval.evidence["estimated_hours_to_finish"] == 8 * 24.0


def test_a_long_silent_device_s_evidence_and_days_are_of_the_last_fourteen_days() -> None:
    events: list[Any] = []
    for day in range(3):
        at = T0 + day * DAY
        events += [
            heartbeat(at),
            progress(
                at, percent=90.0, session_state="idle", bytes_sent=1000, errors={"locked": 40}
            ),
        ]
    state, _ = run(events, now=T0 + 3 * DAY)
    # Nothing touches the device for a month: its stored window still holds those days.
    now = T0 + 30 * DAY
    assert state.days

    causes = diagnose(state, "backup", now, destination_id="cloud")

    locked = next(c for c in causes if c.code == "locked_or_permission_denied")
    # The last session's figures still stand; the window's month-old counts do not.
    assert locked.evidence["locked_14d"] == 0
    assert locked.evidence["locked_last_session"] == 40
    assert device_status(state, now).daily == []
