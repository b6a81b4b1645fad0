"""`backupwatch import crashplan-csv`: the console's Device Backup Report export, one
row per device and destination, read by column name into the same `ConsoleDevice`s the
bridge maps; a row that cannot be read is reported with its line number and reason, the
others go through."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.bridge.crashplan import CsvReportError, changes, records_of
from agents.bridge.crashplan.csvreport import read_report
from agents.cli import main
from schemas.models import BackupProgress, Heartbeat

HEADER = (
    "deviceUid,deviceName,deviceOsHostname,userUid,username,orgUid,orgName,os,version,"
    "active,deviceCreationDate,destinationGuid,destinationName,lastConnectedDate,"
    "lastActivity,lastCompletedBackupDate,backupCompletePercentage,selectedFiles,"
    "selectedBytes,todoFiles,todoBytes,archiveBytes"
)
GOOD = [
    # a laptop backing up to two destinations
    "dev-1,LAPTOP-1,laptop-1,user-1,ann@example.com,org-1,Sales,win,11.4.1,true,"
    "2024-05-14T13:03:20.302Z,cloud,CrashPlan Cloud,2026-11-30T16:55:40.632Z,"
    "2026-11-30T16:50:00Z,2026-11-30T04:10:00Z,99.5,1000,1000000,5,5000,900000",
    "dev-1,LAPTOP-1,laptop-1,user-1,ann@example.com,org-1,Sales,win,11.4.1,true,"
    '2024-05-14T13:03:20.302Z,nas,Office NAS,"Nov 20, 2026 9:15:00 AM",'
    '"Nov 20, 2026 9:00:00 AM","Nov 20, 2026 9:00:00 AM",100,1000,1000000,0,0,900000',
    # a deactivated desktop
    "dev-2,DESK-2,,user-2,bob@example.com,org-1,Sales,mac,11.2.0,false,2023-01-02T00:00:00Z,"
    "cloud,CrashPlan Cloud,2026-10-01T00:00:00Z,,,80,10,100,2,20,50",
]
BAD = [
    "dev-3,X,x,user-3,c@x,org-1,S,win,11.4,true,,c,C,last tuesday,,,50,1,1,0,0,0",
    "dev-4,X,x,,d@x,org-1,S,win,11.4,true,,c,C,2026-11-30T00:00:00Z,,,50,1,1,0,0,0",
    "dev-5,X,x,user-5,e@x,org-1,S,win,11.4,true,,c,C,2026-11-30T00:00:00Z,,,150,1,1,0,0,0",
    "dev-6,too,few,cells",
]


def report(*rows: str) -> list[str]:
    return [f"{line}\n" for line in (HEADER, *rows)]


def test_a_device_s_rows_join_into_one_device_with_its_destinations() -> None:
    devices, errors = read_report(report(*GOOD))

    assert errors == []
    laptop, desktop = devices
    assert (laptop.device_id, laptop.user_id, laptop.org_id) == ("dev-1", "user-1", "org-1")
    assert (laptop.hostname, laptop.os, laptop.app_version) == ("laptop-1", "win", "11.4.1")
    assert laptop.registered_at == datetime(2024, 5, 14, 13, 3, 20, 302000, tzinfo=UTC)
    assert laptop.last_connected == datetime(2026, 11, 30, 16, 55, 40, 632000, tzinfo=UTC)
    cloud, nas = sorted(laptop.destinations, key=lambda d: d.destination_id)
    assert cloud.percent_complete == 99.5 and (cloud.todo_files, cloud.todo_bytes) == (5, 5000)
    assert nas.last_completed == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert desktop.hostname == "DESK-2" and not desktop.active


def test_the_records_are_the_bridge_s() -> None:
    devices, _ = read_report(report(*GOOD))

    records = records_of(devices[0])

    assert [type(r) for r in records] == [
        Heartbeat,
        Heartbeat,
        BackupProgress,
        BackupProgress,
        BackupProgress,
    ]
    assert records[0].event_time == datetime(2026, 11, 30, 16, 55, 40, 632000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (BAD[0], "lastConnectedDate 'last tuesday' is not a time"),
        (BAD[1], "userUid is empty"),
        (BAD[2], "backupCompletePercentage '150' is not between 0 and 100"),
        (BAD[3], "4 cells, header has 22"),
    ],
)
def test_a_row_that_cannot_be_read_is_reported_with_its_line(row: str, reason: str) -> None:
    devices, errors = read_report(report(GOOD[0], row, GOOD[2]))

    assert [(e.line, e.reason) for e in errors] == [(3, reason)]
    assert [d.device_id for d in devices] == ["dev-1", "dev-2"]


def test_a_file_without_the_report_s_columns_is_refused() -> None:
    with pytest.raises(
        CsvReportError, match="no column deviceUid, userUid, orgUid, destinationGuid"
    ):
        read_report(["name,value\n", "a,1\n"])


def test_a_deactivated_device_of_the_report_publishes_nothing() -> None:
    devices, _ = read_report(report(*GOOD))

    assert changes(devices[1], None)[0] == []


def test_the_command_names_a_file_it_cannot_read_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["import", "crashplan-csv", str(tmp_path / "missing.csv")])

    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("backupwatch: cannot read ")
    assert "Traceback" not in err


def test_the_command_refuses_a_file_that_is_no_report_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.csv"
    path.write_text("name,value\na,1\n")

    code = main(["import", "crashplan-csv", str(path)])

    err = capsys.readouterr().err
    assert code == 2
    assert "not a Device Backup Report" in err.strip().splitlines()[-1]
