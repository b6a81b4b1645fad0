"""The first device-state layout (read only, to convert).

It kept the newest heartbeat's time and fingerprint inside its report and the
duplicate-detection ring as a tuple of ints. A worker reading a store or changelog
written then converts each state on first read; it writes the current layout back.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from streams.state import (
    OK_SLOT,
    DayBucket,
    DestinationState,
    DeviceState,
    HeartbeatReport,
    HistoryEntry,
    Parked,
    Slot,
    pack_fingerprints,
)

__all__ = ["decode_v1"]


class _HeartbeatReportV1(msgspec.Struct, frozen=True, array_like=True, gc=False):
    at: datetime
    fp: int = 0
    hostname: str = ""
    os: str = ""
    app_version: str = ""
    service_state: str = "running"
    backup_paused: bool = False
    cpu_limit_percent: int = 100
    network_limit_kbps: int | None = None
    reachable: tuple[str, ...] = ()
    connect_error: str | None = None


class _DeviceStateV1(msgspec.Struct, frozen=True, array_like=True, gc=False):
    device_id: str
    user_id: str
    org_id: str
    first_seen: datetime
    heartbeat: _HeartbeatReportV1 | None = None
    last_connected: datetime | None = None
    destinations: tuple[DestinationState, ...] = ()
    connection: Slot = OK_SLOT
    deactivated: bool = False
    snoozed_until: datetime | None = None
    replaced_by: str | None = None
    user_left_org: bool = False
    activation_changed_at: datetime | None = None
    snooze_changed_at: datetime | None = None
    days: tuple[DayBucket, ...] = ()
    clamped_events: int = 0
    last_clamped_at: datetime | None = None
    recent: tuple[int, ...] = ()
    changed_at: datetime | None = None
    history: tuple[HistoryEntry, ...] = ()
    offsets: tuple[int, int, int] = (-1, -1, -1)
    policy_revision: str = ""
    parked: tuple[Parked, ...] = ()


_decoder = msgspec.msgpack.Decoder(_DeviceStateV1)


def decode_v1(data: bytes) -> DeviceState:
    """A state in the old layout, converted (raises `msgspec.DecodeError` if it is not)."""
    old = _decoder.decode(data)
    hb = old.heartbeat
    return DeviceState(
        device_id=old.device_id,
        user_id=old.user_id,
        org_id=old.org_id,
        first_seen=old.first_seen,
        heartbeat=None
        if hb is None
        else HeartbeatReport(
            hb.hostname,
            hb.os,
            hb.app_version,
            hb.service_state,
            hb.backup_paused,
            hb.cpu_limit_percent,
            hb.network_limit_kbps,
            hb.reachable,
            hb.connect_error,
        ),
        last_heartbeat=None if hb is None else hb.at,
        heartbeat_fp=0 if hb is None else hb.fp,
        last_connected=old.last_connected,
        destinations=old.destinations,
        connection=old.connection,
        deactivated=old.deactivated,
        snoozed_until=old.snoozed_until,
        replaced_by=old.replaced_by,
        user_left_org=old.user_left_org,
        activation_changed_at=old.activation_changed_at,
        snooze_changed_at=old.snooze_changed_at,
        day_buckets=old.days,
        clamped_events=old.clamped_events,
        last_clamped_at=old.last_clamped_at,
        recent=pack_fingerprints(old.recent),
        changed_at=old.changed_at,
        history=old.history,
        offsets=old.offsets,
        policy_revision=old.policy_revision,
        parked=old.parked,
    )
