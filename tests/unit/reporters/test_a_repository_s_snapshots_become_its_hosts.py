from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.reporters.errors import ReportError
from agents.reporters.records import destination_name, fleet_records, snapshot_interval
from agents.reporters.restic import parse_snapshots
from agents.reporters.runs import Snapshot
from schemas.models import BackupProgress, Heartbeat

FIXTURES = Path(__file__).parent / "fixtures"
DAY = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_each_host_of_a_restic_repository_is_a_device_with_its_newest_snapshot() -> None:
    snapshots = parse_snapshots((FIXTURES / "restic-snapshots.json").read_bytes())

    records = fleet_records(snapshots, "/srv/restic", "org-a")

    progress = {r.device_id: r for r in records if isinstance(r, BackupProgress)}
    beats = {r.device_id: r for r in records if isinstance(r, Heartbeat)}
    assert set(progress) == set(beats) == {"alpha", "beta"}
    for host, record in progress.items():
        newest = max(s.time for s in snapshots if s.hostname == host)
        assert record.event_time == newest == beats[host].event_time
        assert record.session_state == "completed" and record.percent_complete == 100
        assert record.destination_id == "/srv/restic" and record.user_id == host
        assert beats[host].reachable_destinations == ("/srv/restic",)


def test_polling_the_same_repository_again_gives_the_same_records() -> None:
    snapshots = parse_snapshots((FIXTURES / "restic-snapshots.json").read_bytes())

    assert fleet_records(snapshots, "r", "o") == fleet_records(list(reversed(snapshots)), "r", "o")


def test_the_backup_interval_is_the_median_gap_between_a_host_s_snapshots() -> None:
    times = [DAY + timedelta(days=d) for d in (0, 1, 2, 3, 10)]

    assert snapshot_interval(times) == timedelta(days=1)
    assert snapshot_interval([DAY]) == timedelta(days=1)


def test_a_snapshot_list_of_a_newer_restic_carries_its_summary() -> None:
    listed = (
        b'[{"time":"2026-12-01T02:00:00.5+01:00","hostname":"h","username":"u","id":"1",'
        b'"program_version":"restic 0.17.3","summary":{"data_added":77,'
        b'"total_files_processed":5,"total_bytes_processed":900,"new":true}}]'
    )

    (snapshot,) = parse_snapshots(listed)

    assert snapshot == Snapshot(
        id="1",
        hostname="h",
        username="u",
        time=datetime(2026, 12, 1, 1, 0, 0, 500000, UTC),
        data_added=77,
        files_processed=5,
        bytes_processed=900,
    )


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (b"", "no input"),
        (b"nonsense", "not the JSON"),
        (b"{}", "expected a list"),
        (b'[{"hostname":"h"}]', "no time"),
    ],
)
def test_a_bad_snapshot_list_is_refused(given: bytes, says: str) -> None:
    with pytest.raises(ReportError, match=says):
        parse_snapshots(given)


@pytest.mark.parametrize(
    ("repository", "name"),
    [
        ("/srv/restic", "/srv/restic"),
        (
            "rest:https://user:secret@backup.example.com/repo",
            "rest:https://backup.example.com/repo",
        ),
        ("ssh://borg@host:22/./repo", "ssh://host:22/./repo"),
        ("s3:https://s3.example.com/bucket", "s3:https://s3.example.com/bucket"),
        ("", "repository"),
    ],
)
def test_a_repository_s_name_leaves_out_its_credentials(repository: str, name: str) -> None:
    assert destination_name(repository) == name
