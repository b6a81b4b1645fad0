"""What backupwatch remembers about one device.

The state is frozen msgspec Structs encoded as arrays (`array_like`): a device with
two destinations and fourteen days of windows takes well under 1 KiB on the changelog
and in the store. New fields go at the end of a struct, with a default, so that state
written by an older worker still decodes.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from schemas.types import Level

__all__ = [
    "DayBucket",
    "DestinationState",
    "DeviceState",
    "HistoryEntry",
    "Slot",
    "decode_state",
    "encode_state",
]


class Slot(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """The current alert state of one kind (on one destination, for per-destination kinds)."""

    level: Level = "ok"
    # The reference time the condition is measured from, fixed when the episode opened;
    # part of the alert id, so it must not move while the episode lasts.
    episode_start: datetime | None = None
    # The last time consumers were told about this episode (transition or reminder).
    notified_at: datetime | None = None


OK_SLOT = Slot()


class DestinationState(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One device's backup towards one destination."""

    destination_id: str
    first_seen: datetime
    last_connected: datetime | None = None
    # The last progress report of any kind ("Last Activity" in the console).
    last_activity: datetime | None = None
    last_new_data: datetime | None = None
    # The last report at 100 % ("Completed" in the console).
    last_completed: datetime | None = None
    # The fields below come from the newest report (by event time), so that late or
    # duplicated reports cannot overwrite newer figures.
    reported_at: datetime | None = None
    percent_complete: float = 0.0
    session_state: str = "idle"
    selected_files: int = 0
    selected_bytes: int = 0
    todo_files: int = 0
    todo_bytes: int = 0
    locked_files: int = 0
    permission_denied_files: int = 0
    vanished_files: int = 0
    changed_files: int = 0
    cpu_throttled: bool = False
    network_throttled: bool = False
    backup_interval_s: int = 900
    backup: Slot = OK_SLOT
    completion: Slot = OK_SLOT
    # Fingerprint of the newest report: breaks ties between two reports of one instant.
    report_fp: int = 0


class DayBucket(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One UTC day of a device's activity (the per-device daily window)."""

    day: int  # days since the epoch, UTC
    heartbeats: int = 0
    bytes_sent: int = 0
    completions: int = 0
    locked: int = 0
    permission_denied: int = 0
    vanished: int = 0
    changed: int = 0


class HistoryEntry(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A past transition, kept for the device detail view."""

    at: datetime
    kind: str
    destination_id: str | None
    from_level: Level
    to_level: Level
    reason: str


class DeviceState(msgspec.Struct, frozen=True, array_like=True, gc=False):
    device_id: str
    user_id: str
    org_id: str
    first_seen: datetime
    hostname: str = ""
    os: str = ""
    app_version: str = ""
    last_heartbeat: datetime | None = None
    # The last time the device reached any destination.
    last_connected: datetime | None = None
    # From the newest heartbeat.
    service_state: str = "running"
    backup_paused: bool = False
    cpu_limit_percent: int = 100
    network_limit_kbps: int | None = None
    reachable: tuple[str, ...] = ()
    connect_error: str | None = None
    destinations: tuple[DestinationState, ...] = ()
    connection: Slot = OK_SLOT
    deactivated: bool = False
    snoozed_until: datetime | None = None
    replaced_by: str | None = None
    user_left_org: bool = False
    # The issue time of the newest command of each family, so that commands applied out
    # of order end in the state their issue order gives.
    activation_changed_at: datetime | None = None
    snooze_changed_at: datetime | None = None
    days: tuple[DayBucket, ...] = ()
    # Events whose device time ran ahead of the clock by more than the allowed skew.
    clamped_events: int = 0
    last_clamped_at: datetime | None = None
    # Fingerprints of the most recent events, to recognize a duplicate sent twice.
    recent: tuple[int, ...] = ()
    # Facts changed since the last decision: the device is due at the next tick.
    changed_at: datetime | None = None
    history: tuple[HistoryEntry, ...] = ()
    # Per input topic, the highest offset applied (heartbeats, progress, commands):
    # a replayed record is recognized and changes nothing.
    offsets: tuple[int, int, int] = (-1, -1, -1)
    heartbeat_fp: int = 0

    def destination(self, destination_id: str) -> DestinationState | None:
        for dest in self.destinations:
            if dest.destination_id == destination_id:
                return dest
        return None

    @property
    def snoozed(self) -> bool:
        return self.snoozed_until is not None


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(DeviceState)


def encode_state(state: DeviceState) -> bytes:
    return _encoder.encode(state)


def decode_state(data: bytes) -> DeviceState:
    return _decoder.decode(data)
