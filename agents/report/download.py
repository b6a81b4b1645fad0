"""The CSV download of the device list: the columns of the device status report, in
chunks of rows, with no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator

from streams.kinds import KIND_NAMES, KINDS
from streams.report import (
    DeviceRow,
    ReportContext,
    Timestamp,
    days_inactive,
    is_online,
    moment,
)

__all__ = ["CSV_COLUMNS", "csv_lines"]

# The CSV download: the columns an admin knows from the device status report.
CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("org_id", "Org"),
    ("user_id", "User"),
    ("device_id", "Device"),
    ("hostname", "Hostname"),
    ("destinations", "Destinations"),
    ("app_version", "App version"),
    ("worst_state", "Alert state"),
    *((kind.name, kind.title) for kind in KINDS),
    ("online", "Online"),
    ("percent_complete", "Completed %"),
    ("last_connected", "Last connected"),
    ("last_completed_backup", "Last completed backup"),
    ("last_activity", "Last activity"),
    ("days_inactive", "Days since last activity"),
    ("selected_bytes", "Selected bytes"),
    ("todo_bytes", "To do bytes"),
    ("top_cause", "Top diagnosis"),
    ("snoozed_until", "Snoozed until"),
    ("deactivated", "Deactivated"),
)


# A spreadsheet opening the download runs a cell starting with one of these as a formula
# (CSV injection): text a device or an admin chose is written after a single quote, which
# makes it text (OWASP's advice). Numbers and times are written by this code, and stay
# numbers, negative ones too.
_FORMULA_STARTS = frozenset("=+-@\t\r")


def _inert(text: str) -> str:
    return "'" + text if text[:1] in _FORMULA_STARTS else text


def _text(value: str | None) -> str:
    return "" if value is None else _inert(value)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _csv_time(value: Timestamp | None) -> str:
    return moment(value).isoformat() if value is not None else ""


def _level_text(kind: str) -> Callable[[DeviceRow, ReportContext], str]:
    return lambda row, _ctx: getattr(row, kind)


# How each CSV column is written; the same values the JSON rows give, cheaper per row.
_CSV_FIELDS: dict[str, Callable[[DeviceRow, ReportContext], str]] = {
    "org_id": lambda r, _c: _inert(r.org_id),
    "user_id": lambda r, _c: _inert(r.user_id),
    "device_id": lambda r, _c: _inert(r.device_id),
    "hostname": lambda r, _c: _inert(r.hostname),
    "destinations": lambda r, _c: _inert(" ".join(r.destinations)),
    "app_version": lambda r, _c: _inert(r.app_version),
    "worst_state": lambda r, _c: r.worst_state,
    **{kind: _level_text(kind) for kind in KIND_NAMES},
    "online": lambda r, c: _yes(is_online(r, c)),
    "percent_complete": lambda r, _c: str(r.percent_complete),
    "last_connected": lambda r, _c: _csv_time(r.last_connected),
    "last_completed_backup": lambda r, _c: _csv_time(r.last_completed_backup),
    "last_activity": lambda r, _c: _csv_time(r.last_activity),
    "days_inactive": lambda r, c: str(round(days_inactive(r, c), 2)),
    "selected_bytes": lambda r, _c: str(r.selected_bytes),
    "todo_bytes": lambda r, _c: str(r.todo_bytes),
    "top_cause": lambda r, _c: _text(r.top_cause),
    "snoozed_until": lambda r, _c: _csv_time(r.snoozed_until),
    "deactivated": lambda r, _c: _yes(r.deactivated),
}


def csv_lines(rows: Iterable[DeviceRow], ctx: ReportContext, chunk: int = 1000) -> Iterator[str]:
    """The CSV download in chunks of rows, header first."""
    fields = [_CSV_FIELDS[name] for name, _ in CSV_COLUMNS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([title for _, title in CSV_COLUMNS])
    batch: list[list[str]] = []
    for row in rows:
        batch.append([field(row, ctx) for field in fields])
        if len(batch) == chunk:
            writer.writerows(batch)
            batch.clear()
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(batch)
    yield buffer.getvalue()
