"""The device state machine: facts come in with events, decisions are made on the clock.

`apply` folds one event into a device's facts (last contact, new data, 100 %, figures,
daily windows). It decides nothing, except for deactivation, which resolves open alerts
at once. `advance` decides: it turns the facts and the clock into alert levels and emits
a `Transition` for every change. The worker calls `advance` on each tick for the devices
whose `next_deadline` has come, and a device whose facts changed is due at the next tick.

Why decide only on the clock: the outcome then depends on *which* events arrived before
a tick, never on their order within it, so reordered, duplicated or replayed telemetry
gives the same alerts with the same ids, and a worker that crashed and re-read its log
decides exactly what it decided before.
"""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

import msgspec
from msgspec.structs import replace
from xxhash import xxh32_intdigest

from schemas.models import BackupProgress, DeviceCommand, Heartbeat, InputRecord
from schemas.types import MAX_COUNT, Level
from streams.fastpath import prefetch, ring_holds, shared, shared_day, shared_ids, utc_day
from streams.kinds import DESTINATION_KINDS, DEVICE_KINDS, RANK, Kind, any_open, open_slots
from streams.policy import Policy, Thresholds
from streams.state import (
    DayBucket,
    DestinationState,
    DeviceState,
    HeartbeatReport,
    HistoryEntry,
    ProgressReport,
    Slot,
    day_number,
    ok_slot,
    window_start_of,
)
from streams.transitions import Transition
from streams.users import NO_USER_FACTS, UserTimeline

__all__ = [
    "HISTORY_LENGTH",
    "RECENT_EVENTS",
    "WINDOW_DAYS",
    "advance",
    "apply",
    "fingerprint",
    "level_for",
    "next_deadline",
    "record_fingerprint",
    "window_as_of",
]

WINDOW_DAYS = 14
# How many event fingerprints a device keeps to drop a duplicate sent twice (a
# producer retry lands within a few records of the original); replays of the log are
# recognized by offset instead.
RECENT_EVENTS = 16
HISTORY_LENGTH = 8

_DUE_NOW = datetime(2000, 1, 1, tzinfo=UTC)
_fingerprint_encoder = msgspec.msgpack.Encoder()


# A worker fingerprints telemetry by its record's bytes, which is cheaper than encoding
# the event again; with xxHash (XXH32), which takes less than half CRC-32's time and
# gives 32-bit values, as `recent` keeps them.
record_fingerprint = xxh32_intdigest


def fingerprint(event: InputRecord) -> int:
    """A stable 32-bit digest of an event (stable across processes, unlike `hash`), for
    callers without the record's bytes (see `record_fingerprint`)."""
    if isinstance(event, DeviceCommand):
        return zlib.crc32(event.command_id.encode())
    if isinstance(event, Heartbeat) and event.registered_at is None:
        # Encoded as it was before `registered_at` existed, so that a heartbeat without
        # one keeps the fingerprint it had (states on disk hold them).
        return zlib.crc32(_fingerprint_encoder.encode(_without_registration(event)))
    return zlib.crc32(_fingerprint_encoder.encode(event))


_HEARTBEAT_FIELDS_BEFORE_REGISTRATION = tuple(
    name for name in Heartbeat.__struct_fields__ if name != "registered_at"
)


def _without_registration(event: Heartbeat) -> dict[str, Any]:
    fields: dict[str, Any] = {"schema": "heartbeat/1"}
    for name in _HEARTBEAT_FIELDS_BEFORE_REGISTRATION:
        fields[name] = getattr(event, name)
    return fields


def level_for(elapsed: timedelta, thresholds: Thresholds) -> Level:
    """The level a condition has after lasting `elapsed`; a threshold counts as reached
    at exactly its value (3 days of silence is a warning, 3 days less a second is not)."""
    if elapsed >= thresholds.critical:
        return "critical"
    if elapsed >= thresholds.warning:
        return "warning"
    return "ok"


_bucket_day = attrgetter("day")
_destination_key = attrgetter("destination_id")


def _add_to_window(
    days: tuple[DayBucket, ...],
    at: datetime,
    now: datetime,
    bytes_sent: int = 0,
    completions: int = 0,
    locked: int = 0,
    permission_denied: int = 0,
    vanished: int = 0,
    changed: int = 0,
) -> tuple[DayBucket, ...]:
    day = day_number(at)
    oldest = day_number(now) - WINDOW_DAYS + 1
    if day < oldest:
        return days
    kept: list[DayBucket] = []
    found = False
    for bucket in days:
        if bucket.day < oldest:
            continue
        if bucket.day == day:
            bucket = _bounded(
                DayBucket(
                    day,
                    bucket.heartbeats,
                    bucket.bytes_sent + bytes_sent,
                    bucket.completions + completions,
                    bucket.locked + locked,
                    bucket.permission_denied + permission_denied,
                    bucket.vanished + vanished,
                    bucket.changed + changed,
                )
            )
            found = True
        kept.append(bucket)
    if not found:
        kept.append(
            DayBucket(
                day,
                0,
                bytes_sent,
                completions,
                locked,
                permission_denied,
                vanished,
                changed,
            )
        )
        kept.sort(key=_bucket_day)
    return tuple(kept)


