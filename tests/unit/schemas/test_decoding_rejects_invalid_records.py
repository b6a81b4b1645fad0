"""Bad input is rejected with a bounded reason and a message that names the field.

The reason is a metric label and a dead-letter field; the message is what an operator
reads in the dead-letter topic to find the producer's mistake.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas import (
    MAX_RECORD_BYTES,
    BackupProgress,
    DeviceCommand,
    Heartbeat,
    InvalidRecord,
    OrgPolicy,
    decode,
    decode_as,
)
from schemas.types import MAX_ID_LENGTH

DROP = object()

HEARTBEAT: dict[str, Any] = {
    "schema": "heartbeat/1",
    "device_id": "dev-1",
    "user_id": "user-1",
    "org_id": "org-1",
    "event_time": "2026-11-01T08:00:00Z",
}
PROGRESS: dict[str, Any] = {
    "schema": "backup_progress/1",
    "device_id": "dev-1",
    "user_id": "user-1",
    "org_id": "org-1",
    "destination_id": "cloud",
    "event_time": "2026-11-01T08:00:00Z",
    "session_state": "sending",
    "percent_complete": 50.0,
    "selected_files": 1000,
    "selected_bytes": 10_000_000,
    "todo_files": 500,
    "todo_bytes": 5_000_000,
}
COMMAND: dict[str, Any] = {
    "schema": "device_command/1",
    "command_id": "cmd-1",
    "device_id": "dev-1",
    "action": "deactivate",
    "issued_at": "2026-11-01T08:00:00Z",
}


def record(base: dict[str, Any], **changes: Any) -> bytes:
    """`base` with fields changed (or removed with DROP), as JSON bytes."""
    fields = {**base, **changes}
    return json.dumps({k: v for k, v in fields.items() if v is not DROP}).encode()


REJECTED = [
    pytest.param(b'{"schema": "heartbeat/1", ', "invalid_json", "not valid JSON", id="bad JSON"),
    pytest.param(b'[{"schema": "heartbeat/1"}]', "invalid_json", "JSON object", id="JSON array"),
    pytest.param(b'"heartbeat/1"', "invalid_json", "JSON object", id="JSON string"),
    pytest.param(record(HEARTBEAT, schema=DROP), "missing_schema", "`schema`", id="no schema"),
    pytest.param(record(HEARTBEAT, schema="ping/1"), "unknown_schema", "ping/1", id="unknown"),
    pytest.param(
        record(HEARTBEAT, schema="heartbeat/2"), "unknown_schema", "heartbeat/2", id="major 2"
    ),
    pytest.param(record(HEARTBEAT, schema=1), "unknown_schema", "str", id="schema not a string"),
    pytest.param(
        record(HEARTBEAT, user_id=DROP), "invalid_field", "`user_id`", id="missing user_id"
    ),
    pytest.param(
        record(PROGRESS, destination_id=DROP),
        "invalid_field",
        "`destination_id`",
        id="missing destination_id",
    ),
    pytest.param(
        record(HEARTBEAT, backup_paused="yes"),
        "invalid_field",
        "$.backup_paused",
        id="wrong type",
    ),
    pytest.param(
        record(HEARTBEAT, service_state="crashed"),
        "invalid_field",
        "$.service_state",
        id="unknown service state",
    ),
    pytest.param(
        record(PROGRESS, percent_complete=100.5),
        "invalid_field",
        "$.percent_complete",
        id="percent above 100",
    ),
    pytest.param(
        record(PROGRESS, percent_complete=-0.5),
        "invalid_field",
        "$.percent_complete",
        id="percent below 0",
    ),
    pytest.param(
        record(PROGRESS, selected_files=-1),
        "invalid_field",
        "$.selected_files",
        id="negative file count",
    ),
    pytest.param(
        record(PROGRESS, bytes_sent=-1), "invalid_field", "$.bytes_sent", id="negative bytes"
    ),
    pytest.param(
        record(PROGRESS, file_errors={"locked": -1}),
        "invalid_field",
        "$.file_errors.locked",
        id="negative error count",
    ),
    pytest.param(
        record(PROGRESS, selected_bytes=2**70),
        "invalid_field",
        "$.selected_bytes",
        id="bytes past what a JSON reader keeps exactly",
    ),
    pytest.param(
        record(PROGRESS, file_errors={"vanished": 2**53}),
        "invalid_field",
        "$.file_errors.vanished",
        id="error count past 2**53 - 1",
    ),
    pytest.param(
        record(HEARTBEAT, network_limit_kbps=2**63),
        "invalid_field",
        "$.network_limit_kbps",
        id="network limit past 2**53 - 1",
    ),
    pytest.param(record(HEARTBEAT, device_id=""), "invalid_field", "$.device_id", id="empty id"),
    pytest.param(
        record(HEARTBEAT, device_id="d" * (MAX_ID_LENGTH + 1)),
        "invalid_field",
        "$.device_id",
        id="id of 257 chars",
    ),
    pytest.param(
        record(HEARTBEAT, reachable_destinations=[""]),
        "invalid_field",
        "$.reachable_destinations[0]",
        id="empty destination id",
    ),
    pytest.param(
        record(HEARTBEAT, event_time="yesterday"),
        "invalid_field",
        "$.event_time",
        id="unparseable timestamp",
    ),
    pytest.param(
        record(HEARTBEAT, event_time="2026-11-01T08:00:00"),
        "invalid_field",
        "$.event_time",
        id="naive timestamp",
    ),
    pytest.param(
        record(HEARTBEAT, event_time="1970-01-01T00:00:00Z"),
        "invalid_field",
        "`event_time`",
        id="year 1970",
    ),
    pytest.param(
        record(HEARTBEAT, event_time="2150-01-01T00:00:00Z"),
        "invalid_field",
        "`event_time`",
        id="year 2150",
    ),
    pytest.param(record(HEARTBEAT, event_time=0), "invalid_field", "$.event_time", id="epoch ms 0"),
    pytest.param(
        record(HEARTBEAT, event_time=1_793_520_000),
        "invalid_field",
        "$.event_time",
        id="epoch seconds sent as ms",
    ),
    pytest.param(
        record(HEARTBEAT, event_time=5_680_281_600_000),
        "invalid_field",
        "$.event_time",
        id="epoch ms in 2150",
    ),
    pytest.param(
        record(HEARTBEAT, event_time=1_793_520_000_000.5),
        "invalid_field",
        "$.event_time",
        id="fractional epoch ms",
    ),
    pytest.param(
        record(COMMAND, action="snooze"),
        "invalid_field",
        "`snooze_until`",
        id="snooze without snooze_until",
    ),
    pytest.param(
        record(COMMAND, action="snooze", snooze_until="1970-01-01T00:00:00Z"),
        "invalid_field",
        "`snooze_until`",
        id="snooze until 1970",
    ),
    pytest.param(
        record(COMMAND, action="set_user"),
        "invalid_field",
        "`user_id`",
        id="set_user without user_id",
    ),
    pytest.param(
        record(COMMAND, action="replaced"),
        "invalid_field",
        "`replaced_by`",
        id="replaced without replaced_by",
    ),
    pytest.param(
        record(COMMAND, action="reboot"), "invalid_field", "$.action", id="unknown action"
    ),
    pytest.param(
        record(PROGRESS, selected_bytes=100, todo_bytes=101),
        "invalid_field",
        "`todo_bytes`",
        id="todo_bytes over selected_bytes",
    ),
    pytest.param(
        record(PROGRESS, selected_files=100, todo_files=101),
        "invalid_field",
        "`todo_files`",
        id="todo_files over selected_files",
    ),
    pytest.param(
        record(HEARTBEAT, hostname="h" * MAX_RECORD_BYTES),
        "oversized",
        str(MAX_RECORD_BYTES),
        id="oversized",
    ),
]


@pytest.mark.parametrize(("data", "reason", "names"), REJECTED)
def test_a_bad_record_is_rejected_with_its_reason_and_the_field_named(
    data: bytes, reason: str, names: str
) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode(data)

    assert caught.value.reason == reason
    assert names in caught.value.message
    assert str(caught.value) == caught.value.message


def test_an_unknown_schema_is_answered_with_the_schemas_that_are_accepted() -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode(record(HEARTBEAT, schema="heartbeat/2"))

    for accepted in ("heartbeat/1", "backup_progress/1", "device_command/1"):
        assert accepted in caught.value.message


def test_a_record_of_another_type_is_an_unknown_schema_for_decode_as() -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_as(record(HEARTBEAT), OrgPolicy)

    assert caught.value.reason == "unknown_schema"
    assert "org_policy/1" in caught.value.message


def test_decode_as_rejects_an_oversized_record_before_reading_it() -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_as(b" " * (MAX_RECORD_BYTES + 1), OrgPolicy)

    assert caught.value.reason == "oversized"


def _padded_to(size: int) -> bytes:
    """A valid heartbeat of exactly `size` bytes (JSON allows whitespace between tokens)."""
    compact = record(HEARTBEAT)
    return compact[:-1] + b" " * (size - len(compact)) + b"}"


@pytest.mark.parametrize(
    ("size", "accepted"),
    [(MAX_RECORD_BYTES, True), (MAX_RECORD_BYTES + 1, False)],
    ids=["at the limit", "one byte over"],
)
def test_the_size_limit_is_inclusive(size: int, accepted: bool) -> None:
    data = _padded_to(size)
    assert len(data) == size

    if accepted:
        assert isinstance(decode(data), Heartbeat)
    else:
        with pytest.raises(InvalidRecord, match="limit") as caught:
            decode(data)
        assert caught.value.reason == "oversized"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(record(HEARTBEAT, device_id="d"), id="id of 1 char"),
        pytest.param(record(HEARTBEAT, device_id="d" * MAX_ID_LENGTH), id="id of 256 chars"),
        pytest.param(record(PROGRESS, percent_complete=0), id="percent 0"),
        pytest.param(record(PROGRESS, percent_complete=100), id="percent 100"),
        pytest.param(record(PROGRESS, selected_bytes=100, todo_bytes=100), id="todo = selected"),
        pytest.param(
            # A report before the scan has counted the selection cannot be held to it.
            record(PROGRESS, selected_bytes=0, todo_bytes=100),
            id="todo before the selection is counted",
        ),
        pytest.param(record(HEARTBEAT, event_time="2000-01-01T00:00:00Z"), id="first instant"),
        pytest.param(record(HEARTBEAT, event_time=946_684_800_000), id="first epoch ms"),
        pytest.param(record(HEARTBEAT, event_time="2099-12-31T23:59:59.999Z"), id="last instant"),
    ],
)
def test_values_at_the_limits_are_accepted(data: bytes) -> None:
    assert decode(data) is not None


@pytest.mark.parametrize(
    ("data", "extra"),
    [
        pytest.param(record(HEARTBEAT, battery_percent=40), "battery_percent", id="heartbeat"),
        pytest.param(
            record(PROGRESS, file_errors={"locked": 1, "too_long_path": 3}),
            "too_long_path",
            id="nested in progress",
        ),
        pytest.param(
            record(COMMAND, ticket={"id": "INC-1", "url": "https://example.test"}),
            "ticket",
            id="command",
        ),
    ],
)
def test_unknown_extra_fields_are_tolerated_for_forward_compatibility(
    data: bytes, extra: str
) -> None:
    decoded = decode(data)

    assert not hasattr(decoded, extra)


@pytest.mark.parametrize(
    ("data", "expected_type"),
    [
        pytest.param(record(HEARTBEAT), Heartbeat, id="heartbeat/1"),
        pytest.param(record(PROGRESS), BackupProgress, id="backup_progress/1"),
        pytest.param(record(COMMAND), DeviceCommand, id="device_command/1"),
        pytest.param(
            record(COMMAND, action="snooze", snooze_until="2027-01-15T00:00:00Z"),
            DeviceCommand,
            id="snooze with snooze_until",
        ),
        pytest.param(
            record(COMMAND, action="set_user", user_id="user-2"), DeviceCommand, id="set_user"
        ),
        pytest.param(
            record(COMMAND, action="replaced", replaced_by="dev-2"), DeviceCommand, id="replaced"
        ),
    ],
)
def test_a_valid_record_of_each_input_type_decodes_to_its_model(
    data: bytes, expected_type: type
) -> None:
    decoded = decode(data)

    assert type(decoded) is expected_type
    assert decoded.device_id == "dev-1"


def test_a_valid_progress_record_keeps_its_figures_and_defaults() -> None:
    decoded = decode(record(PROGRESS, file_errors={"vanished": 12}))

    assert isinstance(decoded, BackupProgress)
    assert (decoded.percent_complete, decoded.todo_bytes) == (50.0, 5_000_000)
    assert (decoded.file_errors.vanished, decoded.file_errors.locked) == (12, 0)
    assert decoded.backup_interval_s == 900
