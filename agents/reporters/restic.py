"""restic's `--json` output: the messages of `restic backup --json` and the list of
`restic snapshots --json`.

Read leniently: fields a newer restic adds are ignored, fields an older one lacks take
their absence (restic 0.14 has no `backup_end` in its summary; 0.17 does), and the
error messages of both shapes (`{"Err": 13}` in 0.14, `{"message": "…"}` later) count.
Lines that are not JSON (restic's warnings on standard error, when both streams are
piped in) are skipped; output with no summary at all is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from agents.reporters.errors import ReportError
from agents.reporters.file_errors import Cause, cause_of_errno, cause_of_message, count
from agents.reporters.runs import BackupRun, Snapshot
from agents.reporters.times import parse_time

__all__ = ["UNREADABLE_EXIT", "parse_backup", "parse_snapshots"]

# restic's exit code for "the snapshot was made, but some source files could not be read".
UNREADABLE_EXIT = 3

_json = msgspec.json.Decoder()


def _int(message: dict[str, Any], name: str) -> int:
    value = message.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ReportError(f"restic's summary has {name}={value!r}, not a count")
    return int(value)


def _error_cause(message: dict[str, Any]) -> Cause:
    error = message.get("error")
    if isinstance(error, dict):
        number = error.get("Err")
        if isinstance(number, int) and not isinstance(number, bool):
            return cause_of_errno(number)
        text = error.get("message")
        if isinstance(text, str):
            return cause_of_message(text)
    elif isinstance(error, str):
        return cause_of_message(error)
    return "locked"


def parse_backup(lines: Iterable[bytes | str], exit_code: int | None = None) -> BackupRun:
    """The backup `restic backup --json` reported, from its output lines (standard
    output, and standard error too when given: its errors are JSON lines there)."""
    summary: dict[str, Any] | None = None
    causes: list[Cause] = []
    seen = False
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        seen = True
        try:
            message = _json.decode(line)
        except msgspec.DecodeError:
            continue
        if not isinstance(message, dict):
            continue
        kind = message.get("message_type")
        if kind == "summary":
            summary = message
        elif kind == "error":
            causes.append(_error_cause(message))
    if not seen:
        raise ReportError(
            "no input: pipe in the output of `restic backup --json` or `restic snapshots --json`"
        )
    if summary is None:
        raise ReportError(
            "no summary in the input: not the output of a finished `restic backup --json`"
        )
    if exit_code == UNREADABLE_EXIT and not causes:
        # restic said files were unreadable but its messages were not piped in.
        causes.append("locked")
    end = summary.get("backup_end")
    finished_at = parse_time(end, "restic's backup_end") if isinstance(end, str) else None
    duration = summary.get("total_duration", 0.0)
    return BackupRun(
        tool="restic",
        snapshot_id=str(summary.get("snapshot_id") or ""),
        finished_at=finished_at,
        files_new=_int(summary, "files_new"),
        files_changed=_int(summary, "files_changed"),
        files_processed=_int(summary, "total_files_processed"),
        bytes_processed=_int(summary, "total_bytes_processed"),
        data_added=_int(summary, "data_added"),
        duration_s=float(duration) if isinstance(duration, int | float) else 0.0,
        unreadable=count(causes),
    )


def parse_snapshots(text: bytes | str) -> list[Snapshot]:
    """The snapshots of `restic snapshots --json`, oldest first."""
    if not text.strip():
        raise ReportError("no input: pipe in the output of `restic snapshots --json`")
    try:
        listed = _json.decode(text)
    except msgspec.DecodeError as err:
        raise ReportError(f"not the JSON of `restic snapshots --json`: {err}") from None
    if not isinstance(listed, list):
        raise ReportError("not the JSON of `restic snapshots --json`: expected a list")
    snapshots = []
    for index, entry in enumerate(listed):
        if not isinstance(entry, dict) or not isinstance(entry.get("time"), str):
            raise ReportError(f"snapshot {index} of the list has no time")
        summary = entry.get("summary") if isinstance(entry.get("summary"), dict) else None
        snapshots.append(
            Snapshot(
                id=str(entry.get("id") or entry.get("short_id") or ""),
                hostname=str(entry.get("hostname") or ""),
                username=str(entry.get("username") or ""),
                time=parse_time(entry["time"], f"snapshot {index}'s time"),
                data_added=_optional_count(summary, "data_added"),
                files_processed=_optional_count(summary, "total_files_processed"),
                bytes_processed=_optional_count(summary, "total_bytes_processed"),
            )
        )
    return sorted(snapshots, key=lambda s: s.time)


def _optional_count(summary: dict[str, Any] | None, name: str) -> int | None:
    if summary is None:
        return None
    value = summary.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