def _bounded(bucket: DayBucket) -> DayBucket:
    """`bucket` with each sum held at MAX_COUNT. Each report's figures are at most that,
    but their sums could pass the 64-bit integers a state is stored with, and a state
    that cannot be stored would stop the worker on every replay of the record."""
    # A bitwise or of non-negative ints passes MAX_COUNT (2**53 - 1) exactly when one
    # of them does: one test for the five sums, on every progress report.
    if (
        bucket.bytes_sent
        | bucket.locked
        | bucket.permission_denied
        | bucket.vanished
        | bucket.changed
    ) <= MAX_COUNT:
        return bucket
    return DayBucket(
        bucket.day,
        bucket.heartbeats,
        min(bucket.bytes_sent, MAX_COUNT),
        bucket.completions,
        min(bucket.locked, MAX_COUNT),
        min(bucket.permission_denied, MAX_COUNT),
        min(bucket.vanished, MAX_COUNT),
        min(bucket.changed, MAX_COUNT),
    )


# A device's daily window as stored: (day_buckets, last_day_heartbeats,
# earlier_heartbeats, window_start).
_Window = tuple[tuple[DayBucket, ...], int, tuple[int, ...], int]


def _rolled(state: DeviceState, oldest: int) -> _Window:
    """The state's window without the days before `oldest`."""
    buckets, counted = state.day_buckets, state.last_day_heartbeats
    earlier, window_start = state.earlier_heartbeats, state.window_start
    if window_start >= oldest or not window_start:
        return buckets, counted, earlier, window_start
    return _window_since(state, tuple(b for b in buckets if b.day >= oldest), oldest)


def _window_since(state: DeviceState, buckets: tuple[DayBucket, ...], oldest: int) -> _Window:
    """The state's window once `buckets` (already without the days before `oldest`)
    replace its own: the heartbeats counted apart roll off with their days."""
    last_heartbeat = state.last_heartbeat
    newest_day = day_number(last_heartbeat) if last_heartbeat is not None else -1
    counted = state.last_day_heartbeats if newest_day >= oldest else 0
    earlier = _earlier_since(state.earlier_heartbeats, oldest)
    return buckets, counted, earlier, window_start_of(buckets, earlier, newest_day, counted)


# The `recent` ring holds RECENT_EVENTS 4-byte fingerprints.
_RING_BYTES = RECENT_EVENTS * 4


def _ring_add(recent: bytes, key: bytes) -> bytes:
    return recent + key if len(recent) < _RING_BYTES else recent[4:] + key


_pack_fp = struct.Struct("<I").pack


def _clamped(at: datetime, now: datetime, policy: Policy) -> tuple[datetime, bool]:
    """An event's time, clamped to the clock plus the allowed skew (a device with a
    wrong clock must not move time), and whether it was; a clamped event is counted in
    the state."""
    latest = now + policy.max_skew
    return (latest, True) if at > latest else (at, False)


def _new_device(event: Heartbeat | BackupProgress, at: datetime, policy: Policy) -> DeviceState:
    return DeviceState(
        device_id=event.device_id,
        user_id=event.user_id,
        org_id=event.org_id,
        first_seen=at,
        # Born under the org's current policy: its first decisions are not a change.
        policy_revision=policy.revision,
    )


def apply(
    state: DeviceState | None,
    event: InputRecord,
    now: datetime,
    policy: Policy,
    fp: int | None = None,
) -> tuple[DeviceState | None, list[Transition]]:
    """Fold one event into a device's state.

    Returns the new state (the same object when the event changed nothing: a duplicate)
    and the transitions decided at once (only deactivation decides at once; everything
    else is decided by `advance`). A command for a device that has not reported yet
    makes a state that is only known (`reporting` False): it holds the command's effect,
    and the device's first report is born with it.
    `fp` is the event's fingerprint when the caller has it cheaper than `fingerprint`
    (`record_fingerprint` of the record's bytes); duplicates are recognized by its low 32 bits.
    """
    if fp is None:
        fp = fingerprint(event)
    key = _pack_fp(fp & 0xFFFFFFFF)
    if state is not None:
        prefetch(state)
        found = state.recent.find(key)
        if found >= 0 and ring_holds(state.recent, key, found):
            return state, []
    if state is not None and not state.reporting:
        return _apply_to_known(state, event, fp, key, now, policy)
    if isinstance(event, Heartbeat):
        return _apply_heartbeat(state, event, fp, key, now, policy), []
    if isinstance(event, BackupProgress):
        return _apply_progress(state, event, fp, key, now, policy), []
    if state is None:
        state = DeviceState(
            device_id=event.device_id,
            user_id="",
            org_id="",
            first_seen=min(event.issued_at, now + policy.max_skew),
            reporting=False,
        )
    return _apply_command(state, event, key, now, policy)


