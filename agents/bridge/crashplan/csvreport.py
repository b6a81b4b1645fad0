"""The console's Device Backup Report, exported as CSV, read into `ConsoleDevice`s.

The export (`GET /api/v1/DeviceBackupReport?export=csv`, or the console's report
download) has one row per device and destination, its columns named as the report's
fields. Columns are found by name, in any order; those the bridge does not use are
ignored. Times are ISO 8601 (`2026-11-30T16:55:40.632Z`) or the report's own
`Nov 30, 2026 4:55:40 PM` (UTC). Pure: the caller opens the file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from agents.bridge.crashplan.errors import CsvReportError
from agents.bridge.crashplan.mapping import ConsoleDestination, ConsoleDevice
from schemas.types import EARLIEST, LATEST, MAX_COUNT, MAX_ID_LENGTH

__all__ = ["COLUMNS", "REQUIRED", "RowError", "read_report"]

# Report column -> what it is (README's table lists the same).
COLUMNS = {
    "deviceUid": "device id",
    "deviceName": "device name (the host name when deviceOsHostname is empty)",
    "deviceOsHostname": "host name",
    "userUid": "user id",
    "orgUid": "org id",
    "os": "operating system",
    "version": "app version",
    "active": "false for a deactivated device",
    "deviceCreationDate": "registration time",
    "destinationGuid": "destination id",
    "lastConnectedDate": "last connected (to the destination)",
    "lastActivity": "last backup activity: new data arrived",
    "lastCompletedBackupDate": "last completed backup (100 %)",
    "backupCompletePercentage": "percent complete",
    "selectedFiles": "selected files",
    "selectedBytes": "selected bytes",
    "todoFiles": "files to do",
    "todoBytes": "bytes to do",
}
REQUIRED = ("deviceUid", "userUid", "orgUid", "destinationGuid")
_REPORT_TIME = "%b %d, %Y %I:%M:%S %p"


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that cannot be read: its line in the file and why."""

    line: int
    reason: str


class _BadCell(ValueError):
    pass


def _time(row: dict[str, str], column: str) -> datetime | None:
    text = (row.get(column) or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.strptime(text, _REPORT_TIME)  # noqa: DTZ007 (UTC, set below)
        except ValueError:
            raise _BadCell(f"{column} {text!r} is not a time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not EARLIEST <= moment < LATEST:
        raise _BadCell(f"{column} {text!r} is outside {EARLIEST.year}-{LATEST.year - 1}")
    return moment.astimezone(UTC)


def _count(row: dict[str, str], column: str) -> int:
    text = (row.get(column) or "").strip().replace(",", "")
    if not text:
        return 0
    try:
        value = int(float(text))
    except ValueError:
        raise _BadCell(f"{column} {text!r} is not a number") from None
    if not 0 <= value <= MAX_COUNT:
        raise _BadCell(f"{column} {text!r} is out of range")
    return value


def _percent(row: dict[str, str], column: str) -> float:
    text = (row.get(column) or "").strip().rstrip("%")
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise _BadCell(f"{column} {text!r} is not a percentage") from None
    if not 0.0 <= value <= 100.0:
        raise _BadCell(f"{column} {text!r} is not between 0 and 100")
    return value


def _id(row: dict[str, str], column: str) -> str:
    text = (row.get(column) or "").strip()
    if not text:
        raise _BadCell(f"{column} is empty")
    if len(text) > MAX_ID_LENGTH:
        raise _BadCell(f"{column} is longer than {MAX_ID_LENGTH} characters")
    return text


def _row(row: dict[str, str]) -> tuple[ConsoleDevice, ConsoleDestination]:
    connected = _time(row, "lastConnectedDate")
    selected_files = _count(row, "selectedFiles")
    selected_bytes = _count(row, "selectedBytes")
    destination = ConsoleDestination(
        destination_id=_id(row, "destinationGuid"),
        last_connected=connected,
        last_backup=_time(row, "lastActivity"),
        last_completed=_time(row, "lastCompletedBackupDate"),
        percent_complete=_percent(row, "backupCompletePercentage"),
        selected_files=selected_files,
        selected_bytes=selected_bytes,
        todo_files=min(_count(row, "todoFiles"), selected_files or MAX_COUNT),
        todo_bytes=min(_count(row, "todoBytes"), selected_bytes or MAX_COUNT),
    )
    hostname = (row.get("deviceOsHostname") or "").strip() or (row.get("deviceName") or "")
    device = ConsoleDevice(
        device_id=_id(row, "deviceUid"),
        user_id=_id(row, "userUid"),
        org_id=_id(row, "orgUid"),
        hostname=hostname.strip()[:256],
        os=(row.get("os") or "").strip()[:64],
        app_version=(row.get("version") or "").strip()[:64],
        active=(row.get("active") or "true").strip().lower() not in ("false", "0", "no"),
        last_connected=connected,
        registered_at=_time(row, "deviceCreationDate"),
    )
    return device, destination


def read_report(lines: Iterable[str]) -> tuple[list[ConsoleDevice], list[RowError]]:
    """The devices of a report (a device's rows joined, its last connection the newest
    of its destinations'), and the rows that could not be read, by line number.

    Raises `CsvReportError` when the file has none of the required columns."""
    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise CsvReportError(
            f"not a Device Backup Report: no column {', '.join(missing)} "
            f"(the first line names the columns; found {', '.join(header[:8]) or 'none'})"
        )
    devices: dict[str, ConsoleDevice] = {}
    destinations: dict[str, list[ConsoleDestination]] = {}
    errors: list[RowError] = []
    for row in reader:
        line = reader.line_num
        extra, short = row.get(None), sum(1 for v in row.values() if v is None)
        if extra or short:
            cells = len(header) + len(extra or ()) - short
            errors.append(RowError(line, f"{cells} cells, header has {len(header)}"))
            continue
        try:
            device, destination = _row(row)
        except _BadCell as err:
            errors.append(RowError(line, str(err)))
            continue
        known = devices.get(device.device_id)
        if known is not None and (known.user_id, known.org_id) != (device.user_id, device.org_id):
            errors.append(
                RowError(line, f"device {device.device_id} has another user or org above")
            )
            continue
        if known is None or _newer(device.last_connected, known.last_connected):
            devices[device.device_id] = device
        destinations.setdefault(device.device_id, []).append(destination)
    result = [
        _with_destinations(device, destinations[device_id]) for device_id, device in devices.items()
    ]
    return result, errors


def _newer(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and (b is None or a > b)


def _with_destinations(
    device: ConsoleDevice, destinations: list[ConsoleDestination]
) -> ConsoleDevice:
    import msgspec

    return msgspec.structs.replace(
        device, destinations=tuple(sorted(destinations, key=lambda d: d.destination_id))
    )
