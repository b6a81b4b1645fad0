from __future__ import annotations

from pathlib import Path

import pytest

from agents.ingest.body import JSON, NDJSON, parse_body
from agents.ingest.errors import Refused
from agents.ingest.tokens import IngestToken
from schemas.models import BackupProgress, Heartbeat

EXAMPLES = Path(__file__).resolve().parents[3] / "schemas" / "examples"
HEARTBEAT = (EXAMPLES / "heartbeat.json").read_bytes()
PROGRESS = (EXAMPLES / "backup_progress.json").read_bytes()
ANY_ORG = IngestToken("token-1", b"", None)
ACME_ONLY = IngestToken("token-2", b"", "org-acme")


def one_line(record: bytes) -> bytes:
    return b" ".join(record.split())


def test_one_record_as_json_and_a_batch_as_ndjson_are_read() -> None:
    (single,) = parse_body(HEARTBEAT, JSON, ANY_ORG, 10)
    batch = parse_body(
        one_line(HEARTBEAT) + b"\n\n" + one_line(PROGRESS) + b"\n", NDJSON, ANY_ORG, 10
    )

    assert isinstance(single, Heartbeat)
    assert [type(r) for r in batch] == [Heartbeat, BackupProgress]


def test_a_bad_line_refuses_the_batch_naming_the_line_and_the_field() -> None:
    bad = one_line(PROGRESS).replace(b'"percent_complete": 87.5', b'"percent_complete": 187.5')
    body = b"\n".join([one_line(HEARTBEAT), one_line(PROGRESS), bad])

    with pytest.raises(Refused) as refused:
        parse_body(body, NDJSON, ANY_ORG, 10)

    assert refused.value.status == 400
    assert (refused.value.line, refused.value.field) == (3, "percent_complete")
    assert "line 3" in refused.value.message


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (b"{not json", None),
        (b'{"device_id": "d"}', "schema"),
        (b'{"schema": "device_command/1", "command_id": "c"}', "schema"),
        (b'{"schema": "alert/1"}', "schema"),
        (b"[1]", None),
    ],
)
def test_what_is_not_a_telemetry_record_is_refused(line: bytes, field: str | None) -> None:
    with pytest.raises(Refused) as refused:
        parse_body(line, NDJSON, ANY_ORG, 10)

    assert refused.value.status == 400 and refused.value.field == field


def test_a_device_id_of_the_partition_clocks_is_refused() -> None:
    record = HEARTBEAT.replace(b'"dev-000123"', b'"~clock~3"')

    with pytest.raises(Refused) as refused:
        parse_body(record, JSON, ANY_ORG, 10)

    assert (refused.value.status, refused.value.field) == (400, "device_id")


def test_a_token_bound_to_an_org_refuses_another_org_s_record_naming_it() -> None:
    other = one_line(HEARTBEAT).replace(b'"org-acme"', b'"org-other"')

    assert parse_body(HEARTBEAT, JSON, ACME_ONLY, 10)
    with pytest.raises(Refused) as refused:
        parse_body(one_line(HEARTBEAT) + b"\n" + other, NDJSON, ACME_ONLY, 10)

    assert (refused.value.status, refused.value.line) == (403, 2)
    assert refused.value.org_id == "org-other" and "org-other" in refused.value.message


def test_more_records_than_a_batch_may_hold_is_too_large() -> None:
    body = b"\n".join([one_line(HEARTBEAT)] * 4)

    assert len(parse_body(body, NDJSON, ANY_ORG, 4)) == 4
    with pytest.raises(Refused) as refused:
        parse_body(body, NDJSON, ANY_ORG, 3)

    assert (refused.value.status, refused.value.line) == (413, 4)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"", JSON, 400),
        (b"\n \n", NDJSON, 400),
        (HEARTBEAT, "text/plain", 415),
        (HEARTBEAT, "", 415),
    ],
)
def test_an_empty_body_or_another_media_type_is_refused(
    body: bytes, content_type: str, status: int
) -> None:
    with pytest.raises(Refused) as refused:
        parse_body(body, content_type, ANY_ORG, 10)

    assert refused.value.status == status


def test_a_media_type_with_parameters_is_read() -> None:
    assert parse_body(HEARTBEAT, "application/json; charset=utf-8", ANY_ORG, 10)