def _apply_to_known(
    known: DeviceState,
    event: InputRecord,
    fp: int,
    key: bytes,
    now: datetime,
    policy: Policy,
) -> tuple[DeviceState, list[Transition]]:
    """An event for a device known only from commands: another command, or its first
    report, which makes the device with what the commands made of it."""
    if isinstance(event, DeviceCommand):
        return _apply_command(known, event, key, now, policy)
    if isinstance(event, Heartbeat):
        born = _apply_heartbeat(None, event, fp, key, now, policy)
    else:
        born = _apply_progress(None, event, fp, key, now, policy)
    return replace(
        born,
        deactivated=known.deactivated,
        snoozed_until=known.snoozed_until,
        replaced_by=known.replaced_by,
        user_left_org=known.user_left_org,
        activation_changed_at=known.activation_changed_at,
        snooze_changed_at=known.snooze_changed_at,
        recent=_ring_add(known.recent, key),
        offsets=known.offsets,
        parked=known.parked,
    ), []


def _apply_heartbeat(
    state: DeviceState | None,
    event: Heartbeat,
    fp: int,
    key: bytes,
    now: datetime,
    policy: Policy,
) -> DeviceState:
    at, clamped = _clamped(event.event_time, now, policy)
    day = utc_day(at)
    oldest = utc_day(now) - WINDOW_DAYS + 1
    reachable = event.reachable_destinations
    if state is None:
        return _born_of_heartbeat(event, fp, key, at, day, day >= oldest, clamped, now, policy)
    last_connected, destinations, reached = (
        state.last_connected,
        state.destinations,
        state.reached,
    )
    if reachable:
        if (
            len(reached) == 1
            and len(reachable) == 1
            and reached[0] == reachable[0]
            and last_connected is not None
            and at >= last_connected
        ):
            # The common case: the destination of the device's newest connection,
            # reached again, later (or at once). Its last contact is the device's (see
            # `DeviceState.reached`), and its first_seen is before that.
            last_connected = at
        else:
            destinations, reached, last_connected = _reach(
                destinations, reached, last_connected, reachable, at
            )
    report = state.heartbeat
    heartbeat_at, heartbeat_fp = state.last_heartbeat, state.heartbeat_fp
    user_id, org_id = state.user_id, state.org_id
    # The device's first_seen is never later than its newest heartbeat: as above, only
    # an older event is compared with it.
    first_seen = state.first_seen
    if (heartbeat_at is None or at < heartbeat_at) and at < first_seen:
        first_seen = at
    previous_at = heartbeat_at
    # The newest heartbeat's figures win (ties: the larger fingerprint).
    newest = heartbeat_at is None or at > heartbeat_at or (at == heartbeat_at and fp > heartbeat_fp)
    if newest:
        heartbeat_at, heartbeat_fp = at, fp
        if report is None or not (
            report.hostname == event.hostname
            and report.os == event.os
            and report.app_version == event.app_version
            and report.service_state == event.service_state
            and report.backup_paused == event.backup_paused
            and report.cpu_limit_percent == event.cpu_limit_percent
            and report.network_limit_kbps == event.network_limit_kbps
            and report.connect_error == event.connect_error
            and report.reachable == reachable
        ):
            report = _heartbeat_report(event)
        if event.user_id != user_id:
            user_id = event.user_id
        if event.org_id != org_id:
            org_id = shared(event.org_id)
    # Heartbeats are counted per UTC day apart from the buckets: those of the newest
    # heartbeat's day in `last_day_heartbeats`, those of earlier days in
    # `earlier_heartbeats` (see `DeviceState.earlier_heartbeats`).
    buckets, counted = state.day_buckets, state.last_day_heartbeats
    earlier, window_start = state.earlier_heartbeats, state.window_start
    if previous_at is None:
        previous_day = -1
    elif at is previous_at:
        previous_day = day
    else:
        previous_day = utc_day(previous_at)
    if counted and day == previous_day and window_start >= oldest:
        # Another heartbeat on the newest heartbeat's day, nothing to roll off: the
        # common case.
        counted += 1
    elif counted and day > previous_day and window_start >= oldest:
        # The first heartbeat of a later day, nothing to roll off: the count so far
        # joins the earlier days'. (The window still starts where it did: on or before
        # the previous day.)
        earlier = earlier + (shared_day(previous_day), counted)
        counted = 1
    else:
        buckets, counted, earlier, _ = _rolled(state, oldest)
        earlier, counted = _count_heartbeat(earlier, counted, previous_day, day, oldest)
        window_start = window_start_of(buckets, earlier, max(day, previous_day), counted)
    updated = replace(
        state,
        user_id=user_id,
        org_id=org_id,
        first_seen=first_seen,
        heartbeat=report,
        last_heartbeat=heartbeat_at,
        heartbeat_fp=heartbeat_fp,
        last_connected=last_connected,
        destinations=destinations,
        day_buckets=buckets,
        last_day_heartbeats=counted,
        earlier_heartbeats=earlier,
        recent=_ring_add(state.recent, key),
        changed_at=state.changed_at or now,
    )
    registered_at = event.registered_at
    if registered_at is not None and registered_at != state.registered_at and newest:
        # A registration time the newest heartbeat states (a console's creation date).
        updated = replace(updated, registered_at=registered_at)
    if (
        window_start == state.window_start
        and reached is state.reached
        and not clamped
        and org_id is state.org_id
    ):
        return updated
    # A day rolled off, the window's first day, other destinations reached, a clamped
    # time, or another org: a second copy (see `streams.fastpath` on copies).
    return replace(
        updated,
        window_start=window_start,
        reached=reached,
        clamped_events=state.clamped_events + 1 if clamped else state.clamped_events,
        last_clamped_at=now if clamped else state.last_clamped_at,
        # A device that moved is under its new org's policy (the one passed in) from
        # now on: its next decisions follow from the move, not from a policy change.
        policy_revision=state.policy_revision if org_id is state.org_id else policy.revision,
    )


