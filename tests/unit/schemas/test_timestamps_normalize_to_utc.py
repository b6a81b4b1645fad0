"""Every accepted way of writing an instant decodes to the same aware UTC datetime."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import InvalidRecord, OrgPolicy, decode, decode_as

INSTANT = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
INSTANT_MS = 1_793_520_000_000

SAME_INSTANT = [
    pytest.param("2026-11-01T10:00:00+02:00", id="offset +02:00"),
    pytest.param("2026-11-01T03:00:00-05:00", id="offset -05:00"),
    pytest.param("2026-11-01T08:00:00Z", id="Z"),
    pytest.param("2026-11-01T08:00:00.000Z", id="Z with milliseconds"),
    pytest.param("2026-11-01T08:00:00+00:00", id="offset +00:00"),
    pytest.param(INSTANT_MS, id="epoch milliseconds"),
]


def heartbeat_at(event_time: Any) -> bytes:
    return json.dumps(
        {
            "schema": "heartbeat/1",
            "device_id": "dev-1",
            "user_id": "user-1",
            "org_id": "org-1",
            "event_time": event_time,
        }
    ).encode()


def test_the_epoch_milliseconds_of_the_test_are_the_instant_of_the_test() -> None:
    assert INSTANT_MS == int(INSTANT.timestamp()) * 1000


@pytest.mark.parametrize("written", SAME_INSTANT)
def test_a_heartbeat_time_decodes_to_aware_utc(written: Any) -> None:
    event_time = decode(heartbeat_at(written)).event_time

    assert event_time == INSTANT
    assert event_time.tzinfo is UTC


@pytest.mark.parametrize("written", SAME_INSTANT)
def test_a_progress_time_decodes_to_aware_utc(written: Any) -> None:
    data = json.dumps(
        {
            "schema": "backup_progress/1",
            "device_id": "dev-1",
            "user_id": "user-1",
            "org_id": "org-1",
            "destination_id": "cloud",
            "event_time": written,
            "session_state": "idle",
            "percent_complete": 100,
        }
    ).encode()

    event_time = decode(data).event_time

    assert event_time == INSTANT
    assert event_time.tzinfo is UTC


@pytest.mark.parametrize("written", SAME_INSTANT)
def test_both_times_of_a_command_decode_to_aware_utc(written: Any) -> None:
    data = json.dumps(
        {
            "schema": "device_command/1",
            "command_id": "cmd-1",
            "device_id": "dev-1",
            "action": "snooze",
            "issued_at": written,
            "snooze_until": written,
        }
    ).encode()

    command = decode(data)

    assert command.issued_at == command.snooze_until == INSTANT  # type: ignore[union-attr]
    assert command.issued_at.tzinfo is UTC
    assert command.snooze_until.tzinfo is UTC  # type: ignore[union-attr]


@pytest.mark.parametrize("written", SAME_INSTANT)
def test_a_policy_time_decodes_to_aware_utc(written: Any) -> None:
    data = json.dumps({"schema": "org_policy/1", "org_id": "org-1", "updated_at": written})

    updated_at = decode_as(data.encode(), OrgPolicy).updated_at

    assert updated_at == INSTANT
    assert updated_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        pytest.param(INSTANT_MS + 123, "2026-11-01T08:00:00.123Z", id="123 ms"),
        pytest.param(INSTANT_MS + 999, "2026-11-01T08:00:00.999Z", id="999 ms"),
        pytest.param(INSTANT_MS - 1, "2026-11-01T07:59:59.999Z", id="one ms before"),
    ],
)
def test_epoch_milliseconds_keep_their_milliseconds(written: int, expected: str) -> None:
    from_ms = decode(heartbeat_at(written)).event_time
    from_text = decode(heartbeat_at(expected)).event_time

    assert from_ms == from_text
    assert from_ms.microsecond == from_text.microsecond


@pytest.mark.parametrize(
    "written",
    [
        pytest.param("2100-01-01T00:00:00Z", id="RFC 3339"),
        pytest.param(4_102_444_800_000, id="epoch ms"),
    ],
)
def test_the_first_instant_of_2100_is_rejected_in_both_encodings(written: Any) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode(heartbeat_at(written))

    assert caught.value.reason == "invalid_field"


@pytest.mark.parametrize(
    "written",
    [
        # Local times whose UTC instant is outside the accepted range: the range is
        # about the instant, not about how the producer's clock writes it.
        pytest.param("2000-01-01T00:30:00+01:00", id="1999 in UTC"),
        pytest.param("2099-12-31T23:30:00-01:00", id="2100 in UTC"),
    ],
)
def test_the_range_is_judged_on_the_utc_instant(written: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode(heartbeat_at(written))

    assert caught.value.reason == "invalid_field"
    assert "`event_time`" in caught.value.message
