from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.reporters.borg import parse_archives, parse_create
from agents.reporters.errors import ReportError
from agents.reporters.records import Identity, backup_records

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 12, 8, tzinfo=UTC)
HOST = Identity(device_id="vm", user_id="vm", org_id="org-a")


def lines(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().splitlines()


def test_a_clean_archive_completes_at_its_end_time_with_the_deduplicated_data() -> None:
    run = parse_create(lines("borg-create.stdout"), exit_code=0)

    _, progress = backup_records(HOST, run.repository, run, NOW)

    assert run.repository == "/tmp/fixture/borg"
    assert progress.destination_id == "/tmp/fixture/borg"
    assert progress.session_state == "completed" and progress.percent_complete == 100
    assert progress.bytes_sent == run.data_added and run.files_processed == 3
    assert run.finished_at is not None and progress.event_time == run.finished_at


@pytest.mark.parametrize(
    "stderr", ["borg-create-unreadable.stderr", "borg-create-unreadable-text.stderr"]
)
def test_an_unreadable_file_in_the_log_json_or_text_is_permission_denied(stderr: str) -> None:
    run = parse_create(lines("borg-create-unreadable.stdout"), lines(stderr), exit_code=1)

    _, progress = backup_records(HOST, run.repository, run, NOW)

    assert progress.file_errors.permission_denied == 1
    assert progress.todo_files == 1 and 0 < progress.percent_complete < 100


def test_the_log_mixed_into_the_output_is_told_apart_from_the_document() -> None:
    mixed = [*lines("borg-create-unreadable.stderr"), *lines("borg-create-unreadable.stdout")]

    run = parse_create(mixed, exit_code=None)

    assert run.unreadable.permission_denied == 1 and run.snapshot_id


def test_exit_code_1_without_the_log_counts_one_unreadable_file() -> None:
    assert parse_create(lines("borg-create-unreadable.stdout"), exit_code=1).unreadable.total == 1


def test_borg_info_of_an_archive_reports_its_newest_archive() -> None:
    run = parse_create(lines("borg-info.json"))

    assert run.hostname == "vm" and run.username == "root" and run.files_processed == 3


def test_the_archive_lists_give_each_archive_its_host_and_time() -> None:
    for name in ("borg-info.json", "borg-list.json"):
        location, archives = parse_archives((FIXTURES / name).read_bytes())

        assert location == "/tmp/fixture/borg"
        assert archives and all(a.hostname == "vm" for a in archives)
        assert [a.time for a in archives] == sorted(a.time for a in archives)


def test_a_newer_borg_with_fields_it_does_not_know_is_read() -> None:
    newer = (
        b'{"archive": {"name": "a", "id": "1", "end": "2026-12-01T10:00:00+00:00",'
        b' "stats": {"nfiles": 2, "original_size": 10, "deduplicated_size": 4, "x": 1},'
        b' "tags": ["new"]}, "repository": {"location": "ssh://u@h/./r", "x": 2}}'
    )

    run = parse_create([newer])

    assert run.finished_at == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert (run.files_processed, run.data_added) == (2, 4)


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ([], "no input"),
        ([b"garbage"], "not the JSON"),
        ([b'{"repository": {}}'], "no archive"),
        ([b"[1, 2]"], "no JSON document"),
        ([b'{"archive": {"stats": {"nfiles": "many"}}}'], "nfiles"),
    ],
)
def test_garbage_or_empty_input_is_refused_in_one_line(given: list[bytes], says: str) -> None:
    with pytest.raises(ReportError, match=says) as refused:
        parse_create(given)

    assert "\n" not in str(refused.value)
