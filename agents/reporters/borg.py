"""BorgBackup's `--json` output: `borg create --json`, `borg info --json` and
`borg list --json` (with `--format` naming `{hostname}`), and its log.

Borg writes its JSON document on standard output and its log on standard error,
as JSON lines with `--log-json` or as text. A file it could not read is a warning in
that log (`path: open: [Errno 13] Permission denied: …`, `file changed while we backed
it up`) and exit code 1. Fields a newer Borg adds are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from agents.reporters.errors import ReportError
from agents.reporters.file_errors import Cause, cause_of_message, count
from agents.reporters.runs import BackupRun, Snapshot
from agents.reporters.times import parse_time

__all__ = ["WARNING_EXIT", "file_error_causes", "parse_archives", "parse_create"]

# Borg's exit code for "finished, with warnings" (such as files it could not read).
WARNING_EXIT = 1

_json = msgspec.json.Decoder()
_LOG_TYPES = ("log_message", "file_status", "progress_message", "progress_percent")


def _is_file_error(message: str) -> bool:
    return "[Errno" in message or "changed while we backed it up" in message


def file_error_causes(log_lines: Iterable[bytes | str]) -> list[Cause]:
    """The causes of the files Borg's log says it could not back up."""
    causes: list[Cause] = []
    for raw in log_lines:
        line = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        line = line.strip()
        if not line:
            continue
        message = line
        if line.startswith("{"):
            try:
                entry = _json.decode(line)
            except msgspec.DecodeError:
                entry = None
            if isinstance(entry, dict):
                if entry.get("type") != "log_message" or entry.get("levelname") != "WARNING":
                    continue
                message = str(entry.get("message", ""))
        if _is_file_error(message):
            causes.append(cause_of_message(message))
    return causes


def _split(lines: Iterable[bytes | str]) -> tuple[str, list[str]]:
    """(the JSON document, the log lines) of Borg's output, standard error mixed in or not."""
    document: list[str] = []
    log: list[str] = []
    for raw in lines:
        line = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        stripped = line.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            try:
                entry = _json.decode(stripped)
            except msgspec.DecodeError:
                entry = None
            if isinstance(entry, dict) and entry.get("type") in (
                *_LOG_TYPES,
                "question_prompt",
                "question_env_answer",
            ):
                log.append(stripped)
                continue
        if not document and not stripped.startswith("{"):
            # Text before the document: Borg's plain log on a shared stream.
            log.append(stripped)
            continue
        document.append(line)
    return "\n".join(document), log


def _document(text: str, what: str) -> dict[str, Any]:
    if not text.strip():
        raise ReportError(f"no input: pipe in the output of `{what}`")
    try:
        document = _json.decode(text)
    except msgspec.DecodeError as err:
        raise ReportError(f"not the JSON of `{what}`: {err}") from None
    if not isinstance(document, dict):
        raise ReportError(f"not the JSON of `{what}`: expected an object")
    return document


def _count(stats: dict[str, Any], name: str) -> int:
    value = stats.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReportError(f"Borg's archive stats have {name}={value!r}, not a count")
    return value


def _location(document: dict[str, Any]) -> str:
    repository = document.get("repository")
    return str(repository.get("location", "")) if isinstance(repository, dict) else ""


def parse_create(
    output: Iterable[bytes | str],
    log_lines: Iterable[bytes | str] = (),
    exit_code: int | None = None,
) -> BackupRun:
    """The backup `borg create --json` made. `output` is its standard output (its log
    may be mixed in); `log_lines` its standard error when that came apart."""
    text, mixed_log = _split(output)
    if not text.strip() and any(line for line in mixed_log):
        raise ReportError("not the JSON of `borg create --json`: no JSON document in the input")
    document = _document(text, "borg create --json")
    archive = document.get("archive")
    listed = document.get("archives")
    if not isinstance(archive, dict) and isinstance(listed, list) and listed:
        # `borg info --json REPO::ARCHIVE` (or `--last 1`): the newest archive it lists.
        archive = listed[-1]
    if not isinstance(archive, dict):
        raise ReportError(
            "no archive in the input: not the output of `borg create --json` or of "
            "`borg info --json REPO::ARCHIVE`"
        )
    found = archive.get("stats")
    stats: dict[str, Any] = found if isinstance(found, dict) else {}
    causes = file_error_causes([*mixed_log, *log_lines])
    if exit_code == WARNING_EXIT and not causes:
        causes.append("locked")
    end = archive.get("end")
    duration = archive.get("duration", 0.0)
    return BackupRun(
        tool="borg",
        snapshot_id=str(archive.get("id") or archive.get("name") or ""),
        finished_at=parse_time(end, "Borg's archive end") if isinstance(end, str) else None,
        files_new=0,
        files_changed=0,
        files_processed=_count(stats, "nfiles"),
        bytes_processed=_count(stats, "original_size"),
        data_added=_count(stats, "deduplicated_size"),
        duration_s=float(duration) if isinstance(duration, int | float) else 0.0,
        unreadable=count(causes),
        repository=_location(document),
        hostname=str(archive.get("hostname") or ""),
        username=str(archive.get("username") or ""),
    )


def parse_archives(text: bytes | str) -> tuple[str, list[Snapshot]]:
    """(the repository's location, its archives oldest first) from `borg info --json`
    or `borg list --json --format '{hostname}{username}{end}'`."""
    decoded = text if isinstance(text, str) else text.decode(errors="replace")
    document = _document(decoded, "borg info --json")
    listed = document.get("archives")
    if not isinstance(listed, list):
        raise ReportError("no archive list in the input: not the output of `borg info --json`")
    archives = []
    for index, entry in enumerate(listed):
        if not isinstance(entry, dict):
            raise ReportError(f"archive {index} of the list is not an object")
        moment = entry.get("end") or entry.get("time") or entry.get("start")
        if not isinstance(moment, str):
            raise ReportError(f"archive {index} of the list has no time")
        stats = entry.get("stats") if isinstance(entry.get("stats"), dict) else None
        archives.append(
            Snapshot(
                id=str(entry.get("id") or entry.get("name") or ""),
                hostname=str(entry.get("hostname") or ""),
                username=str(entry.get("username") or ""),
                time=parse_time(moment, f"archive {index}'s time"),
                data_added=None if stats is None else _count(stats, "deduplicated_size"),
                files_processed=None if stats is None else _count(stats, "nfiles"),
                bytes_processed=None if stats is None else _count(stats, "original_size"),
            )
        )
    return _location(document), sorted(archives, key=lambda a: a.time)
