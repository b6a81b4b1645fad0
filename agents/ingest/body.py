"""The body of `POST /api/ingest` to records: pure, and all or nothing.

One record as `application/json`, or a batch as `application/x-ndjson` (one record a
line, blank lines skipped). Every record is decoded by the codec the worker reads the
topics with, so a record accepted here is one the worker accepts; the first bad line
refuses the whole body, naming the line and the field.
"""

from __future__ import annotations

import re

from agents.ingest.errors import Refused
from agents.ingest.tokens import IngestToken
from schemas.codec import decode_as
from schemas.errors import InvalidRecord
from schemas.models import TelemetryRecord
from streams.pipeline import CLOCK_KEY_PREFIX

__all__ = ["JSON", "NDJSON", "parse_body"]

JSON = "application/json"
NDJSON = "application/x-ndjson"
_AT_FIELD = re.compile(r"- at `\$\.([A-Za-z_][A-Za-z_0-9]*)")
_NAMED_FIELD = re.compile(r"`([a-z_][a-z_0-9]*)`")


def _field(err: InvalidRecord) -> str | None:
    if err.reason in ("missing_schema", "unknown_schema"):
        return "schema"
    if err.reason != "invalid_field":
        return None
    found = _AT_FIELD.search(err.message) or _NAMED_FIELD.search(err.message)
    return found.group(1) if found else None


def _record(line: bytes, number: int, token: IngestToken) -> TelemetryRecord:
    try:
        record: TelemetryRecord = decode_as(line, TelemetryRecord)  # type: ignore[arg-type]
    except InvalidRecord as err:
        raise Refused(
            400, "invalid", f"line {number}: {err.message}", line=number, field=_field(err)
        ) from None
    if record.device_id.startswith(CLOCK_KEY_PREFIX):
        raise Refused(
            400,
            "invalid",
            f"line {number}: a device id may not start with {CLOCK_KEY_PREFIX}",
            line=number,
            field="device_id",
        )
    if token.org_id is not None and record.org_id != token.org_id:
        raise Refused(
            403,
            "forbidden",
            f"line {number}: this token may send records of org {token.org_id!r} only, "
            f"not of org {record.org_id!r}",
            line=number,
            field="org_id",
            org_id=record.org_id,
        )
    return record


def parse_body(
    body: bytes, content_type: str, token: IngestToken, max_records: int
) -> list[TelemetryRecord]:
    """The records of a body, or `Refused` (400, 403 or 415) naming what is wrong."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == JSON:
        if not body.strip():
            raise Refused(400, "invalid", "the body is empty: send one record", line=1)
        return [_record(body, 1, token)]
    if kind != NDJSON:
        raise Refused(
            415,
            "invalid",
            f"Content-Type must be {JSON} (one record) or {NDJSON} (a batch), "
            f"not {content_type or '(none)'!r}",
        )
    records: list[TelemetryRecord] = []
    for number, raw in enumerate(body.split(b"\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        if len(records) == max_records:
            raise Refused(
                413, "too_large", f"a batch holds at most {max_records} records", line=number
            )
        records.append(_record(line, number, token))
    if not records:
        raise Refused(400, "invalid", "the body holds no record", line=1)
    return records
