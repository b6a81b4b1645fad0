"""The fleet report: a device's row, the filters, the sort orders and the org, user and
fleet rollups (queries given as the URL gives them; their parsing, the cursors and the
CSV download are tested beside the report API, in tests/unit/agents).

Rows for the row tests are cut from states the core built from telemetry; the query
tests build rows directly, so each one says exactly which column it is about.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agents.report.bodies import device_entry
from agents.report.download import CSV_COLUMNS, csv_lines
from agents.report.query import MAX_PAGE, parse_query
from schemas.types import EARLIEST, LATEST
from streams.kinds import KIND_NAMES, worst
from streams.policy import DEFAULT_POLICY, Policy
from streams.report import (
    COLUMNS,
    DeviceRow,
    FleetRollup,
    ReportContext,
    device_row,
    select,
    summarize_fleet,
    summarize_org,
    summarize_user,
)
from streams.state import DeviceState, Slot
from tests.unit.factories import DAY, SECOND, T0, healthy, heartbeat, progress, run

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)

# Stream time of partition 0; partition 1 is an hour ahead (it read further).
CLOCK = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CLOCKS = {0: CLOCK, 1: CLOCK + HOUR}
# org-short judges "online" by a 5-minute window instead of the default 15.
POLICIES = {"org-short": Policy(online_window=5 * MINUTE)}


def context(
    clocks: Mapping[int, datetime] = CLOCKS, policies: Mapping[str, Policy] = POLICIES
) -> ReportContext:
    return ReportContext(
        now_of=lambda row: clocks[row.partition],
        policy_of=lambda org: policies.get(org, DEFAULT_POLICY),
    )


def row(device_id: str, **fields: Any) -> DeviceRow:
    """A healthy, online, fully backed up device, changed by `fields`; its worst state
    follows its kinds unless given."""
    values: dict[str, Any] = {
        "org_id": "org-1",
        "user_id": "user-1",
        "hostname": f"{device_id}-host",
        "os": "linux",
        "app_version": "11.4.2",
        "destinations": ("cloud",),
        **dict.fromkeys(KIND_NAMES, "ok"),
        "first_seen": CLOCK - 30 * DAY,
        "last_heartbeat": CLOCK - MINUTE,
        "last_connected": CLOCK - MINUTE,
        "last_activity": CLOCK - HOUR,
        "last_completed_backup": CLOCK - HOUR,
        "percent_complete": 100.0,
        "selected_bytes": 10_000_000_000,
        "todo_bytes": 0,
        "snoozed_until": None,
        "deactivated": False,
        "backup_paused": False,
        "top_cause": None,
        "partition": 0,
    }
    values.update(fields)
    values.setdefault("worst_state", worst(values[kind] for kind in KIND_NAMES))
    # A row holds its times as timestamps (as `device_row` cuts them).
    times = {k: v.timestamp() for k, v in values.items() if isinstance(v, datetime)}
    return DeviceRow(device_id=device_id, **{**values, **times})


def row_json(r: DeviceRow, ctx: ReportContext) -> dict[str, Any]:
    """A row as the API answers it."""
    body: dict[str, Any] = msgspec.to_builtins(device_entry(r, ctx))
    return body


def parse_csv(chunks: list[str]) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(chunks))))


def ids(rows: list[DeviceRow]) -> list[str]:
    return [r.device_id for r in rows]


def query_ids(rows: list[DeviceRow], ctx: ReportContext | None = None, **params: str) -> list[str]:
    """The devices a query selects, in device id order (its own order is not the point)."""
    page = select(rows, parse_query({"limit": str(MAX_PAGE), **params}), ctx or context())
    return sorted(ids(page.rows))


# --- device_row: cut from states the core built ----------------------------------------


def two_destinations(at: datetime = T0) -> DeviceState:
    events = [
        heartbeat(
            at,
            reachable_destinations=["cloud", "nas"],
            hostname="Laptop-7",
            os="windows",
            app_version="11.3.0",
        ),
        progress(at, destination="cloud", selected_bytes=10_000_000_000),
        progress(
            at + HOUR,
            destination="nas",
            percent=40.0,
            session_state="sending",
            selected_bytes=20_000_000_000,
            todo_bytes=12_000_000_000,
        ),
    ]
    state, _ = run(events, now=at + 2 * HOUR)
    return state


def test_a_row_sums_bytes_and_shows_the_least_complete_destination_and_latest_times() -> None:
    r = device_row(two_destinations(), T0 + 2 * HOUR, partition=3)

    assert (r.device_id, r.org_id, r.user_id) == ("dev-1", "org-1", "user-1")
    assert (r.hostname, r.os, r.app_version) == ("Laptop-7", "windows", "11.3.0")
    assert r.destinations == ("cloud", "nas")
    assert r.percent_complete == 40.0
    assert r.selected_bytes == 30_000_000_000
    assert r.todo_bytes == 12_000_000_000
    # Times are held as timestamps.
    assert r.first_seen == T0.timestamp()
    assert r.last_heartbeat == T0.timestamp()
    assert r.last_activity == (T0 + HOUR).timestamp()  # the nas report, the later of the two
    assert r.last_completed_backup == T0.timestamp()  # only cloud reached 100 %
    assert (r.connection, r.backup, r.completion, r.worst_state) == ("ok", "ok", "ok", "ok")
    assert r.top_cause is None
    assert r.partition == 3
    assert (r.deactivated, r.snoozed_until, r.backup_paused) == (False, None, False)


TIME_COLUMNS = (
    "first_seen",
    "last_heartbeat",
    "last_connected",
    "last_activity",
    "last_completed_backup",
    "snoozed_until",
)


# Every time the schemas accept (2000–2099), to the microsecond.
ACCEPTED_TIMES = st.datetimes(
    min_value=EARLIEST.replace(tzinfo=None),
    max_value=(LATEST - timedelta(microseconds=1)).replace(tzinfo=None),
    timezones=st.just(UTC),
)


@given(ACCEPTED_TIMES)
@example(datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC))
@example(datetime(2026, 11, 20, 11, 59, 59, 999_999, tzinfo=UTC))
@example(datetime(2038, 1, 19, 3, 14, 7, 999_999, tzinfo=UTC))
@example(datetime(2099, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
def test_a_rows_times_read_back_to_the_microsecond(at: datetime) -> None:
    r = row("dev-1", **dict.fromkeys(TIME_COLUMNS, at))

    body = row_json(r, context())
    (line,) = parse_csv(list(csv_lines([r], context())))[1:]
    cells = dict(zip([title for _, title in CSV_COLUMNS], line, strict=True))

    assert {name: body[name] for name in TIME_COLUMNS} == dict.fromkeys(
        TIME_COLUMNS, at.isoformat()
    )
    assert cells["Last connected"] == cells["Snoozed until"] == at.isoformat()


def test_online_snoozed_and_days_inactive_are_exact_to_the_microsecond() -> None:
    us = timedelta(microseconds=1)
    clock = CLOCK + 123_457 * us
    ctx = context(clocks={0: clock})
    window = DEFAULT_POLICY.online_window
    rows = [
        row("online", last_heartbeat=clock - window + us),
        row("at-the-window", last_heartbeat=clock - window),
        row("snoozed", snoozed_until=clock + us),
        row("snooze-ends-now", snoozed_until=clock),
        row("inactive", last_activity=clock - 3 * DAY - us),
        row("three-days", last_activity=clock - 3 * DAY),
    ]

    assert query_ids(rows, ctx, online="true") == [
        "inactive",
        "online",
        "snooze-ends-now",
        "snoozed",
        "three-days",
    ]
    assert query_ids(rows, ctx, snoozed="true") == ["snoozed"]
    assert query_ids(rows, ctx, min_days_inactive="3") == ["inactive", "three-days"]
    assert row_json(rows[5], ctx)["days_inactive"] == 3.0


def test_the_last_completed_backup_is_the_latest_of_any_destination() -> None:
    later = T0 + 5 * HOUR
    state, _ = run(
        [progress(later, destination="nas", selected_bytes=20_000_000_000)],
        now=later,
        state=two_destinations(),
    )

    r = device_row(state, later)

    assert r.last_completed_backup == later.timestamp()
    assert r.last_activity == later.timestamp()
    assert r.percent_complete == 100.0
    assert r.todo_bytes == 0


def with_levels(
    state: DeviceState, connection: str, cloud: tuple[str, str], nas: tuple[str, str]
) -> DeviceState:
    """`state` with its alert levels set: (backup, completion) of each destination."""

    def slot(level: str) -> Slot:
        return Slot(level, T0) if level != "ok" else Slot()  # type: ignore[arg-type]

    wanted = {"cloud": cloud, "nas": nas}
    destinations = tuple(
        msgspec.structs.replace(
            d,
            backup=slot(wanted[d.destination_id][0]),
            completion=slot(wanted[d.destination_id][1]),
        )
        for d in state.destinations
    )
    return msgspec.structs.replace(state, connection=slot(connection), destinations=destinations)


@pytest.mark.parametrize(
    ("connection", "cloud", "nas", "expected"),
    [
        ("ok", ("ok", "ok"), ("ok", "ok"), ("ok", "ok", "ok", "ok")),
        ("ok", ("ok", "ok"), ("warning", "ok"), ("ok", "warning", "ok", "warning")),
        ("ok", ("critical", "ok"), ("warning", "ok"), ("ok", "critical", "ok", "critical")),
        ("ok", ("ok", "warning"), ("ok", "critical"), ("ok", "ok", "critical", "critical")),
        ("warning", ("ok", "ok"), ("ok", "ok"), ("warning", "ok", "ok", "warning")),
        ("warning", ("ok", "critical"), ("warning", "ok"), ("warning", "warning", "critical", "critical")),  # noqa: E501
        ("critical", ("warning", "ok"), ("ok", "warning"), ("critical", "warning", "warning", "critical")),  # noqa: E501
    ],
)  # fmt: skip
def test_a_row_shows_the_worst_destination_of_each_kind_and_the_worst_of_all(
    connection: str, cloud: tuple[str, str], nas: tuple[str, str], expected: tuple[str, ...]
) -> None:
    state = with_levels(two_destinations(), connection, cloud, nas)

    r = device_row(state, T0 + 2 * HOUR)

    assert (r.connection, r.backup, r.completion, r.worst_state) == expected


def silent_for(days: int) -> tuple[DeviceState, datetime]:
    now = T0 + days * DAY
    state, _ = run([], now=now, state=healthy())
    return state, now


def stalled_by_pause(days: int) -> tuple[DeviceState, datetime]:
    """Online and reaching the destination every day, but the user paused the backup."""
    events: list[Any] = []
    for day in range(days + 1):
        at = T0 + day * DAY
        events.append(heartbeat(at, backup_paused=True))
        events.append(progress(at, percent=40.0, bytes_sent=0, session_state="paused"))
    now = T0 + days * DAY
    state, _ = run(events, now=now)
    return state, now


def stuck_at_99_by_locked_files() -> tuple[DeviceState, datetime]:
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
    now = T0 + 8 * DAY
    state, _ = run(events, now=now, state=healthy())
    return state, now


@pytest.mark.parametrize(
    ("build", "levels", "top_cause"),
    [
        pytest.param(
            lambda: silent_for(6),
            ("critical", "warning", "ok"),
            "extended_leave_or_powered_off",
            id="connection critical beats backup warning",
        ),
        pytest.param(
            lambda: silent_for(4),
            ("warning", "warning", "ok"),
            "extended_leave_or_powered_off",
            id="connection before backup at the same level",
        ),
        pytest.param(
            lambda: stalled_by_pause(8),
            ("ok", "critical", "ok"),
            "paused_by_user",
            id="backup critical, paused by the user",
        ),
        pytest.param(
            stuck_at_99_by_locked_files,
            ("ok", "ok", "warning"),
            "locked_files_block_completion",
            id="completion warning, locked files",
        ),
    ],
)
def test_the_top_cause_is_the_first_diagnosis_of_the_worst_open_alert(
    build: Any, levels: tuple[str, str, str], top_cause: str
) -> None:
    state, now = build()

    r = device_row(state, now)

    assert (r.connection, r.backup, r.completion) == levels
    assert r.top_cause == top_cause


def test_the_top_cause_comes_from_the_destination_in_trouble() -> None:
    # cloud keeps receiving data; nas is reachable but the backup to it is paused.
    events: list[Any] = []
    for day in range(9):
        at = T0 + day * DAY
        events.append(heartbeat(at, reachable_destinations=["cloud", "nas"]))
        events.append(progress(at, destination="cloud"))
        events.append(
            progress(at, destination="nas", percent=40.0, bytes_sent=0, session_state="paused")
        )
    now = T0 + 8 * DAY
    state, _ = run(events, now=now)

    r = device_row(state, now)

    assert [(d.destination_id, d.backup.level) for d in state.destinations] == [
        ("cloud", "ok"),
        ("nas", "critical"),
    ]
    assert (r.backup, r.worst_state, r.top_cause) == ("critical", "critical", "paused_by_user")


def test_a_device_with_every_alert_ok_has_no_top_cause() -> None:
    state = healthy()

    assert device_row(state, T0 + HOUR).top_cause is None


# --- filters --------------------------------------------------------------------------


def test_org_and_user_filters_keep_exact_matches() -> None:
    rows = [
        row("a", org_id="org-1", user_id="alice"),
        row("b", org_id="org-1", user_id="bob"),
        row("c", org_id="org-2", user_id="alice"),
        row("d", org_id="org-10", user_id="alice-2"),
    ]

    assert query_ids(rows, org="org-1") == ["a", "b"]
    assert query_ids(rows, user="alice") == ["a", "c"]
    assert query_ids(rows, org="org-2", user="alice") == ["c"]
    assert query_ids(rows, org="org-3") == []


# Each row names its levels: connection, backup, completion.
LEVEL_ROWS = {
    "all-ok": ("ok", "ok", "ok"),
    "conn-warn": ("warning", "ok", "ok"),
    "backup-warn": ("ok", "warning", "ok"),
    "backup-crit": ("ok", "critical", "ok"),
    "conn-crit-backup-warn": ("critical", "warning", "ok"),
    "completion-warn": ("ok", "ok", "warning"),
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "ok"}, ["all-ok"]),
        ({"state": "warning"}, ["backup-warn", "completion-warn", "conn-warn"]),
        ({"state": "critical"}, ["backup-crit", "conn-crit-backup-warn"]),
        ({"kind": "backup"}, ["backup-crit", "backup-warn", "conn-crit-backup-warn"]),
        ({"kind": "connection"}, ["conn-crit-backup-warn", "conn-warn"]),
        ({"kind": "completion"}, ["completion-warn"]),
        ({"state": "warning", "kind": "backup"}, ["backup-warn", "conn-crit-backup-warn"]),
        ({"state": "critical", "kind": "backup"}, ["backup-crit"]),
        (
            {"state": "ok", "kind": "backup"},
            ["all-ok", "completion-warn", "conn-warn"],
        ),
    ],
    ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_state_alone_is_the_worst_state_kind_alone_is_not_ok_in_that_kind(
    params: dict[str, str], expected: list[str]
) -> None:
    rows = [
        row(name, connection=c, backup=b, completion=k) for name, (c, b, k) in LEVEL_ROWS.items()
    ]

    assert query_ids(rows, **params) == expected


def test_online_is_judged_at_the_devices_stream_time_with_its_orgs_window() -> None:
    rows = [
        row("fresh", last_heartbeat=CLOCK - 14 * MINUTE),
        row("at-the-window", last_heartbeat=CLOCK - 15 * MINUTE),
        row("never", last_heartbeat=None),
        # Ten minutes is within the default window but not org-short's five minutes.
        row("short-window", org_id="org-short", last_heartbeat=CLOCK - 10 * MINUTE),
        row("short-fresh", org_id="org-short", last_heartbeat=CLOCK - 4 * MINUTE),
        # Fresh against partition 0's clock, but its own partition is an hour ahead.
        row("ahead", partition=1, last_heartbeat=CLOCK - MINUTE),
        row("ahead-fresh", partition=1, last_heartbeat=CLOCK + 50 * MINUTE),
    ]

    assert query_ids(rows, online="true") == ["ahead-fresh", "fresh", "short-fresh"]
    assert query_ids(rows, online="false") == ["ahead", "at-the-window", "never", "short-window"]


def test_days_inactive_counts_from_the_last_activity_or_from_first_seen() -> None:
    rows = [
        row("recent", last_activity=CLOCK - DAY),
        row("three-days", last_activity=CLOCK - 3 * DAY),
        row("nearly-three", last_activity=CLOCK - 3 * DAY + SECOND),
        # Never sent any progress: silent since it was first seen.
        row("never-long", last_activity=None, first_seen=CLOCK - 10 * DAY),
        row("never-new", last_activity=None, first_seen=CLOCK - HOUR),
        # The same last activity, judged at each partition's own clock.
        row("on-0", partition=0, last_activity=CLOCK - 3 * DAY + 30 * MINUTE),
        row("on-1", partition=1, last_activity=CLOCK - 3 * DAY + 30 * MINUTE),
    ]

    assert query_ids(rows, min_days_inactive="3") == ["never-long", "on-1", "three-days"]
    assert query_ids(rows, min_days_inactive="0.5") == [
        "nearly-three",
        "never-long",
        "on-0",
        "on-1",
        "recent",
        "three-days",
    ]
    assert query_ids(rows, min_days_inactive="0") == sorted(ids(rows))


def test_version_below_compares_versions_by_number() -> None:
    rows = [
        row("old-major", app_version="9.9.9"),
        row("old-minor", app_version="11.1.9"),
        row("same", app_version="11.2.1"),
        row("newer", app_version="11.10.0"),
        row("short-same", app_version="11.2.1.0"),
        row("unknown", app_version=""),
    ]

    assert query_ids(rows, version_below="11.2.1") == ["old-major", "old-minor"]
    assert query_ids(rows, version_below="12") == [
        "newer",
        "old-major",
        "old-minor",
        "same",
        "short-same",
    ]


@pytest.mark.parametrize(
    ("app_version", "below"),
    [("11.2", "11.2.0"), ("11.2.0", "11.2"), ("11", "11.0.0"), ("11.2.0.0", "11.2")],
)
def test_trailing_zeros_do_not_make_a_version_older(app_version: str, below: str) -> None:
    rows = [row("dev-1", app_version=app_version)]

    assert query_ids(rows, version_below=below) == []


def test_completed_below_is_strictly_below() -> None:
    rows = [
        row("empty", percent_complete=0.0),
        row("half", percent_complete=50.0),
        row("just-under", percent_complete=79.99),
        row("at", percent_complete=80.0),
        row("done", percent_complete=100.0),
    ]

    assert query_ids(rows, completed_below="80") == ["empty", "half", "just-under"]
    assert query_ids(rows, completed_below="100") == ["at", "empty", "half", "just-under"]
    assert query_ids(rows, completed_below="0") == []


def test_snoozed_is_judged_at_the_devices_stream_time() -> None:
    rows = [
        row("never"),
        row("snoozed", snoozed_until=CLOCK + DAY),
        row("ended", snoozed_until=CLOCK - SECOND),
        row("ends-now", snoozed_until=CLOCK),
        # Still ahead of partition 0's clock, already past partition 1's.
        row("ended-ahead", partition=1, snoozed_until=CLOCK + 30 * MINUTE),
    ]

    assert query_ids(rows, snoozed="true") == ["snoozed"]
    assert query_ids(rows, snoozed="false") == ["ended", "ended-ahead", "ends-now", "never"]


def test_deactivated_filter() -> None:
    rows = [row("on"), row("off", deactivated=True)]

    assert query_ids(rows, deactivated="true") == ["off"]
    assert query_ids(rows, deactivated="no") == ["on"]
    assert query_ids(rows) == ["off", "on"]


def test_search_matches_part_of_the_id_hostname_or_user_ignoring_case() -> None:
    rows = [
        row("desktop-0042", hostname="RECEPTION", user_id="jane"),
        row("laptop-0007", hostname="Finance-Laptop", user_id="joe"),
        row("server-1", hostname="nas", user_id="Jan.Smith"),
    ]

    assert query_ids(rows, q="0042") == ["desktop-0042"]
    assert query_ids(rows, q="finance") == ["laptop-0007"]
    assert query_ids(rows, q="  Recep ") == ["desktop-0042"]
    assert query_ids(rows, q="jan") == ["desktop-0042", "server-1"]
    assert query_ids(rows, q="LAPTOP") == ["laptop-0007"]
    assert query_ids(rows, q="nobody") == []


def test_filters_combine() -> None:
    rows = [
        row("match", org_id="org-2", backup="critical", percent_complete=20.0),
        row("other-org", org_id="org-1", backup="critical", percent_complete=20.0),
        row("complete", org_id="org-2", backup="critical", percent_complete=95.0),
        row("ok", org_id="org-2", percent_complete=20.0),
    ]

    assert query_ids(rows, org="org-2", kind="backup", completed_below="50") == ["match"]


def test_total_counts_every_match_not_just_the_page() -> None:
    rows = [row(f"dev-{n:02}", backup="warning") for n in range(7)] + [row("fine")]

    page = select(rows, parse_query({"state": "warning", "limit": "3"}), context())

    assert page.total == 7
    assert len(page.rows) == 3
    assert page.next_after is not None


# --- sorting --------------------------------------------------------------------------

# Per column: the fields of rows in ascending order of that column; a last row whose
# value is missing where the column can be missing. Device ids run against that order,
# so a sort that ignored the column (and fell back to the device id) would show.
ASCENDING: dict[str, list[dict[str, Any]]] = {
    "device_id": [{"device_id": "dev-a"}, {"device_id": "dev-b"}, {"device_id": "dev-c"}],
    "org_id": [{"org_id": "org-a"}, {"org_id": "org-b"}, {"org_id": "org-c"}],
    "user_id": [{"user_id": "ann"}, {"user_id": "bea"}, {"user_id": "cid"}],
    "hostname": [{"hostname": "alpha"}, {"hostname": "Bravo"}, {"hostname": "charlie"}],
    "os": [{"os": "linux"}, {"os": "macos"}, {"os": "windows"}],
    "app_version": [
        {"app_version": "9.8.0"},
        {"app_version": "11.2.0"},
        {"app_version": "11.10.1"},
        {"app_version": ""},
    ],
    "destinations": [
        {"destinations": ()},
        {"destinations": ("cloud",)},
        {"destinations": ("cloud", "nas")},
    ],
    "connection": [{"connection": "ok"}, {"connection": "warning"}, {"connection": "critical"}],
    "backup": [{"backup": "ok"}, {"backup": "warning"}, {"backup": "critical"}],
    "completion": [{"completion": "ok"}, {"completion": "warning"}, {"completion": "critical"}],
    "worst_state": [{"backup": "ok"}, {"completion": "warning"}, {"connection": "critical"}],
    "online": [{"last_heartbeat": CLOCK - DAY}, {"last_heartbeat": CLOCK - MINUTE}],
    "days_inactive": [
        {"last_activity": CLOCK - HOUR},
        {"last_activity": None, "first_seen": CLOCK - DAY},
        {"last_activity": CLOCK - 5 * DAY},
    ],
    "percent_complete": [
        {"percent_complete": 9.5},
        {"percent_complete": 50.0},
        {"percent_complete": 100.0},
    ],
    "first_seen": [
        {"first_seen": CLOCK - 9 * DAY},
        {"first_seen": CLOCK - 8 * DAY},
        {"first_seen": CLOCK - 7 * DAY},
    ],
    "selected_bytes": [
        {"selected_bytes": 0},
        {"selected_bytes": 999},
        {"selected_bytes": 10**12},
    ],
    "todo_bytes": [{"todo_bytes": 0}, {"todo_bytes": 5}, {"todo_bytes": 7 * 10**9}],
    "deactivated": [{"deactivated": False}, {"deactivated": True}],
    "top_cause": [
        {"top_cause": "cpu_throttled"},
        {"top_cause": "no_connection"},
        {"top_cause": "paused_by_user"},
        {"top_cause": None},
    ],
}
for _name in (
    "last_heartbeat",
    "last_connected",
    "last_activity",
    "last_completed_backup",
    "snoozed_until",
):
    ASCENDING[_name] = [
        {_name: CLOCK - 3 * DAY},
        {_name: CLOCK - DAY - SECOND},
        {_name: CLOCK - DAY},
        {_name: None},
    ]
# Ids that run against every ascending order above (up to four rows).
AGAINST = ["dev-m", "dev-c", "dev-x", "dev-a"]
# Columns whose last case above has no value.
NULLABLE = {
    "app_version",
    "top_cause",
    "last_heartbeat",
    "last_connected",
    "last_activity",
    "last_completed_backup",
    "snoozed_until",
}


def test_every_column_has_a_sorting_case() -> None:
    assert set(ASCENDING) == set(COLUMNS)


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("column", list(COLUMNS))
def test_every_column_sorts_both_ways_with_missing_values_last(column: str, order: str) -> None:
    cases = ASCENDING[column]
    rows = []
    for n, fields in enumerate(cases):
        others = {k: v for k, v in fields.items() if k != "device_id"}
        rows.append(row(fields.get("device_id", AGAINST[n]), **others))
    present, missing = (rows[:-1], rows[-1:]) if column in NULLABLE else (rows, [])
    shuffled = rows[:]
    random.Random(column).shuffle(shuffled)

    page = select(shuffled, parse_query({"sort": column, "order": order}), context())

    expected = present if order == "asc" else present[::-1]
    assert ids(page.rows) == ids(expected + missing)


def test_the_default_order_is_the_worst_state_first() -> None:
    rows = [row("a"), row("b", backup="critical"), row("c", completion="warning")]

    assert ids(select(rows, parse_query({}), context()).rows) == ["b", "c", "a"]


def test_equal_values_are_ordered_by_device_id() -> None:
    rows = [row(name, backup="warning") for name in ("d", "b", "c", "a")]

    asc = select(rows, parse_query({"sort": "backup", "order": "asc"}), context())
    desc = select(rows, parse_query({"sort": "backup", "order": "desc"}), context())

    assert ids(asc.rows) == ["a", "b", "c", "d"]
    assert ids(desc.rows) == ["d", "c", "b", "a"]


# --- rollups --------------------------------------------------------------------------


def org_rows() -> list[DeviceRow]:
    return [
        row("ok-1"),
        row("ok-2", last_heartbeat=CLOCK - DAY, app_version="10.0"),
        row("warn", completion="warning", last_connected=CLOCK - 8 * DAY),
        row("crit-recent", backup="critical", last_connected=CLOCK - DAY),
        row("crit-silent", connection="critical", last_connected=CLOCK - 6 * DAY),
        row("crit-never", connection="critical", last_connected=None, first_seen=CLOCK - 9 * DAY),
        row("gone", connection="critical", deactivated=True, last_connected=CLOCK - 60 * DAY),
        row("away", backup="warning", snoozed_until=CLOCK + DAY),
    ]


def test_an_org_summary_counts_active_devices_per_state_and_kind() -> None:
    ctx = context(policies={"org-1": Policy(minimum_app_version="11.0")})

    summary = summarize_org("org-1", org_rows(), ctx)

    assert summary.org_id == "org-1"
    assert (summary.devices, summary.active, summary.deactivated) == (8, 7, 1)
    assert summary.by_state == {"ok": 2, "warning": 2, "critical": 3}
    assert summary.by_kind == {
        "connection": {"ok": 5, "warning": 0, "critical": 2},
        "backup": {"ok": 5, "warning": 1, "critical": 1},
        "completion": {"ok": 6, "warning": 1, "critical": 0},
    }
    assert summary.online == 6  # every active device but ok-2
    assert summary.snoozed == 1
    assert summary.app_version_outdated == 1


def test_the_most_urgent_are_critical_first_then_the_longest_silent() -> None:
    summary = summarize_org("org-1", org_rows(), context())

    assert [d.device_id for d in summary.most_urgent] == [
        "crit-never",  # silent since first seen, nine days ago
        "crit-silent",
        "crit-recent",
        "warn",
        "away",
    ]
    top_two = summarize_org("org-1", org_rows(), context(), top=2)
    assert [d.device_id for d in top_two.most_urgent] == ["crit-never", "crit-silent"]


def test_a_user_shows_the_worst_of_their_active_devices() -> None:
    rows = [
        row("laptop", user_id="ann", backup="warning", last_heartbeat=CLOCK - DAY),
        row("desktop", user_id="ann", org_id="org-2", completion="warning"),
        row("old", user_id="ann", connection="critical", deactivated=True),
    ]

    summary = summarize_user("ann", rows, context())

    assert summary.user_id == "ann"
    assert summary.orgs == ["org-1", "org-2"]
    assert summary.devices == 3
    assert summary.alert_states == {
        "connection": "ok",
        "backup": "warning",
        "completion": "warning",
    }
    assert summary.worst_state == "warning"
    assert summary.online is True  # the desktop
    assert sorted(d.device_id for d in summary.device_list) == ["desktop", "laptop", "old"]


def test_a_user_with_only_deactivated_devices_is_ok_and_offline() -> None:
    rows = [row("old", user_id="ann", connection="critical", deactivated=True)]

    summary = summarize_user("ann", rows, context())

    assert summary.worst_state == "ok"
    assert summary.online is False


def test_the_fleet_summary_counts_per_org_with_totals() -> None:
    rows = [
        row("a", org_id="org-b"),
        row("b", org_id="org-b", backup="critical"),
        row("c", org_id="org-a", connection="warning"),
        row("d", org_id="org-a", connection="critical", deactivated=True),
        row("e", org_id="org-a"),
    ]

    summary = summarize_fleet(rows)

    assert summary.totals == {
        "devices": 5,
        "deactivated": 1,
        "ok": 2,
        "warning": 1,
        "critical": 1,
    }
    assert list(summary.orgs.items()) == [
        ("org-a", {"devices": 3, "deactivated": 1, "ok": 1, "warning": 1, "critical": 0}),
        ("org-b", {"devices": 2, "deactivated": 0, "ok": 1, "warning": 0, "critical": 1}),
    ]


def test_an_empty_fleet_summary_is_all_zero() -> None:
    assert summarize_fleet([]) == FleetRollup(
        totals={"devices": 0, "deactivated": 0, "ok": 0, "warning": 0, "critical": 0},
        orgs={},
    )
