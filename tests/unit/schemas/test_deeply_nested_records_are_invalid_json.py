"""JSON nested deeper than any record of the contract is `invalid_json`, whatever the
type decoded, wherever the nesting sits, and however deep the caller's stack already is:
it never reaches the decoder's recursion limit (a RecursionError stopped the worker)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.codec import MAX_NESTING, decode, decode_as, encode, nested_too_deep
from schemas.errors import InvalidRecord
from schemas.models import Alert, DeviceStatus, OrgPolicy
from tests.unit.agents.notify.alerts import example_alert
from tests.unit.factories import T0, heartbeat

HEARTBEAT = json.loads(encode(heartbeat(T0)))
POLICY = {"schema": "org_policy/1", "org_id": "org-1", "updated_at": "2026-11-01T08:00:00Z"}
ALERT = json.loads(encode(example_alert()))


def arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def within(record: dict[str, Any], nested: str, field: str = "x") -> bytes:
    """`record` with `nested` (JSON text) as the value of `field`, first or last."""
    text = json.dumps({k: v for k, v in record.items() if k != field})
    return (text[:-1] + f', "{field}": {nested}}}').encode()


DECODERS = {
    "input": decode,
    "policy": lambda data: decode_as(data, OrgPolicy),
    "alert": lambda data: decode_as(data, Alert),
    "status": lambda data: decode_as(data, DeviceStatus),
}
RECORDS = {"input": HEARTBEAT, "policy": POLICY, "alert": ALERT, "status": ALERT}


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 1000, 10_000])
@pytest.mark.parametrize("shape", [arrays, objects])
@pytest.mark.parametrize("topic", DECODERS)
def test_a_record_nested_past_the_limit_is_invalid_json(topic: str, shape: Any, depth: int) -> None:
    for value in (
        within(RECORDS[topic], shape(depth)),  # an unknown field, which is otherwise skipped
        shape(depth).encode(),  # the record itself
        ('{"x": ' + shape(depth) + ', "schema": "heartbeat/1"}').encode(),  # before the tag
    ):
        with pytest.raises(InvalidRecord) as raised:
            DECODERS[topic](value)
        assert raised.value.reason == "invalid_json"


def test_cause_evidence_nested_past_the_limit_is_invalid_json() -> None:
    # `evidence` takes any JSON: the one field where the decoder itself would recurse.
    alert = dict(ALERT)
    alert["diagnosis"] = [{**ALERT["diagnosis"][0], "evidence": {"a": json.loads(arrays(40))}}]
    with pytest.raises(InvalidRecord) as raised:
        decode_as(json.dumps(alert).encode(), Alert)
    assert raised.value.reason == "invalid_json"


def test_nesting_up_to_the_limit_decodes_as_before() -> None:
    # 1 (the record) + 1 (`x`) + the rest: exactly the limit.
    assert decode(within(HEARTBEAT, arrays(MAX_NESTING - 1))) == decode(encode(heartbeat(T0)))
    assert not nested_too_deep(arrays(MAX_NESTING).encode())
    assert nested_too_deep(arrays(MAX_NESTING + 1).encode())


def test_brackets_inside_strings_are_not_nesting() -> None:
    record = {**HEARTBEAT, "hostname": "[" * 200 + '{"\\"' + "]" * 3}
    assert decode(json.dumps(record).encode()).hostname == record["hostname"]


@pytest.mark.parametrize(
    "value",
    [b"[" * 60_000, b"{" * 60_000, b'{"a":' * 10_000, b"[" * 500 + b"}" * 500, b"]" * 9000],
    ids=["open arrays", "open objects", "open keys", "mismatched", "closing only"],
)
def test_brackets_that_never_pair_up_are_invalid_json(value: bytes) -> None:
    for decoder in DECODERS.values():
        with pytest.raises(InvalidRecord) as raised:
            decoder(value)
        assert raised.value.reason == "invalid_json"


def test_the_outcome_does_not_depend_on_the_callers_stack() -> None:
    def deep(frames: int) -> str:
        if frames:
            return deep(frames - 1)
        try:
            decode(within(HEARTBEAT, arrays(MAX_NESTING - 1)))
            return "decoded"
        except InvalidRecord as err:
            return err.reason

    assert {deep(0), deep(900)} == {"decoded"}
