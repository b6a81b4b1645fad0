"""The records of the wire contract: one class per `schema` name and major version.

These classes are the single source of truth: the JSON Schema documents under
`schemas/json/` are generated from them (`python -m schemas.generate`).

Every record is a frozen msgspec Struct tagged by its `schema` field, so one decode
call both picks the record type and validates it. Unknown fields are ignored: a newer
producer may add fields without breaking older workers (forward compatibility);
removing or retyping a field needs a new major version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec.structs import force_setattr

from schemas.recipients import is_email_address, is_http_url, recipient_problem, redact_url
from schemas.types import (
    EARLIEST,
    LATEST,
    MAX_COUNT,
    AlertKind,
    Count,
    Id,
    Level,
    Percent,
    ServiceState,
    SessionState,
    Timestamp,
    as_utc,
)

__all__ = [
    "Alert",
    "BackupProgress",
    "Cause",
    "DailyActivity",
    "DestinationStatus",
    "DeviceCommand",
    "DeviceStatus",
    "FileErrors",
    "Heartbeat",
    "InputRecord",
    "OrgPolicy",
    "Recipient",
    "TelemetryRecord",
    "UserFacts",
    "UserPeriod",
]


class _Record(msgspec.Struct, frozen=True, kw_only=True, tag_field="schema"):
    """Base of every wire record; subclasses set their `schema` tag."""


def _normalize_times(record: msgspec.Struct, *fields: str) -> None:
    for field in fields:
        value = getattr(record, field)
        if value is not None:
            force_setattr(record, field, as_utc(value, field))


# The input records are decoded by the hundred thousand per second and hold only
# strings, numbers and lists of strings, so they can never be part of a reference
# cycle: `gc=False` spares the garbage collector from tracking each one.
class Heartbeat(_Record, tag="heartbeat/1", frozen=True, gc=False):
    """The device talked to the cloud (the "authority")."""

    device_id: Id
    user_id: Id
    org_id: Id
    event_time: Timestamp
    app_version: Annotated[str, msgspec.Meta(max_length=64)] = ""
    os: Annotated[str, msgspec.Meta(max_length=64)] = ""
    hostname: Annotated[str, msgspec.Meta(max_length=256)] = ""
    service_state: ServiceState = "running"
    backup_paused: bool = False
    # Percent of one CPU the backup may use while the user is present (100 = no limit).
    cpu_limit_percent: Annotated[int, msgspec.Meta(ge=1, le=100)] = 100
    # Upload limit set in the app or by org network settings; None = unlimited.
    network_limit_kbps: Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT)] | None = None
    # Destinations the device can reach right now; empty while it is online to the
    # cloud but cannot reach any destination (communication blocked).
    reachable_destinations: tuple[Id, ...] = ()
    # What the app saw when a destination connection failed, when it knows:
    # "blocked" (refused or reset by the network), "local_interference" (another
    # application on the device, e.g. a firewall or VPN client, intercepted it).
    connect_error: Literal["blocked", "local_interference"] | None = None
    # When the device was registered with its backup service (the console's creation
    # date), where the producer knows it. A fleet seen for the first time all at once
    # (a console bridged in) has one first-seen time for every device: this one still
    # tells an old device from the newer one that replaced it.
    registered_at: Timestamp | None = None

    def __post_init__(self) -> None:
        # The common case, checked here rather than in a shared helper (this runs for
        # every telemetry record, and a call costs as much as the check): msgspec
        # already produced an aware UTC datetime inside the accepted range.
        t = self.event_time
        if t.__class__ is not datetime or t.tzinfo is not UTC or not EARLIEST <= t < LATEST:
            force_setattr(self, "event_time", as_utc(t, "event_time"))
        if self.registered_at is not None:
            force_setattr(self, "registered_at", as_utc(self.registered_at, "registered_at"))


class FileErrors(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Files the last session could not back up, by cause."""

    locked: Count = 0
    permission_denied: Count = 0
    vanished: Count = 0
    changed_during_backup: Count = 0


class BackupProgress(_Record, tag="backup_progress/1", frozen=True, gc=False):
    """Progress of one device towards one destination, during and after a session."""

    device_id: Id
    user_id: Id
    org_id: Id
    destination_id: Id
    event_time: Timestamp
    session_state: SessionState
    percent_complete: Percent
    selected_files: Count = 0
    selected_bytes: Count = 0
    todo_files: Count = 0
    todo_bytes: Count = 0
    # Bytes sent since the previous report of this device to this destination.
    bytes_sent: Count = 0
    file_errors: FileErrors = FileErrors()
    cpu_throttled: bool = False
    network_throttled: bool = False
    # Time between the starts of two backup sessions.
    backup_interval_s: Annotated[int, msgspec.Meta(ge=60, le=31 * 86400)] = 900

    def __post_init__(self) -> None:
        t = self.event_time  # as in `Heartbeat.__post_init__`
        if t.__class__ is not datetime or t.tzinfo is not UTC or not EARLIEST <= t < LATEST:
            force_setattr(self, "event_time", as_utc(t, "event_time"))
        if self.todo_files > self.selected_files and self.selected_files:
            raise ValueError("`todo_files` exceeds `selected_files`")
        if self.todo_bytes > self.selected_bytes and self.selected_bytes:
            raise ValueError("`todo_bytes` exceeds `selected_bytes`")