def _count_heartbeat(
    earlier: tuple[int, ...], counted: int, previous_day: int, day: int, oldest: int
) -> tuple[tuple[int, ...], int]:
    """(earlier_heartbeats, last_day_heartbeats), both already without the days before
    `oldest`, once a heartbeat of `day` is counted, the newest heartbeat before it being
    of `previous_day` (-1: none): the cases other than the two common ones (days rolled
    off, a device's first heartbeat, a late heartbeat of an earlier day, a day out of
    the window)."""
    if day < oldest:
        return earlier, counted
    if day == previous_day:
        return earlier, counted + 1
    if day > previous_day:
        # The newest heartbeat now: its previous day's count joins the earlier days'.
        if counted:
            earlier = earlier + (shared_day(previous_day), counted)
        return earlier, 1
    return _count_earlier(earlier, day), counted


def _count_earlier(earlier: tuple[int, ...], day: int) -> tuple[int, ...]:
    """`earlier` (day, count pairs, oldest first) with one more heartbeat on `day`."""
    for i in range(0, len(earlier), 2):
        if earlier[i] == day:
            return (*earlier[: i + 1], earlier[i + 1] + 1, *earlier[i + 2 :])
        if earlier[i] > day:
            return (*earlier[:i], shared_day(day), 1, *earlier[i:])
    return (*earlier, shared_day(day), 1)


def _earlier_since(earlier: tuple[int, ...], oldest: int) -> tuple[int, ...]:
    """`earlier` without the days before `oldest`."""
    for i in range(0, len(earlier), 2):
        if earlier[i] >= oldest:
            return earlier[i:] if i else earlier
    return ()


def _heartbeat_report(event: Heartbeat) -> HeartbeatReport:
    return HeartbeatReport(
        event.hostname,
        shared(event.os),
        shared(event.app_version),
        event.service_state,
        event.backup_paused,
        event.cpu_limit_percent,
        event.network_limit_kbps,
        shared_ids(event.reachable_destinations),
        event.connect_error,
    )


def _born_of_heartbeat(
    event: Heartbeat,
    fp: int,
    key: bytes,
    at: datetime,
    day: int,
    in_window: bool,
    clamped: bool,
    now: datetime,
    policy: Policy,
) -> DeviceState:
    """A device first seen by a heartbeat (what folding it into an empty state gives)."""
    report = _heartbeat_report(event)
    reachable = report.reachable
    reached = reachable if len(reachable) < 2 else shared_ids(sorted(set(reachable)))
    return DeviceState(
        event.device_id,
        event.user_id,
        shared(event.org_id),
        at,
        report,
        at,
        fp,
        at if reachable else None,
        # Reached by this heartbeat, the device's newest connection: their last contact
        # is the device's.
        (DestinationState(reached[0], at),)
        if len(reached) == 1
        else tuple(DestinationState(destination_id, at) for destination_id in reached),
        # The heartbeat is counted in `last_day_heartbeats`.
        last_day_heartbeats=1 if in_window else 0,
        window_start=shared_day(day) if in_window else 0,
        clamped_events=1 if clamped else 0,
        last_clamped_at=now if clamped else None,
        recent=key,
        changed_at=now,
        # Born under the org's current policy: its first decisions are not a change.
        policy_revision=policy.revision,
        reached=reached,
        registered_at=event.registered_at,
    )


