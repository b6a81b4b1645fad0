"""From what a CrashPlan console says of a device to backupwatch's input records.

Pure: no I/O, no clock. `read_device` turns one device of the console's
`GET /api/v1/Computer?incBackupUsage=true` answer into a `ConsoleDevice`;
`changes` turns a `ConsoleDevice` and what was last published for it (`Published`)
into the records to publish now and what to remember.

Every record carries the console's own time of its fact, never the time of the poll:
a device the console last heard from five days ago reads as five days silent however
often it is polled, and a poll that finds nothing new publishes nothing.

    device lastConnected                    -> heartbeat/1 at that time, reaching the
                                               destinations connected then
    backupUsage[].lastConnected (earlier)   -> heartbeat/1 at that time, reaching it
    backupUsage[].lastBackup                -> backup_progress/1 "sending" at that time
                                               (new data arrived)
    backupUsage[].lastCompletedBackup       -> backup_progress/1 "completed", 100 %
    active true -> false / false -> true    -> device_command/1 deactivate / reactivate
    userUid changed                         -> device_command/1 set_user
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec
import orjson
from xxhash import xxh64_intdigest

from agents.bridge.crashplan.errors import ConsoleFormatError
from schemas.models import BackupProgress, DeviceCommand, Heartbeat, InputRecord
from schemas.types import EARLIEST, LATEST, MAX_COUNT, MAX_ID_LENGTH

__all__ = [
    "REACH_SLACK",
    "ConsoleDestination",
    "ConsoleDevice",
    "Published",
    "changes",
    "decode_published",
    "encode_published",
    "read_device",
    "records_of",
    "source_digest",
    "unchanged",
]

log = logging.getLogger(__name__)

# A destination whose last connection is this close to the device's own last contact
# with the console was reached in the same session: the console stamps the two apart
# (authority and storage server), seconds to minutes apart. The CrashPlan app's default
# backup frequency.
REACH_SLACK = timedelta(minutes=15)
# The console does not tell how much a session sent, only when data last arrived: a
# record of new data says so with the least amount there is.
NEW_DATA_MARKER_BYTES = 1


class _Activity(msgspec.Struct, frozen=True, rename="camel"):
    connected: bool = False
    backing_up: bool = False


class _BackupUsage(msgspec.Struct, frozen=True, rename="camel"):
    """One entry of a device's `backupUsage`, as the console sends it."""

    target_computer_guid: str
    last_connected: datetime | None = None
    last_backup: datetime | None = None
    last_completed_backup: datetime | None = None
    modification_date: datetime | None = None
    percent_complete: float | None = None
    selected_files: int | None = None
    selected_bytes: int | None = None
    todo_files: int | None = None
    todo_bytes: int | None = None
    archive_bytes: int | None = None
    activity: _Activity | None = None


class _Computer(msgspec.Struct, frozen=True, rename="camel"):
    """One device of the console's `computers` page (the fields the bridge reads)."""

    guid: str
    user_uid: str
    org_uid: str
    active: bool = True
    blocked: bool = False
    name: str | None = None
    os_hostname: str | None = None
    os_name: str | None = None
    product_version: str | None = None
    last_connected: datetime | None = None
    creation_date: datetime | None = None
    modification_date: datetime | None = None
    backup_usage: list[_BackupUsage] = []


class ConsoleDestination(msgspec.Struct, frozen=True, kw_only=True):
    """What the console says of one device's backup to one destination."""

    destination_id: str
    last_connected: datetime | None = None
    # `lastBackup`: when the destination last received new data.
    last_backup: datetime | None = None
    last_completed: datetime | None = None
    # When the console last changed this entry (its figures have no time of their own).
    modified_at: datetime | None = None
    percent_complete: float = 0.0
    selected_files: int = 0
    selected_bytes: int = 0
    todo_files: int = 0
    todo_bytes: int = 0


class ConsoleDevice(msgspec.Struct, frozen=True, kw_only=True):
    """What the console says of one device."""

    device_id: str
    user_id: str
    org_id: str
    hostname: str = ""
    os: str = ""
    app_version: str = ""
    active: bool = True
    blocked: bool = False
    last_connected: datetime | None = None
    registered_at: datetime | None = None
    modified_at: datetime | None = None
    destinations: tuple[ConsoleDestination, ...] = ()


class Published(msgspec.Struct, frozen=True, array_like=True):
    """What the bridge last published for a device: enough to publish only changes."""

    active: bool
    user_id: str
    # Digests of the telemetry records the device's facts gave at the last poll.
    digests: tuple[int, ...] = ()
    # The digest of the console's entry itself (`source_digest`): the same entry gives
    # the same records, so a poll need not map it again. 0: not known.
    source: int = 0


_published_encoder = msgspec.msgpack.Encoder()
_published_decoder = msgspec.msgpack.Decoder(Published)
_record_encoder = msgspec.msgpack.Encoder()


