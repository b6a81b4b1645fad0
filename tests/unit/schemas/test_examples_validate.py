"""Every example in `schemas/examples/` is valid for the workers and for the JSON Schema.

The examples are what producers in other languages copy; they must pass both the
codec (what the workers accept) and the published JSON Schema (what producers check
against), and the two must agree on what is invalid.

`schemas/examples/device_status.json` is generated from the core; rewrite it with
`python -m tests.unit.schemas.test_examples_validate` after a change to the status.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from jsonschema import Draft202012Validator

from schemas import InvalidRecord, decode, decode_as, encode, known_schemas
from schemas.generate import DOCUMENTS, JSON_DIR
from streams import Policy, device_status
from tests.unit.factories import DAY, T0, healthy, heartbeat, progress, run

EXAMPLES_DIR = Path(__file__).parents[3] / "schemas" / "examples"
DEVICE_STATUS_EXAMPLE = EXAMPLES_DIR / "device_status.json"
MODELS = {msgspec.inspect.type_info(m).tag: m for m in DOCUMENTS.values()}  # type: ignore[attr-defined]


def device_status_example() -> bytes:
    """A device stuck at 99.6 % by a few locked files, with an outdated app."""
    events: list[Any] = []
    for day in range(1, 9):
        at = T0 + day * DAY
        events.append(heartbeat(at, device="dev-000123", app_version="11.1.0"))
        events.append(
            progress(
                at,
                device="dev-000123",
                percent=99.6,
                session_state="sending",
                bytes_sent=500_000_000,
                todo_files=3,
                todo_bytes=40_000_000,
                errors={"locked": 3},
            )
        )
    now = T0 + 8 * DAY
    policy = Policy(minimum_app_version="11.2")
    state, _ = run(events, now=now, policy=policy, state=healthy(device="dev-000123"))
    status = device_status(state, now, policy)
    return orjson.dumps(orjson.loads(encode(status)), option=orjson.OPT_INDENT_2) + b"\n"


def schema_document(tag: str) -> dict[str, Any]:
    name, major = tag.split("/")
    return orjson.loads((JSON_DIR / f"{name}.v{major}.json").read_bytes())  # type: ignore[no-any-return]


def validator(tag: str) -> Draft202012Validator:
    return Draft202012Validator(
        schema_document(tag), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def decode_with_codec(data: bytes, tag: str) -> msgspec.Struct:
    """Input records through `decode` (as the workers read them), others by their type."""
    if tag in known_schemas():
        return decode(data)
    return decode_as(data, MODELS[tag])  # type: ignore[no-any-return]


def example_params() -> list[Any]:
    return [pytest.param(path, id=path.name) for path in sorted(EXAMPLES_DIR.glob("*.json"))]


def test_the_device_status_example_is_what_the_core_produces() -> None:
    assert DEVICE_STATUS_EXAMPLE.read_bytes() == device_status_example(), (
        "schemas/examples/device_status.json is stale: "
        "run `python -m tests.unit.schemas.test_examples_validate`"
    )


def test_every_schema_document_has_an_example() -> None:
    tags = {orjson.loads(path.read_bytes())["schema"] for path in EXAMPLES_DIR.glob("*.json")}

    assert tags == set(MODELS)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_schema_document_is_a_valid_draft_2020_12_schema(document: str) -> None:
    Draft202012Validator.check_schema(orjson.loads((JSON_DIR / document).read_bytes()))


@pytest.mark.parametrize("path", example_params())
def test_an_example_decodes_with_the_codec(path: Path) -> None:
    data = path.read_bytes()
    tag = orjson.loads(data)["schema"]

    record = decode_with_codec(data, tag)

    assert type(record) is MODELS[tag]
    assert path.stem == tag.split("/")[0]


@pytest.mark.parametrize("path", example_params())
def test_an_example_validates_against_its_json_schema(path: Path) -> None:
    example = orjson.loads(path.read_bytes())

    errors = [error.message for error in validator(example["schema"]).iter_errors(example)]

    assert errors == []


def _changed(example: str, path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(orjson.loads((EXAMPLES_DIR / example).read_bytes()))
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is _DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document  # type: ignore[no-any-return]


_DROP = object()

INVALID = [
    pytest.param("backup_progress.json", ("percent_complete",), 101, id="percent 101"),
    pytest.param("backup_progress.json", ("percent_complete",), -1, id="percent -1"),
    pytest.param("backup_progress.json", ("todo_files",), -1, id="negative count"),
    pytest.param("backup_progress.json", ("file_errors", "locked"), -3, id="negative error count"),
    pytest.param("backup_progress.json", ("event_time",), 0, id="epoch ms out of range"),
    pytest.param("heartbeat.json", ("device_id",), "", id="empty id"),
    pytest.param("heartbeat.json", ("device_id",), "d" * 257, id="id of 257 chars"),
    pytest.param("heartbeat.json", ("user_id",), _DROP, id="missing user_id"),
    pytest.param("heartbeat.json", ("backup_paused",), "no", id="wrong type"),
    pytest.param("heartbeat.json", ("cpu_limit_percent",), 0, id="cpu limit 0"),
    pytest.param("heartbeat.json", ("schema",), "heartbeat/2", id="unknown major version"),
    pytest.param("device_command.json", ("action",), "reboot", id="unknown action"),
    pytest.param("org_policy.json", ("connection_warning_days",), 0, id="zero days"),
]


@pytest.mark.parametrize(("example", "path", "value"), INVALID)
def test_an_invalid_document_is_rejected_by_both_the_codec_and_the_json_schema(
    example: str, path: tuple[str | int, ...], value: Any
) -> None:
    tag = orjson.loads((EXAMPLES_DIR / example).read_bytes())["schema"]
    document = _changed(example, path, value)

    with pytest.raises(InvalidRecord):
        decode_with_codec(orjson.dumps(document), tag)
    assert list(validator(tag).iter_errors(document)), "the JSON Schema accepted it"


if __name__ == "__main__":
    DEVICE_STATUS_EXAMPLE.write_bytes(device_status_example())
    print(f"wrote {DEVICE_STATUS_EXAMPLE}")