def _reach(
    destinations: tuple[DestinationState, ...],
    reached: tuple[str, ...],
    last_connected: datetime | None,
    destination_ids: list[str] | tuple[str, ...],
    at: datetime,
) -> tuple[tuple[DestinationState, ...], tuple[str, ...], datetime]:
    """(destinations, reached, the device's last_connected) once `destination_ids` are
    reached at `at`, new ones added.

    The result depends only on each destination's last contact, never on the order the
    contacts arrived in: the destinations last reached at the device's newest contact are
    `reached` and write no time of their own; every other one keeps its own.
    """
    if len(destination_ids) == 1 and last_connected is not None and at > last_connected:
        # One known destination reached after every contact before, the common case of
        # a device that alternates between two destinations: it alone is reached at the
        # newest contact, and those reached at the one before keep that as their own.
        destination_id = destination_ids[0]
        updated: list[DestinationState] = []
        known_one = False
        for dest in destinations:
            if dest.destination_id == destination_id:
                known_one = True
                if dest.own_last_connected is not None or dest.first_seen > at:
                    dest = replace(
                        dest, own_last_connected=None, first_seen=min(dest.first_seen, at)
                    )
            elif dest.destination_id in reached:
                dest = replace(dest, own_last_connected=last_connected)
            updated.append(dest)
        if known_one:
            return tuple(updated), shared_ids([destination_id]), at
    contact: dict[str, datetime | None] = {}
    known: dict[str, DestinationState] = {}
    for dest in destinations:
        destination_id = dest.destination_id
        known[destination_id] = dest
        contact[destination_id] = (
            last_connected if destination_id in reached else dest.own_last_connected
        )
    for destination_id in destination_ids:
        dest_or_none = known.get(destination_id)
        if dest_or_none is None:
            known[destination_id] = DestinationState(shared(destination_id), first_seen=at)
            contact[destination_id] = at
            continue
        if dest_or_none.first_seen > at:
            known[destination_id] = replace(dest_or_none, first_seen=at)
        before = contact[destination_id]
        if before is None or at > before:
            contact[destination_id] = at
    newest = at if last_connected is None or at > last_connected else last_connected
    now_reached = shared_ids(sorted(i for i, t in contact.items() if t == newest))
    updated = []
    for destination_id in sorted(known):
        dest = known[destination_id]
        own = None if destination_id in now_reached else contact[destination_id]
        if dest.own_last_connected != own:
            dest = replace(dest, own_last_connected=own)
        updated.append(dest)
    return tuple(updated), now_reached, newest


def _apply_progress(
    state: DeviceState | None,
    event: BackupProgress,
    fp: int,
    key: bytes,
    now: datetime,
    policy: Policy,
) -> DeviceState:
    at, clamped = _clamped(event.event_time, now, policy)
    if state is None:
        state = _new_device(event, at, policy)
    destinations = state.destinations
    destination_id = event.destination_id
    if len(destinations) == 1 and destinations[0].destination_id == destination_id:
        # The common case: the one destination the device has.
        index, dest = 0, destinations[0]
    else:
        index = -1
        for i, d in enumerate(destinations):
            if d.destination_id == destination_id:
                index = i
                dest = d
                break
        else:
            dest = DestinationState(shared(destination_id), first_seen=at)
    errors = event.file_errors
    percent = event.percent_complete
    complete = percent >= 100
    bytes_sent = event.bytes_sent
    session_state = event.session_state
    # Sending (or finishing) means the device reached this destination.
    reached = bytes_sent > 0 or session_state == "sending" or session_state == "completed"
    report = dest.report
    # The newest report's figures win; ties go to the larger fingerprint, so the outcome
    # does not depend on arrival order.
    if report is None or at > report.at or (at == report.at and fp > report.fp):
        report = ProgressReport(
            at,
            fp,
            percent,
            session_state,
            event.selected_files,
            event.selected_bytes,
            event.todo_files,
            event.todo_bytes,
            errors.locked,
            errors.permission_denied,
            errors.vanished,
            errors.changed_during_backup,
            event.cpu_throttled,
            event.network_throttled,
            event.backup_interval_s,
        )
    last_activity = dest.last_activity
    if last_activity is None or at > last_activity:
        last_activity = at
    last_new_data = dest.last_new_data
    if bytes_sent > 0 and (last_new_data is None or at > last_new_data):
        last_new_data = at
    last_completed = dest.last_completed
    if complete and (last_completed is None or at > last_completed):
        last_completed = at
    # The destination's alert slots (and any field after them) are kept as they are.
    dest = replace(
        dest,
        first_seen=dest.first_seen if dest.first_seen <= at else at,
        last_activity=last_activity,
        last_new_data=last_new_data,
        last_completed=last_completed,
        report=report,
    )
    if index < 0:
        destinations = (
            tuple(sorted((*destinations, dest), key=_destination_key)) if destinations else (dest,)
        )
    elif len(destinations) == 1:
        destinations = (dest,)
    else:
        destinations = (*destinations[:index], dest, *destinations[index + 1 :])
    completions = 1 if complete and session_state == "completed" else 0
    locked, denied, vanished, changed = (
        errors.locked,
        errors.permission_denied,
        errors.vanished,
        errors.changed_during_backup,
    )
    days, counted, earlier = state.day_buckets, state.last_day_heartbeats, state.earlier_heartbeats
    day = utc_day(at)
    oldest = utc_day(now) - WINDOW_DAYS + 1
    window_start = state.window_start
    newest_day = days[-1].day if days else -1
    if day == newest_day and window_start >= oldest:
        # Today's bucket is the newest and nothing has rolled off: the common case.
        b = days[-1]
        days = days[:-1] + (
            _bounded(
                DayBucket(
                    b.day,
                    b.heartbeats,
                    b.bytes_sent + bytes_sent,
                    b.completions + completions,
                    b.locked + locked,
                    b.permission_denied + denied,
                    b.vanished + vanished,
                    b.changed + changed,
                )
            ),
        )
    elif day > newest_day and day >= oldest and (window_start >= oldest or not window_start):
        # The device's first report of a later day, nothing rolling off (or a window to
        # start): a bucket at the end.
        days = days + (
            DayBucket(
                shared_day(day), 0, bytes_sent, completions, locked, denied, vanished, changed
            ),
        )
        if not window_start or day < window_start:
            window_start = days[-1].day
    elif day >= oldest:
        # Days roll off, or a report of an earlier day.
        days, counted, earlier, window_start = _window_since(
            state,
            _add_to_window(
                days, at, now, bytes_sent, completions, locked, denied, vanished, changed
            ),
            oldest,
        )
    last_connected, reached_ids = state.last_connected, state.reached
    if reached:
        if last_connected is None and not reached_ids:
            # The device's first contact with any destination.
            last_connected, reached_ids = at, shared_ids([destination_id])
        elif (
            len(reached_ids) == 1
            and reached_ids[0] == destination_id
            and last_connected is not None
            and at >= last_connected
        ):
            # The destination of the device's newest connection, reached again, later
            # (or at once).
            last_connected = at
        else:
            destinations, reached_ids, last_connected = _reach(
                destinations, reached_ids, last_connected, (destination_id,), at
            )
    return replace(
        state,
        reached=reached_ids,
        first_seen=state.first_seen if state.first_seen <= at else at,
        last_connected=last_connected,
        destinations=destinations,
        day_buckets=days,
        last_day_heartbeats=counted,
        earlier_heartbeats=earlier,
        window_start=window_start,
        recent=_ring_add(state.recent, key),
        changed_at=state.changed_at or now,
        clamped_events=state.clamped_events + 1 if clamped else state.clamped_events,
        last_clamped_at=now if clamped else state.last_clamped_at,
    )


