"""The times backup tools write, to aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.reporters.errors import ReportError

__all__ = ["parse_time"]


def parse_time(text: str, what: str) -> datetime:
    """An ISO 8601 time to UTC. restic writes nanoseconds and an offset; Borg 1.x writes
    local time without an offset, read here as the local time of this machine (where
    the tool ran, for `report`; the repository's clients share a zone, for `watch`)."""
    cleaned = text.strip()
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    # Python reads at most microseconds: cut restic's nanoseconds to six digits.
    head, dot, tail = cleaned.partition(".")
    if dot:
        digits = len(tail) - len(tail.lstrip("0123456789"))
        tail = tail[:digits][:6] + tail[digits:]
        cleaned = f"{head}.{tail}"
    try:
        return datetime.fromisoformat(cleaned).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ReportError(f"{what} {text!r} is not an ISO 8601 time") from None
