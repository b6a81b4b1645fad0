"""Field types shared by every record of the wire contract.

The constraints live in the types so that msgspec checks them while decoding, in C,
and names the offending field in its error (`... - at $.device_id`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "AlertKind",
    "Count",
    "Id",
    "Level",
    "Percent",
    "SessionState",
    "ServiceState",
    "Timestamp",
    "as_utc",
    "loggable",
]

MAX_ID_LENGTH = 256

# Timestamps outside this range are a broken device clock or a unit mix-up (seconds sent
# as milliseconds), never a real backup event; rejecting them keeps one bad agent from
# poisoning a device's "last seen".
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_EARLIEST_MS = int(EARLIEST.timestamp() * 1000)
_LATEST_MS = int(LATEST.timestamp() * 1000)

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
# The largest integer every JSON reader keeps exactly (one holding numbers as doubles,
# as a browser does): 9 PB, 9 quadrillion files. A count beyond it is a broken agent,
# and would overflow the 64-bit integers a device's state is stored with once summed.
MAX_COUNT = 2**53 - 1
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]

# RFC 3339 with an offset, or epoch milliseconds; records normalize both to aware UTC
# in `__post_init__` (see `as_utc`), so code reading a decoded record only ever sees a
# datetime: that is the type the checker is shown.
if TYPE_CHECKING:
    Timestamp = datetime
else:
    Timestamp = (
        Annotated[datetime, msgspec.Meta(tz=True)]
        | Annotated[int, msgspec.Meta(ge=_EARLIEST_MS, lt=_LATEST_MS)]
    )

# From the least to the most severe: the one order of levels (`streams.kinds.LEVELS`).
Level = Literal["ok", "warning", "critical"]
AlertKind = Literal["connection", "backup", "completion"]
ServiceState = Literal["running", "stopping", "uninstalling"]
SessionState = Literal["scanning", "sending", "paused", "idle", "completed"]


def as_utc(value: datetime | int, field: str) -> datetime:
    """Normalize a decoded timestamp to aware UTC, rejecting absurd ones."""
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, UTC)
    if value.tzinfo is UTC:
        if EARLIEST <= value < LATEST:
            return value
    elif EARLIEST <= value < LATEST:
        return value.astimezone(UTC)
    raise ValueError(f"`{field}` {value.isoformat()} is outside {EARLIEST.year}-{LATEST.year - 1}")


# Characters a log line must not carry raw: controls (C0, DEL, C1: a CR or LF would let
# a producer forge log lines), the line and paragraph separators, and the bidirectional
# formatting characters that make a line read other than it is written. The backslash
# too, so that an escape in the output always means an escape.
_UNSAFE = [*range(0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029]
_UNSAFE += [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _UNSAFE}
_ESCAPES[ord("\\")] = "\\\\"


def loggable(text: str) -> str:
    """`text` (an id, a message quoting one) as a log line may carry it: one line, read
    as written, with such characters written as Python escapes (`\\n` as `\\x0a`)."""
    return text.translate(_ESCAPES)