def _apply_command(
    state: DeviceState, event: DeviceCommand, key: bytes, now: datetime, policy: Policy
) -> tuple[DeviceState, list[Transition]]:
    at = min(event.issued_at, now + policy.max_skew)
    recent = _ring_add(state.recent, key)
    action = event.action
    if action in ("deactivate", "reactivate"):
        if state.activation_changed_at is not None and at < state.activation_changed_at:
            return replace(state, recent=recent), []
        state = replace(state, activation_changed_at=at, recent=recent)
        if action == "reactivate":
            if not state.deactivated:
                return state, []
            return replace(state, deactivated=False, changed_at=state.changed_at or now), []
        if state.deactivated:
            return state, []
        return _resolve_all(replace(state, deactivated=True, changed_at=None), now, "deactivated")
    if action in ("snooze", "unsnooze"):
        if state.snooze_changed_at is not None and at < state.snooze_changed_at:
            return replace(state, recent=recent), []
        until = event.snooze_until if action == "snooze" else None
        if until is not None and until <= now:
            until = None
        return replace(
            state,
            snooze_changed_at=at,
            snoozed_until=until,
            recent=recent,
            changed_at=state.changed_at or now,
        ), []
    if action == "set_user":
        return replace(state, user_id=event.user_id, user_left_org=False, recent=recent), []
    if action == "replaced":
        return replace(state, replaced_by=event.replaced_by, recent=recent), []
    return replace(state, user_left_org=True, recent=recent), []


def _resolve_all(
    state: DeviceState, now: datetime, reason: str
) -> tuple[DeviceState, list[Transition]]:
    transitions = [
        _resolution(state, s.kind.name, s.destination_id, s.slot, now, reason)
        for s in open_slots(state)
    ]
    destinations = tuple(
        replace(dest, **{k.name: _resolved(getattr(dest, k.name)) for k in DESTINATION_KINDS})
        for dest in state.destinations
    )
    state = replace(
        state,
        **{k.name: _resolved(getattr(state, k.name)) for k in DEVICE_KINDS},
        destinations=destinations,
        history=_log(state.history, transitions),
    )
    return state, transitions


def _resolved(slot: Slot) -> Slot:
    """`slot` once resolved (it is, or goes back to, ok)."""
    return slot if slot.level == "ok" else ok_slot(slot.transitions + 1)


def _resolution(
    state: DeviceState,
    kind: str,
    destination_id: str | None,
    slot: Slot,
    now: datetime,
    reason: str,
) -> Transition:
    episode = slot.episode_start or now
    return Transition(
        device_id=state.device_id,
        user_id=state.user_id,
        org_id=state.org_id,
        hostname=state.hostname,
        kind=kind,  # type: ignore[arg-type]
        destination_id=destination_id,
        from_level=slot.level,
        to_level="ok",
        reason=reason,
        episode_start=episode,
        decided_at=now,
        observed_s=(now - episode).total_seconds(),
        threshold_s=None,
        sequence=slot.transitions,
    )


def _log(
    history: tuple[HistoryEntry, ...], transitions: list[Transition]
) -> tuple[HistoryEntry, ...]:
    entries = [
        HistoryEntry(t.decided_at, t.kind, t.destination_id, t.from_level, t.to_level, t.reason)
        for t in transitions
        if t.from_level != t.to_level
    ]
    if not entries:
        return history
    return (*history, *entries)[-HISTORY_LENGTH:]


