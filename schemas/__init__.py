"""The wire contract: every record backupwatch reads or writes, and how to decode it."""

from schemas.codec import MAX_RECORD_BYTES, decode, decode_as, encode, known_schemas
from schemas.errors import InvalidRecord
from schemas.models import (
    Alert,
    BackupProgress,
    Cause,
    DestinationStatus,
    DeviceCommand,
    DeviceStatus,
    FileErrors,
    Heartbeat,
    InputRecord,
    OrgPolicy,
    Recipient,
    UserFacts,
    UserPeriod,
)

__all__ = [
    "MAX_RECORD_BYTES",
    "Alert",
    "BackupProgress",
    "Cause",
    "DestinationStatus",
    "DeviceCommand",
    "DeviceStatus",
    "FileErrors",
    "Heartbeat",
    "InputRecord",
    "InvalidRecord",
    "OrgPolicy",
    "Recipient",
    "UserFacts",
    "UserPeriod",
    "decode",
    "decode_as",
    "encode",
    "known_schemas",
]