CommandAction = Literal[
    "deactivate",
    "reactivate",
    "snooze",
    "unsnooze",
    "set_user",
    "replaced",
    "user_left_org",
]


class DeviceCommand(_Record, tag="device_command/1", frozen=True, gc=False):
    """An admin action that must be ordered with the device's telemetry."""

    command_id: Id
    device_id: Id
    action: CommandAction
    issued_at: Timestamp
    # `snooze`: until when (an extended leave); required.
    snooze_until: Timestamp | None = None
    # `set_user`: the device's new user; required.
    user_id: Id | None = None
    # `replaced`: the newer device that replaced this one; required.
    replaced_by: Id | None = None
    reason: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    actor: Annotated[str, msgspec.Meta(max_length=256)] = ""

    def __post_init__(self) -> None:
        _normalize_times(self, "issued_at", "snooze_until")
        if self.action == "snooze" and self.snooze_until is None:
            raise ValueError("action `snooze` needs `snooze_until`")
        if self.action == "set_user" and self.user_id is None:
            raise ValueError("action `set_user` needs `user_id`")
        if self.action == "replaced" and self.replaced_by is None:
            raise ValueError("action `replaced` needs `replaced_by`")


class UserPeriod(msgspec.Struct, frozen=True, kw_only=True):
    """A span of stream time over which a fact about a user held."""

    # "leave": the user is away until `end`, their devices alert on nothing meanwhile;
    # "deactivated": the user left the organization, their devices are off the watch.
    kind: Literal["leave", "deactivated"]
    start: Timestamp
    # When it ended, or ends (a leave's "until"); None: it still holds (a deactivation
    # not undone yet). A period holds from `start` (included) to `end` (excluded).
    end: Timestamp | None = None
    reason: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    actor: Annotated[str, msgspec.Meta(max_length=256)] = ""

    def __post_init__(self) -> None:
        _normalize_times(self, "start", "end")
        if self.end is not None and self.end <= self.start:
            raise ValueError("`end` must be after `start`")
        if self.kind == "leave" and self.end is None:
            raise ValueError("a `leave` needs an `end` (until when)")


class UserFacts(_Record, tag="user_facts/1", frozen=True):
    """What administrators recorded about one user (a person, whatever their devices):
    leaves and deactivations, each with the span of stream time it held, so that a
    replay decides each device's alerts under the facts that held at each instant.
    The latest record of a user (a compacted topic keyed by user id) is their history."""

    user_id: Id
    updated_at: Timestamp
    # Oldest first (by start); at most 64, the oldest dropped first.
    periods: Annotated[list[UserPeriod], msgspec.Meta(max_length=64)] = []

    def __post_init__(self) -> None:
        _normalize_times(self, "updated_at")


PositiveDays = Annotated[float, msgspec.Meta(gt=0, le=3650)]
EmailAddress = Annotated[
    str,
    msgspec.Meta(
        max_length=320,
        description="An email address (local@domain), without whitespace or control characters",
    ),
]
WebhookUrl = Annotated[
    str,
    msgspec.Meta(
        max_length=2048,
        description="An http or https URL with a host, without whitespace or control characters",
    ),
]


class Recipient(msgspec.Struct, frozen=True, kw_only=True):
    """Where an org's alerts go: a channel and its target there."""

    channel: Annotated[
        str,
        msgspec.Meta(
            pattern="^[a-z][a-z0-9_]{0,31}$",
            description="A channel of the notifier (docs/notifications.md lists them); "
            "any other is refused",
        ),
    ]
    target: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=2048,
            description="Where on its channel, as the channel says: an email address, an "
            "http(s) URL, the name of a target the notifier configures (whose URL, a secret, "
            "is never on the topic)",
        ),
    ]