def window_as_of(state: DeviceState, now: datetime) -> tuple[DayBucket, ...]:
    """The device's daily window as of `now`: its last WINDOW_DAYS UTC days, oldest
    first. The stored window rolls only when an event or a decision touches the
    device, so a device long silent still holds the days it had when it went quiet."""
    oldest = day_number(now) - WINDOW_DAYS + 1
    days = state.days
    if not days or days[0].day >= oldest:
        return days
    return tuple(day for day in days if day.day >= oldest)


class _Decider:
    """Decides each slot of one device at one instant, collecting transitions."""

    __slots__ = ("now", "policy", "reason", "state", "transitions")

    def __init__(self, state: DeviceState, now: datetime, policy: Policy, reason: str | None):
        self.state = state
        self.now = now
        self.policy = policy
        self.reason = reason
        self.transitions: list[Transition] = []

    def decide_all(
        self, holder: DeviceState | DestinationState, kinds: tuple[Kind, ...], dest: str | None
    ) -> dict[str, Slot]:
        """The slots of `holder` (a device, or one destination with id `dest`) of `kinds`
        that change, by kind. A kind gated by another not ok is not decided: it holds."""
        changed: dict[str, Slot] = {}
        for kind in kinds:
            name = kind.name
            gate = kind.gated_by
            if gate is not None and changed.get(gate, getattr(holder, gate)).level != "ok":
                continue
            slot = getattr(holder, name)
            decided = self.decide(
                slot, name, dest, kind.reference(holder), self.policy.thresholds(name)
            )
            if decided is not slot:
                changed[name] = decided
        return changed

    def decide(
        self,
        slot: Slot,
        kind: str,
        destination_id: str | None,
        reference: datetime,
        thresholds: Thresholds,
    ) -> Slot:
        now = self.now
        elapsed = now - reference
        level = level_for(elapsed, thresholds)
        if level == slot.level:
            reminder = self.policy.reminder_interval
            if (
                level == "ok"
                or reminder is None
                or slot.notified_at is None
                or now < slot.notified_at + reminder
            ):
                return slot
            self._emit(
                slot,
                level,
                kind,
                destination_id,
                slot.episode_start or reference,
                elapsed,
                thresholds,
                "reminder",
            )
            return Slot(level, slot.episode_start, now, slot.transitions)
        episode = slot.episode_start if slot.level != "ok" and slot.episode_start else reference
        if self.reason is not None:
            reason = self.reason
        else:
            reason = "threshold" if RANK[level] > RANK[slot.level] else "new_event"
        self._emit(slot, level, kind, destination_id, episode, elapsed, thresholds, reason)
        count = slot.transitions + 1
        return ok_slot(count) if level == "ok" else Slot(level, episode, now, count)

    def _emit(
        self,
        slot: Slot,
        level: Level,
        kind: str,
        destination_id: str | None,
        episode: datetime,
        elapsed: timedelta,
        thresholds: Thresholds,
        reason: str,
    ) -> None:
        threshold: float | None = None
        if level == "critical":
            threshold = thresholds.critical.total_seconds()
        elif level == "warning":
            threshold = thresholds.warning.total_seconds()
        state = self.state
        self.transitions.append(
            Transition(
                device_id=state.device_id,
                user_id=state.user_id,
                org_id=state.org_id,
                hostname=state.hostname,
                kind=kind,  # type: ignore[arg-type]
                destination_id=destination_id,
                from_level=slot.level,
                to_level=level,
                reason=reason,
                episode_start=episode,
                decided_at=self.now,
                observed_s=elapsed.total_seconds(),
                threshold_s=threshold,
                sequence=slot.transitions,
            )
        )


