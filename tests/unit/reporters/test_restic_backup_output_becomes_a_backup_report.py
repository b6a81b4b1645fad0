from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.reporters.errors import ReportError
from agents.reporters.file_errors import cause_of_errno, cause_of_message
from agents.reporters.records import Identity, backup_records
from agents.reporters.restic import parse_backup

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
HOST = Identity(device_id="alpha", user_id="alpha", org_id="org-a", hostname="alpha")


def lines(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().splitlines()


def test_a_clean_backup_completes_with_the_new_data_it_stored() -> None:
    run = parse_backup(lines("restic-backup.stdout"), exit_code=0)

    beat, progress = backup_records(HOST, "/srv/restic", run, NOW)

    assert run.snapshot_id and run.unreadable.total == 0
    assert progress.session_state == "completed" and progress.percent_complete == 100
    assert progress.bytes_sent == run.data_added > 0
    assert progress.selected_files == run.files_processed == 3
    assert progress.event_time == NOW  # restic 0.14's summary has no end time
    assert beat.reachable_destinations == ("/srv/restic",)
    assert progress.backup_interval_s == 86400


def test_an_unreadable_file_counts_as_permission_denied_and_holds_the_backup_below_100() -> None:
    run = parse_backup(
        [*lines("restic-backup-unreadable.stdout"), *lines("restic-backup-unreadable.stderr")],
        exit_code=3,
    )

    _, progress = backup_records(HOST, "/srv/restic", run, NOW)

    assert progress.file_errors.permission_denied == 1
    assert progress.todo_files == 1 and progress.selected_files == 3
    assert 0 < progress.percent_complete < 100
    assert progress.session_state == "idle"


def test_exit_code_3_without_the_error_lines_still_counts_one_unreadable_file() -> None:
    run = parse_backup(lines("restic-backup-unreadable.stdout"), exit_code=3)

    assert run.unreadable.total == 1


def test_a_newer_restic_with_fields_it_does_not_know_is_read() -> None:
    newer = [
        b'{"message_type":"status","percent_done":0.5,"seconds_elapsed":1,"new_field":[1]}',
        b'{"message_type":"error","error":{"message":"open /x: no such file or directory"},'
        b'"during":"archival","item":"/x"}',
        b'{"message_type":"summary","files_new":1,"files_changed":2,"files_unmodified":0,'
        b'"dirs_new":0,"dirs_changed":0,"dirs_unmodified":0,"data_blobs":1,"tree_blobs":1,'
        b'"data_added":4096,"data_added_packed":2000,"total_files_processed":3,'
        b'"total_bytes_processed":9000,"total_duration":2.5,'
        b'"backup_start":"2026-12-06T02:00:00.123456789+01:00",'
        b'"backup_end":"2026-12-06T02:00:02.5+01:00","snapshot_id":"abc","future":{"x":1}}',
    ]

    run = parse_backup(newer)

    assert run.finished_at == datetime(2026, 12, 6, 1, 0, 2, 500000, tzinfo=UTC)
    assert run.unreadable.vanished == 1
    assert (run.files_new, run.files_changed, run.data_added) == (1, 2, 4096)
    _, progress = backup_records(HOST, "r", run, NOW, interval=timedelta(hours=6))
    assert progress.event_time == run.finished_at and progress.backup_interval_s == 21600


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ([], "no input"),
        ([b"", b"  "], "no input"),
        ([b"hello world", b"<html>"], "no summary"),
        ([b'{"message_type":"status","percent_done":1}'], "no summary"),
        ([b"[1, 2"], "no summary"),
        ([b'{"message_type":"summary","data_added":-5,"snapshot_id":"x"}'], "data_added"),
        ([b'{"message_type":"summary","snapshot_id":"x","backup_end":"yesterday"}'], "backup_end"),
    ],
)
def test_garbage_or_empty_input_is_refused_in_one_line(given: list[bytes], says: str) -> None:
    with pytest.raises(ReportError, match=says) as refused:
        parse_backup(given)

    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("number", "cause"),
    [
        (13, "permission_denied"),
        (1, "permission_denied"),
        (2, "vanished"),
        (16, "locked"),
        (5, "locked"),
    ],
)
def test_an_error_number_names_its_cause(number: int, cause: str) -> None:
    assert cause_of_errno(number) == cause


@pytest.mark.parametrize(
    ("message", "cause"),
    [
        ("open /home/a/.ssh/id: permission denied", "permission_denied"),
        ("src/x: open: [Errno 13] Permission denied: 'x'", "permission_denied"),
        ("lstat /tmp/x: no such file or directory", "vanished"),
        ("src/x: [Errno 2] No such file or directory: 'x'", "vanished"),
        ("src/db.sqlite: file changed while we backed it up", "changed_during_backup"),
        (
            "The process cannot access the file because it is being used by another process.",
            "locked",
        ),
        ("read /dev/x: input/output error", "locked"),
    ],
)
def test_an_error_message_names_its_cause(message: str, cause: str) -> None:
    assert cause_of_message(message) == cause