def source_digest(raw: Mapping[str, Any]) -> int:
    """A digest of a device's entry as the console sent it. Most of a large fleet is
    unchanged from one poll to the next; comparing this (a few µs) spares mapping each
    unchanged device again (`changes` on an entry whose digest is the one remembered
    gives no records and the same `Published`). An entry whose keys came in another
    order only misses the shortcut."""
    return xxh64_intdigest(orjson.dumps(raw))


def unchanged(raw: Mapping[str, Any], previous: Published | None) -> tuple[bool, int]:
    """(whether `raw` is the entry `previous` was made from, its digest)."""
    digest = source_digest(raw)
    return previous is not None and previous.source == digest, digest


def encode_published(published: Published) -> bytes:
    return _published_encoder.encode(published)


def decode_published(data: bytes) -> Published:
    return _published_decoder.decode(data)


# -- reading the console's JSON ---------------------------------------------------------


def _time(value: datetime | None) -> datetime | None:
    """A console time inside the range records accept; None for a missing or absurd one
    (a console reports "never" as null, some exports as the epoch)."""
    if value is None or value.tzinfo is None or not EARLIEST <= value < LATEST:
        return None
    return value


def _count(value: int | None) -> int:
    return 0 if value is None else min(max(value, 0), MAX_COUNT)


def _text(value: str | None, most: int) -> str:
    return (value or "")[:most]


def _id(value: str, field: str) -> str:
    text = str(value).strip()
    if not text or len(text) > MAX_ID_LENGTH:
        raise ConsoleFormatError(f"`{field}` must be 1 to {MAX_ID_LENGTH} characters")
    return text


def read_device(raw: Mapping[str, Any]) -> ConsoleDevice:
    """The device one entry of the console's `computers` list describes.

    Raises `ConsoleFormatError` naming the field when the entry cannot be read (no
    guid, a user or org id missing, a time that is not ISO 8601...)."""
    try:
        computer = msgspec.convert(raw, _Computer, str_keys=True)
    except msgspec.ValidationError as err:
        raise ConsoleFormatError(str(err)) from None
    destinations = []
    for usage in computer.backup_usage:
        selected_files = _count(usage.selected_files)
        selected_bytes = _count(usage.selected_bytes)
        percent = usage.percent_complete or 0.0
        destinations.append(
            ConsoleDestination(
                destination_id=_id(usage.target_computer_guid, "targetComputerGuid"),
                last_connected=_time(usage.last_connected),
                last_backup=_time(usage.last_backup),
                last_completed=_time(usage.last_completed_backup),
                modified_at=_time(usage.modification_date),
                percent_complete=min(max(percent, 0.0), 100.0),
                selected_files=selected_files,
                selected_bytes=selected_bytes,
                # The console's to-do can run ahead of a selection it has not re-counted.
                todo_files=min(_count(usage.todo_files), selected_files or MAX_COUNT),
                todo_bytes=min(_count(usage.todo_bytes), selected_bytes or MAX_COUNT),
            )
        )
    hostname = computer.os_hostname
    if not hostname or hostname == "UNKNOWN":
        # An app that never reported its host name: the console's device name.
        hostname = computer.name
    return ConsoleDevice(
        device_id=_id(computer.guid, "guid"),
        user_id=_id(computer.user_uid, "userUid"),
        org_id=_id(computer.org_uid, "orgUid"),
        hostname=_text(hostname, 256),
        os=_text(computer.os_name, 64),
        app_version=_text(computer.product_version, 64),
        active=computer.active,
        blocked=computer.blocked,
        last_connected=_time(computer.last_connected),
        registered_at=_time(computer.creation_date),
        modified_at=_time(computer.modification_date),
        destinations=tuple(sorted(destinations, key=lambda d: d.destination_id)),
    )


# -- the records of a device ------------------------------------------------------------


def _heartbeat(device: ConsoleDevice, at: datetime, reachable: Iterable[str]) -> Heartbeat:
    return Heartbeat(
        device_id=device.device_id,
        user_id=device.user_id,
        org_id=device.org_id,
        event_time=at,
        app_version=device.app_version,
        os=device.os,
        hostname=device.hostname,
        reachable_destinations=tuple(sorted(reachable)),
        registered_at=device.registered_at,
    )


def _heartbeats(device: ConsoleDevice) -> list[Heartbeat]:
    """A heartbeat at the device's last contact, reaching the destinations connected
    then; one at each earlier destination connection, reaching that destination."""
    contact = device.last_connected
    with_contact = [d for d in device.destinations if d.last_connected is not None]
    records = []
    earlier: dict[datetime, list[str]] = {}
    with_device: list[str] = []
    for dest in with_contact:
        at = dest.last_connected
        assert at is not None  # noqa: S101 (filtered above)
        if contact is not None and abs(at - contact) <= REACH_SLACK:
            with_device.append(dest.destination_id)
        else:
            earlier.setdefault(at, []).append(dest.destination_id)
    if contact is not None:
        # Online to the console; reaching no destination then is what the console shows
        # as connected with no destination ("communication blocked").
        records.append(_heartbeat(device, contact, with_device))
    for at in sorted(earlier):
        records.append(_heartbeat(device, at, earlier[at]))
    return records