def advance(
    state: DeviceState,
    now: datetime,
    policy: Policy,
    reason: str | None = None,
    user: UserTimeline = NO_USER_FACTS,
) -> tuple[DeviceState, list[Transition]]:
    """Decide the device's alert levels at `now`; emit a transition for each change.

    `reason` overrides the reason the transitions carry (e.g. "policy_changed").
    `user` holds the facts about the device's current user: those holding at `now`
    decide alongside the device's own deactivation and snooze.
    """
    if not state.reporting:
        return state, []
    window = _rolled(state, day_number(now) - WINDOW_DAYS + 1)
    hold = user.hold_at(now) if user.periods else None
    held_before = state.user_hold
    if state.user_revision != user.revision or hold != held_before:
        state = replace(
            state,
            user_revision=user.revision,
            user_hold=hold,
            user_next_change=user.next_change_after(now) if user.periods else None,
        )
    elif state.user_next_change is not None and state.user_next_change <= now:
        state = replace(state, user_next_change=user.next_change_after(now))
    policy_changed = state.policy_revision != policy.revision
    if state.deactivated or (hold is not None and hold.kind == "deactivated"):
        # Off the watch: a policy change has nothing to decide on, and is taken as is.
        if policy_changed:
            state = replace(state, policy_revision=policy.revision)
        transitions: list[Transition] = []
        if not state.deactivated and any_open(state):
            # The user left the organization: their devices' open alerts close now.
            state, transitions = _resolve_all(state, now, "user_deactivated")
        return _settle(state, window, state.snoozed_until), transitions
    snoozed_until = state.snoozed_until
    if (snoozed_until is not None and now < snoozed_until) or hold is not None:
        # Snoozed, or the user on leave: nothing is decided. A policy change waits
        # (the revision is not taken), so that what it changes surfaces as a policy
        # change when the snooze or leave ends, not as their end.
        if snoozed_until is not None and now >= snoozed_until:
            snoozed_until = None
        return _settle(state, window, snoozed_until), []
    if policy_changed:
        reason = reason or "policy_changed"
        state = replace(state, policy_revision=policy.revision)
    if snoozed_until is not None:
        snoozed_until = None
        reason = reason or "snooze_ended"
    if held_before is not None and held_before.kind == "leave":
        reason = reason or "leave_ended"
    decider = _Decider(state, now, policy, reason)
    device_slots = decider.decide_all(state, DEVICE_KINDS, None)
    destinations = []
    dest_changed = False
    for dest in state.destinations:
        decided = decider.decide_all(dest, DESTINATION_KINDS, dest.destination_id)
        if decided:
            dest = replace(dest, **decided)
            dest_changed = True
        destinations.append(dest)
    transitions = decider.transitions
    days, counted, earlier, window_start = window
    # Rolling moves the window's first day, so an unmoved first day is an unrolled window.
    rolled = window_start != state.window_start
    if not transitions and not rolled and state.changed_at is None:
        if snoozed_until == state.snoozed_until:
            return state, []
    return replace(
        state,
        **device_slots,
        destinations=tuple(destinations) if dest_changed else state.destinations,
        day_buckets=days,
        last_day_heartbeats=counted,
        earlier_heartbeats=earlier,
        window_start=window_start,
        snoozed_until=snoozed_until,
        changed_at=None,
        history=_log(state.history, transitions),
    ), transitions


def _settle(state: DeviceState, window: _Window, snoozed_until: datetime | None) -> DeviceState:
    days, counted, earlier, window_start = window
    if (
        window_start == state.window_start
        and state.changed_at is None
        and snoozed_until == state.snoozed_until
    ):
        return state
    return replace(
        state,
        day_buckets=days,
        last_day_heartbeats=counted,
        earlier_heartbeats=earlier,
        window_start=window_start,
        changed_at=None,
        snoozed_until=snoozed_until,
    )


def _slot_deadlines(
    holder: DeviceState | DestinationState,
    kinds: tuple[Kind, ...],
    policy: Policy,
    candidates: list[datetime],
) -> None:
    """Add to `candidates` the next instant each slot of `holder` of `kinds` could
    change (a kind gated by one not ok cannot change before that one does)."""
    for kind in kinds:
        gate = kind.gated_by
        if gate is not None and getattr(holder, gate).level != "ok":
            continue
        name = kind.name
        slot = getattr(holder, name)
        thresholds = getattr(policy, name)
        if slot.level == "ok":
            # Nearly every slot: it can only open, at the warning threshold.
            candidates.append(kind.reference(holder) + thresholds.warning)
            continue
        deadline = _slot_deadline(slot, kind.reference(holder), thresholds, policy)
        if deadline is not None:
            candidates.append(deadline)


def _slot_deadline(
    slot: Slot, reference: datetime, thresholds: Thresholds, policy: Policy
) -> datetime | None:
    if slot.level == "ok":
        return reference + thresholds.warning
    if slot.level == "warning":
        next_change = reference + thresholds.critical
    else:
        next_change = None
    if policy.reminder_interval is not None and slot.notified_at is not None:
        reminder = slot.notified_at + policy.reminder_interval
        if next_change is None or reminder < next_change:
            return reminder
    return next_change


def next_deadline(
    state: DeviceState, policy: Policy, user: UserTimeline = NO_USER_FACTS
) -> datetime | None:
    """The earliest instant at which `advance` could change the device with no new event.

    A device whose facts changed since its last decision is due at once (`changed_at`),
    as is one whose user's facts changed (another revision of the user's record).
    None: nothing can change without an event (a deactivated device, a device known
    only from commands).
    """
    if not state.reporting:
        return None
    if state.user_revision != user.revision:
        return _DUE_NOW
    user_change = state.user_next_change
    hold = state.user_hold
    if state.deactivated or (hold is not None and hold.kind == "deactivated"):
        if state.policy_revision != policy.revision:
            return _DUE_NOW
        return _earliest(state.changed_at, user_change)
    if (state.snoozed_until is not None) or hold is not None:
        # Held: the next decision that can change anything is the snooze's or the
        # leave's end (a change of the user's facts), or new facts from the device.
        return _earliest(_earliest(state.changed_at, state.snoozed_until), user_change)
    if state.policy_revision != policy.revision:
        # Decided under another version of the org's policy: due at once.
        return _DUE_NOW
    candidates: list[datetime] = []
    if state.changed_at is not None:
        candidates.append(state.changed_at)
    if user_change is not None:
        candidates.append(user_change)
    _slot_deadlines(state, DEVICE_KINDS, policy, candidates)
    for dest in state.destinations:
        _slot_deadlines(dest, DESTINATION_KINDS, policy, candidates)
    return min(candidates) if candidates else None


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a <= b else b
