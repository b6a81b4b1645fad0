"""Tick records: how time flows through the stream (docs/architecture.md §3).

A tick is an ordinary record in an input partition, marked by the `backupwatch-tick`
header so that other readers can skip it, carrying the stream time it stands for.
Ticks travel behind the telemetry written before them, so a worker's clock for a
partition never runs ahead of what it has read there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

__all__ = ["TICK_HEADER", "encode_tick", "is_tick"]

TICK_HEADER = "backupwatch-tick"


def encode_tick(stream_time: datetime) -> tuple[bytes, list[tuple[str, bytes]]]:
    """(value, headers) of a tick standing for `stream_time`."""
    millis = int(stream_time.timestamp() * 1000)
    return str(millis).encode(), [(TICK_HEADER, b"1")]


def is_tick(headers: Iterable[tuple[str, bytes]] | None) -> bool:
    if not headers:
        return False
    return any(key == TICK_HEADER for key, _ in headers)
