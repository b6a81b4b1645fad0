"""Bytes to validated records in one call, and records back to bytes."""

from __future__ import annotations

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
    "MAX_RECORD_BYTES",
    "decode",
    "decode_as",
    "encode",
    "known_schemas",
]

# A heartbeat is ~400 bytes; anything past this is a bug or an attack, never telemetry.
MAX_RECORD_BYTES = 64 * 1024

R = TypeVar("R")

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


def decode(data: bytes) -> InputRecord:
    """Decode one input record (heartbeat, backup progress or device command)."""
    if len(data) > MAX_RECORD_BYTES:
        raise InvalidRecord(
            "oversized", f"record is {len(data)} bytes; the limit is {MAX_RECORD_BYTES}"
        )
    try:
        return _input_decoder.decode(data)
    except msgspec.MsgspecError as err:
        raise _explain(err, InputRecord) from None


def decode_as(data: bytes, type_: type[R]) -> R:
    """Decode a record that must be of `type_` (e.g. `OrgPolicy`, `Alert`)."""
    if len(data) > MAX_RECORD_BYTES:
        raise InvalidRecord(
            "oversized", f"record is {len(data)} bytes; the limit is {MAX_RECORD_BYTES}"
        )
    decoder = _decoders.get(type_)
    if decoder is None:
        decoder = _decoders[type_] = msgspec.json.Decoder(type_)
    try:
        return decoder.decode(data)  # type: ignore[no-any-return]
    except msgspec.MsgspecError as err:
        raise _explain(err, type_) from None


def encode(record: msgspec.Struct) -> bytes:
    """Encode any record of the contract to JSON bytes (with its `schema` tag)."""
    return _encoder.encode(record)