def _progress(
    device: ConsoleDevice,
    dest: ConsoleDestination,
    at: datetime,
    session_state: str,
    percent: float,
    todo_files: int,
    todo_bytes: int,
    bytes_sent: int,
) -> BackupProgress:
    return BackupProgress(
        device_id=device.device_id,
        user_id=device.user_id,
        org_id=device.org_id,
        destination_id=dest.destination_id,
        event_time=at,
        session_state=session_state,  # type: ignore[arg-type]
        percent_complete=percent,
        selected_files=dest.selected_files,
        selected_bytes=dest.selected_bytes,
        todo_files=todo_files,
        todo_bytes=todo_bytes,
        bytes_sent=bytes_sent,
    )


def _progress_records(device: ConsoleDevice, dest: ConsoleDestination) -> list[BackupProgress]:
    """The destination's facts as progress reports, each at its own time: new data at
    `lastBackup`, 100 % at `lastCompletedBackup`; the current figures ride on the newest
    (or, when the newest is the completion and the figures have fallen below 100 % since,
    on a report at the entry's modification time)."""
    sent, done = dest.last_backup, dest.last_completed
    records = []
    if done is not None:
        records.append(
            _progress(
                device,
                dest,
                done,
                "completed",
                100.0,
                0,
                0,
                NEW_DATA_MARKER_BYTES if sent == done else 0,
            )
        )
    if sent is not None and sent != done:
        records.append(
            _progress(
                device,
                dest,
                sent,
                "sending",
                dest.percent_complete,
                dest.todo_files,
                dest.todo_bytes,
                NEW_DATA_MARKER_BYTES,
            )
        )
    newest = max((r.event_time for r in records), default=None)
    modified = dest.modified_at
    if (
        dest.percent_complete < 100.0
        and newest is not None
        and newest == done
        and modified is not None
        and modified > newest
    ):
        records.append(
            _progress(
                device,
                dest,
                modified,
                "idle",
                dest.percent_complete,
                dest.todo_files,
                dest.todo_bytes,
                0,
            )
        )
    return records


def records_of(device: ConsoleDevice) -> list[BackupProgress | Heartbeat]:
    """Every telemetry record the device's facts give, heartbeats first."""
    records: list[BackupProgress | Heartbeat] = list(_heartbeats(device))
    for dest in device.destinations:
        records.extend(_progress_records(device, dest))
    return records


def _digest(record: InputRecord) -> int:
    return xxh64_intdigest(_record_encoder.encode(record))


def _command(
    device: ConsoleDevice, action: str, at: datetime, user_id: str | None = None
) -> DeviceCommand:
    millis = int(at.timestamp() * 1000)
    return DeviceCommand(
        # The same fact gives the same id: a worker drops a command it has applied.
        command_id=f"crashplan:{device.device_id}:{action}:{millis}",
        device_id=device.device_id,
        action=action,  # type: ignore[arg-type]
        issued_at=at,
        user_id=user_id,
        reason="CrashPlan console",
        actor="backupwatch bridge crashplan",
    )


def _change_time(device: ConsoleDevice) -> datetime | None:
    """When the console changed the device: its modification time, else its newest
    other time."""
    if device.modified_at is not None:
        return device.modified_at
    times = [device.last_connected, device.registered_at]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def changes(
    device: ConsoleDevice, previous: Published | None, source: int = 0
) -> tuple[list[InputRecord], Published]:
    """The records to publish for `device`, given what was published for it before
    (None: never), in the order to publish them; and what to remember now.

    A device first seen deactivated is remembered, not published: backupwatch has
    nothing to watch there. Commands come before the telemetry they explain (a
    reactivation, a new user) or after it (a deactivation)."""
    at = _change_time(device)
    if not device.active:
        remembered = Published(False, device.user_id, previous.digests if previous else (), source)
        if previous is None or not previous.active:
            return [], remembered
        if at is None:
            log.warning("device %s deactivated without any time: not published", device.device_id)
            return [], previous
        return [_command(device, "deactivate", at)], remembered
    before: list[InputRecord] = []
    if previous is not None and at is not None:
        if not previous.active:
            before.append(_command(device, "reactivate", at))
        if previous.user_id != device.user_id:
            before.append(_command(device, "set_user", at, user_id=device.user_id))
    telemetry = records_of(device)
    digests = tuple(_digest(record) for record in telemetry)
    seen = frozenset(previous.digests) if previous is not None else frozenset()
    fresh = [r for r, d in zip(telemetry, digests, strict=True) if d not in seen]
    return [*before, *fresh], Published(True, device.user_id, digests, source)
