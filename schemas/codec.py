"""Bytes to validated records in one call, and records back to bytes."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from schemas.errors import InvalidRecord
from schemas.models import (
    Alert,
    BackupProgress,
    DeviceCommand,
    DeviceStatus,
    Heartbeat,
    InputRecord,
    OrgPolicy,
)

__all__ = [
    "MAX_NESTING",
    "MAX_RECORD_BYTES",
    "decode",
    "decode_as",
    "encode",
    "known_schemas",
]

# A heartbeat is ~400 bytes; anything past this is a bug or an attack, never telemetry.
MAX_RECORD_BYTES = 64 * 1024

# The records of the contract nest a few levels (the deepest, a device status with its
# open alerts' cause evidence, about 7); a record nested deeper than this bound is
# refused before decoding. Without a bound, a 2 KB record of a thousand
# `[` exhausts the decoder's recursion (RecursionError, not a decoding error), and how
# deep it can go depends on how deep the caller's stack already is, so the same record
# could decode in one process and not in another.
MAX_NESTING = 32

R = TypeVar("R")

# JSON strings (their brackets are not nesting); every byte that is not a bracket; the
# brackets of objects written as those of arrays (depth is all that is measured here).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_AS_ARRAYS = bytes.maketrans(b"{}", b"[]")

_input_decoder: msgspec.json.Decoder[InputRecord] = msgspec.json.Decoder(InputRecord)
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
_encoder = msgspec.json.Encoder()

_ALL = (Heartbeat, BackupProgress, DeviceCommand, OrgPolicy, Alert, DeviceStatus)


def known_schemas(types: Any = InputRecord) -> list[str]:
    """The `schema` tags a decoder for `types` accepts."""
    members = getattr(types, "__args__", (types,))
    return [msgspec.inspect.type_info(t).tag for t in members]  # type: ignore[attr-defined]


def _explain(err: msgspec.MsgspecError, types: Any) -> InvalidRecord:
    text = str(err)
    if isinstance(err, msgspec.DecodeError) and not isinstance(err, msgspec.ValidationError):
        return InvalidRecord("invalid_json", f"not valid JSON: {text}")
    if "missing required field `schema`" in text:
        return InvalidRecord("missing_schema", "record has no `schema` field")
    if text.endswith("- at `$.schema`"):
        accepted = ", ".join(known_schemas(types))
        return InvalidRecord(
            "unknown_schema", f"unknown schema: {text.split(' - at')[0]}; accepted: {accepted}"
        )
    if text.startswith("Expected `object`") and " - at " not in text:
        return InvalidRecord("invalid_json", f"a record must be a JSON object: {text}")
    return InvalidRecord("invalid_field", text)


def nested_too_deep(data: bytes, limit: int = MAX_NESTING) -> bool:
    """Whether the JSON in `data` nests arrays and objects deeper than `limit`.

    Cheap for records of the contract: fewer brackets than `limit` cannot nest deeper,
    which is two scans in C. Otherwise the strings are cut out and the innermost
    bracket pairs removed, one level per pass (each pass in C too), so a 64 KiB record
    of brackets costs at most `limit` passes, never a Python loop per byte. Brackets
    that do not pair up are left to the decoder, which calls them invalid JSON."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", data).translate(_AS_ARRAYS, _NOT_BRACKETS)
    opened_past_limit = b"[" * (limit + 1)
    for _ in range(limit):
        if opened_past_limit in brackets:
            return True
        inner = brackets.replace(b"[]", b"")
        if len(inner) == len(brackets):
            return False  # unpaired: not JSON, whatever its depth
        brackets = inner
    return bool(brackets)


def _refuse(data: bytes) -> None:
    """Raise for a record too large or nested too deep; one past the cheap tests in
    `decode` that is neither returns and is decoded."""
    if len(data) > MAX_RECORD_BYTES:
        raise InvalidRecord(
            "oversized", f"record is {len(data)} bytes; the limit is {MAX_RECORD_BYTES}"
        )
    if nested_too_deep(data):
        raise InvalidRecord(
            "invalid_json", f"arrays and objects nested deeper than {MAX_NESTING} levels"
        )


def _too_deep() -> InvalidRecord:
    # Unpaired brackets go past the depth check to the decoder, which may recurse on
    # them until it stops.
    return InvalidRecord("invalid_json", f"not valid JSON: nested deeper than {MAX_NESTING}")


def decode(data: bytes) -> InputRecord:
    """Decode one input record (heartbeat, backup progress or device command)."""
    # The tests of `_refuse` that every record takes, written out: this runs for every
    # input record, and two calls would cost as much as the two scans.
    if len(data) > MAX_RECORD_BYTES or data.count(b"[") + data.count(b"{") > MAX_NESTING:
        _refuse(data)
    try:
        return _input_decoder.decode(data)
    except msgspec.MsgspecError as err:
        raise _explain(err, InputRecord) from None
    except RecursionError:
        raise _too_deep() from None


def decode_as(data: bytes, type_: type[R]) -> R:
    """Decode a record that must be of `type_` (e.g. `OrgPolicy`, `Alert`)."""
    _refuse(data)
    decoder = _decoders.get(type_)
    if decoder is None:
        decoder = _decoders[type_] = msgspec.json.Decoder(type_)
    try:
        return decoder.decode(data)  # type: ignore[no-any-return]
    except msgspec.MsgspecError as err:
        raise _explain(err, type_) from None
    except RecursionError:
        raise _too_deep() from None


def encode(record: msgspec.Struct) -> bytes:
    """Encode any record of the contract to JSON bytes (with its `schema` tag)."""
    return _encoder.encode(record)