class OrgPolicy(_Record, tag="org_policy/1", frozen=True):
    """An org's thresholds and recipients; any field left out takes the default."""

    org_id: Id
    updated_at: Timestamp
    connection_warning_days: PositiveDays | None = None
    connection_critical_days: PositiveDays | None = None
    backup_warning_days: PositiveDays | None = None
    backup_critical_days: PositiveDays | None = None
    completion_warning_days: PositiveDays | None = None
    completion_critical_days: PositiveDays | None = None
    online_window_minutes: Annotated[float, msgspec.Meta(gt=0, le=1440)] | None = None
    minimum_app_version: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    # Repeat an open alert every N hours; None or absent = no reminders.
    reminder_hours: Annotated[float, msgspec.Meta(gt=0, le=8760)] | None = None
    recipients: Annotated[list[Recipient], msgspec.Meta(max_length=100)] = []
    # The earlier form, one field per channel: still read, and mapped onto `recipients`
    # (after the ones listed there), so a decoded policy has them empty.
    alert_emails: list[EmailAddress] = []
    webhook_urls: list[WebhookUrl] = []

    def __post_init__(self) -> None:
        _normalize_times(self, "updated_at")
        # Refused here rather than by the notifier: it could only retry each alert to an
        # unusable recipient until it dead-letters it.
        for index, recipient in enumerate(self.recipients):
            problem = recipient_problem(recipient.channel, recipient.target)
            if problem is not None:
                raise ValueError(f"`recipients`[{index}] {problem}")
        for index, address in enumerate(self.alert_emails):
            if not is_email_address(address):
                raise ValueError(f"`alert_emails`[{index}] {address!r} is not an email address")
        for index, url in enumerate(self.webhook_urls):
            if not is_http_url(url):
                # Shown without its path: a chat webhook carries its token there.
                raise ValueError(
                    f"`webhook_urls`[{index}] {redact_url(url)!r} is not an http(s) URL"
                )
        if self.alert_emails or self.webhook_urls:
            mapped = [Recipient(channel="email", target=a) for a in self.alert_emails]
            mapped += [Recipient(channel="webhook", target=u) for u in self.webhook_urls]
            force_setattr(self, "recipients", [*self.recipients, *mapped])
            force_setattr(self, "alert_emails", [])
            force_setattr(self, "webhook_urls", [])


class Cause(msgspec.Struct, frozen=True, kw_only=True):
    """One likely cause of an alert, with what points to it and what to do."""

    code: str
    summary: str
    evidence: dict[str, Any]
    action: str
    score: float


Transition = Literal["opened", "escalated", "deescalated", "resolved", "reminder"]
# An alert's times carry their offset (the workers write UTC): a reader subtracts them
# from its own aware clock, which a time without one would fail.
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class Alert(_Record, tag="alert/1", frozen=True):
    """What alert consumers get; deduplicate by `alert_id`."""

    alert_id: str
    device_id: str
    user_id: str
    org_id: str
    hostname: str
    destination_id: str | None
    kind: AlertKind
    from_state: Level = msgspec.field(name="from")
    to_state: Level = msgspec.field(name="to")
    transition: Transition
    # Why the state changed: "threshold", "new_event", "deactivated", "snooze_ended",
    # "policy_changed", "reminder", "user_deactivated", "leave_ended".
    reason: str
    # When the condition began: the last contact, new data or 100 % it is measured from.
    episode_start: AwareTime
    days_observed: float
    threshold_days: float | None
    diagnosis: list[Cause]
    # The stream time (partition clock) the transition was decided on.
    decided_at: AwareTime
    emitted_at: AwareTime


class DestinationStatus(msgspec.Struct, frozen=True, kw_only=True):
    destination_id: str
    backup_state: Level
    completion_state: Level
    last_connected: datetime | None
    last_activity: datetime | None
    last_new_data: datetime | None
    last_completed_backup: datetime | None
    percent_complete: float
    session_state: str
    selected_files: int
    selected_bytes: int
    todo_files: int
    todo_bytes: int


class DailyActivity(msgspec.Struct, frozen=True, kw_only=True):
    """One UTC day of a device's activity."""

    date: str
    heartbeats: int
    bytes_sent: int
    completions: int
    locked: int
    permission_denied: int
    vanished: int
    changed: int


class DeviceStatus(_Record, tag="device_status/1", frozen=True):
    """The latest full status of a device, as of `stream_time`."""

    device_id: str
    user_id: str
    org_id: str
    hostname: str
    os: str
    app_version: str
    app_version_outdated: bool
    online: bool
    service_state: str
    backup_paused: bool
    deactivated: bool
    snoozed_until: datetime | None
    alert_states: dict[str, Level]
    worst_state: Level
    first_seen: datetime
    last_heartbeat: datetime | None
    last_connected: datetime | None
    last_activity: datetime | None
    last_completed_backup: datetime | None
    percent_complete: float
    selected_bytes: int
    todo_bytes: int
    destinations: list[DestinationStatus]
    open_alerts: list[dict[str, Any]]
    daily: list[DailyActivity]
    top_cause: str | None
    stream_time: datetime


TelemetryRecord = Heartbeat | BackupProgress
InputRecord = Heartbeat | BackupProgress | DeviceCommand
