"""A device as the console lists it becomes heartbeats and backup progress, each at the
console's own time of its fact (`agents.bridge.crashplan.mapping`).

The console JSON is built from `tests/fixtures/crashplan/computer.json`, written from
the API's documented `Computer` shape with `incBackupUsage=true`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agents.bridge.crashplan import ConsoleFormatError, read_device, records_of
from agents.bridge.crashplan.mapping import REACH_SLACK
from schemas.codec import decode, encode
from schemas.models import BackupProgress, Heartbeat
from tests.crashplan_console import FIXTURES, computer

T = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def device(**facts: Any) -> dict[str, Any]:
    facts.setdefault("last_connected", T)
    facts.setdefault("registered", T - 400 * DAY)
    facts.setdefault(
        "destinations",
        [{"guid": "dest-1", "last_connected": T, "last_backup": T, "last_completed": T}],
    )
    return computer(facts.pop("guid", "dev-1"), **facts)


def heartbeats(raw: dict[str, Any]) -> list[Heartbeat]:
    return [r for r in records_of(read_device(raw)) if isinstance(r, Heartbeat)]


def progress(raw: dict[str, Any]) -> list[BackupProgress]:
    return [r for r in records_of(read_device(raw)) if isinstance(r, BackupProgress)]


def test_the_fixture_device_reads_with_the_console_s_figures() -> None:
    import orjson

    raw = orjson.loads((FIXTURES / "computer.json").read_bytes())

    read = read_device(raw)

    assert read.device_id == "954143368874689941"
    assert (read.user_id, read.org_id) == ("938960273869958201", "915323705751579872")
    assert (read.hostname, read.os, read.app_version) == (
        "laptop-7qk2.corp.example.com",
        "win",
        "11.4.1",
    )
    assert read.active and not read.blocked
    assert read.last_connected == datetime(2026, 11, 30, 16, 55, 40, 632000, tzinfo=UTC)
    assert read.registered_at == datetime(2024, 5, 14, 13, 3, 20, 302000, tzinfo=UTC)
    (dest,) = read.destinations
    assert dest.destination_id == "632540230984925185"
    assert dest.percent_complete == 99.87
    assert (dest.selected_files, dest.selected_bytes) == (205112, 81604378624)
    assert (dest.todo_files, dest.todo_bytes) == (12, 104857600)


def test_every_record_decodes_with_the_project_s_own_codec() -> None:
    import orjson

    raw = orjson.loads((FIXTURES / "computer.json").read_bytes())

    records = records_of(read_device(raw))

    assert records
    assert [decode(encode(r)) for r in records] == records


def test_the_heartbeat_is_at_the_device_s_last_connection_and_carries_its_figures() -> None:
    raw = device(
        hostname="wks-12",
        last_connected=T - 5 * DAY,
        destinations=[{"guid": "dest-1", "last_connected": T - 5 * DAY}],
    )

    (beat,) = heartbeats(raw)

    assert beat.event_time == T - 5 * DAY
    assert beat.reachable_destinations == ("dest-1",)
    assert (beat.device_id, beat.user_id, beat.org_id) == ("dev-1", "user-1", "org-1")
    assert beat.hostname == "wks-12"
    assert beat.registered_at == T - 400 * DAY


@pytest.mark.parametrize(
    ("apart", "together"),
    [
        pytest.param(REACH_SLACK, True, id="at the slack"),
        pytest.param(REACH_SLACK + timedelta(seconds=1), False, id="a second past it"),
    ],
)
def test_a_destination_connected_within_the_slack_is_reached_by_the_device_s_heartbeat(
    apart: timedelta, together: bool
) -> None:
    raw = device(
        destinations=[{"guid": "dest-1", "last_connected": T - apart, "last_completed": T - DAY}]
    )

    beats = heartbeats(raw)

    if together:
        assert [(b.event_time, b.reachable_destinations) for b in beats] == [(T, ("dest-1",))]
    else:
        assert [(b.event_time, b.reachable_destinations) for b in beats] == [
            (T, ()),
            (T - apart, ("dest-1",)),
        ]


def test_a_device_online_to_the_console_but_not_its_destination_reaches_nothing_now() -> None:
    raw = device(
        destinations=[{"guid": "dest-1", "last_connected": T - 4 * DAY, "last_completed": None}]
    )

    newest = max(heartbeats(raw), key=lambda b: b.event_time)

    assert newest.event_time == T
    assert newest.reachable_destinations == ()


def test_a_device_that_never_connected_has_no_heartbeat() -> None:
    assert heartbeats(device(last_connected=None, destinations=[])) == []


def test_new_data_and_completion_are_reports_at_their_own_times() -> None:
    raw = device(
        destinations=[
            {
                "guid": "dest-1",
                "last_connected": T,
                "last_backup": T - HOUR,
                "last_completed": T - DAY,
                "percent": 97.5,
                "selected_files": 1000,
                "todo_files": 25,
                "selected_bytes": 10_000,
                "todo_bytes": 250,
            }
        ]
    )

    done, sent = progress(raw)

    assert (done.event_time, done.session_state, done.percent_complete) == (
        T - DAY,
        "completed",
        100.0,
    )
    assert (done.todo_files, done.todo_bytes, done.bytes_sent) == (0, 0, 0)
    assert (sent.event_time, sent.session_state, sent.percent_complete) == (
        T - HOUR,
        "sending",
        97.5,
    )
    assert (sent.selected_files, sent.todo_files, sent.todo_bytes) == (1000, 25, 250)
    assert sent.bytes_sent > 0


def test_a_backup_that_completed_with_its_new_data_is_one_report() -> None:
    (report,) = progress(device())

    assert (report.event_time, report.session_state, report.percent_complete) == (
        T,
        "completed",
        100.0,
    )
    assert report.bytes_sent > 0


def test_a_destination_with_nothing_backed_up_yet_has_no_progress() -> None:
    raw = device(destinations=[{"guid": "dest-1", "last_connected": T}])

    assert progress(raw) == []


def test_figures_fallen_below_100_since_the_completion_ride_on_the_entry_s_change_time() -> None:
    raw = device(
        destinations=[
            {
                "guid": "dest-1",
                "last_connected": T,
                "last_completed": T - DAY,
                "percent": 90.0,
                "todo_files": 100,
                "modified": T - HOUR,
            }
        ]
    )

    done, status = progress(raw)

    assert done.event_time == T - DAY
    assert (status.event_time, status.session_state, status.percent_complete) == (
        T - HOUR,
        "idle",
        90.0,
    )
    assert status.bytes_sent == 0


def test_each_destination_has_its_own_reports() -> None:
    raw = device(
        destinations=[
            {"guid": "nas", "last_connected": T - 8 * DAY, "last_completed": T - 8 * DAY},
            {"guid": "cloud", "last_connected": T, "last_completed": T},
        ]
    )

    reports = progress(raw)

    assert sorted((r.destination_id, r.event_time) for r in reports) == [
        ("cloud", T),
        ("nas", T - 8 * DAY),
    ]


def test_an_unknown_host_name_falls_back_to_the_device_name() -> None:
    raw = device()
    raw.update(osHostname="UNKNOWN", name="SNWINTEST1")

    assert read_device(raw).hostname == "SNWINTEST1"


def test_a_to_do_above_the_selection_is_cut_to_it() -> None:
    raw = device()
    raw["backupUsage"][0].update(selectedFiles=10, todoFiles=12, selectedBytes=100, todoBytes=500)

    (dest,) = read_device(raw).destinations

    assert (dest.todo_files, dest.todo_bytes) == (10, 100)


def test_a_time_before_2000_reads_as_never() -> None:
    raw = device()
    raw["backupUsage"][0]["lastCompletedBackup"] = "1970-01-01T00:00:00.000Z"

    (dest,) = read_device(raw).destinations

    assert dest.last_completed is None


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param({"guid": None}, "guid", id="no guid"),
        pytest.param({"userUid": None}, "userUid", id="no user"),
        pytest.param({"lastConnected": "yesterday"}, "lastConnected", id="a time that is not one"),
        pytest.param({"guid": ""}, "guid", id="an empty guid"),
    ],
)
def test_a_device_that_cannot_be_read_says_which_field(change: dict[str, Any], named: str) -> None:
    raw = device()
    raw.update(change)

    with pytest.raises(ConsoleFormatError, match=named):
        read_device(raw)
