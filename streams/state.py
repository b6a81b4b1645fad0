"""What backupwatch remembers about one device.

The state is frozen msgspec Structs encoded as arrays (`array_like`): a device with
two destinations and fourteen days of windows takes well under 1 KiB on the changelog
and in the store. New fields go at the end of a struct, with a default, so that state
written by an older worker still decodes. No release has shipped yet (0.x), so no older
layout is converted: a stored state that does not decode is an unreadable state, which
the worker and the fleet view set aside with a dead letter or a count of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import msgspec

from schemas.types import Level
from streams.fastpath import shared_day, utc_day

__all__ = [
    "DayBucket",
    "DestinationState",
    "DeviceState",
    "HeartbeatReport",
    "HistoryEntry",
    "Parked",
    "ProgressReport",
    "Slot",
    "UserHold",
    "day_number",
    "decode_state",
    "encode_state",
    "ok_slot",
    "pack_fingerprints",
    "unpack_fingerprints",
    "window_start_of",
]


class Slot(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """The current alert state of one kind (on one destination, for per-destination kinds)."""

    level: Level = "ok"
    # The reference time the condition is measured from, fixed when the episode opened;
    # part of the alert id, so it must not move while the episode lasts.
    episode_start: datetime | None = None
    # The last time consumers were told about this episode (transition or reminder).
    notified_at: datetime | None = None
    # How many transitions (reminders aside) this slot has made; part of the alert id,
    # so that an alert reopened with the reference time of an earlier one (after a
    # policy change or a reactivation, the device still silent), or a second escalation
    # after a late event de-escalated the first, gets an id of its own.
    transitions: int = 0


OK_SLOT = Slot()
# An ok slot after `n` transitions, one shared object for each `n` below 256 (index n):
# nearly every slot of a fleet is one of these.
_OK_SLOTS = (OK_SLOT, *(Slot(transitions=n) for n in range(1, 256)))


def ok_slot(transitions: int) -> Slot:
    """The ok slot that has made `transitions` transitions (a shared object when few)."""
    return _OK_SLOTS[transitions] if transitions < 256 else Slot(transitions=transitions)


class ProgressReport(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """The figures of the newest progress report of a device to a destination (by event
    time), so that late or duplicated reports cannot overwrite newer figures."""

    at: datetime
    # Breaks ties between two reports of one instant, whatever their arrival order.
    fp: int = 0
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


_NO_PROGRESS = ProgressReport(datetime.min.replace(tzinfo=UTC))


class DestinationState(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One device's backup towards one destination."""

    destination_id: str
    first_seen: datetime
    # When the destination was last reached, while that is before the device's newest
    # connection; None while it is one of the destinations of that connection (the
    # device's `reached`) or was never reached. Read it as
    # `DeviceState.last_connected_to(dest)`.
    own_last_connected: datetime | None = None
    # The last progress report of any kind ("Last Activity" in the console).
    last_activity: datetime | None = None
    last_new_data: datetime | None = None
    # The last report at 100 % ("Completed" in the console).
    last_completed: datetime | None = None
    report: ProgressReport | None = None
    backup: Slot = OK_SLOT
    completion: Slot = OK_SLOT

    @property
    def _report(self) -> ProgressReport:
        return self.report or _NO_PROGRESS

    @property
    def percent_complete(self) -> float:
        return self._report.percent_complete

    @property
    def session_state(self) -> str:
        return self._report.session_state

    @property
    def selected_files(self) -> int:
        return self._report.selected_files

    @property
    def selected_bytes(self) -> int:
        return self._report.selected_bytes

    @property
    def todo_files(self) -> int:
        return self._report.todo_files

    @property
    def todo_bytes(self) -> int:
        return self._report.todo_bytes

    @property
    def locked_files(self) -> int:
        return self._report.locked_files

    @property
    def permission_denied_files(self) -> int:
        return self._report.permission_denied_files

    @property
    def vanished_files(self) -> int:
        return self._report.vanished_files

    @property
    def changed_files(self) -> int:
        return self._report.changed_files

    @property
    def cpu_throttled(self) -> bool:
        return self._report.cpu_throttled

    @property
    def network_throttled(self) -> bool:
        return self._report.network_throttled

    @property
    def backup_interval_s(self) -> int:
        return self._report.backup_interval_s


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


class Parked(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A record read ahead of its partition's clock, kept until the clock reaches it.

    A worker reads its input topics at different paces (a small topic is read to its
    end at once); a record that follows tick T on its topic belongs after the decision
    at T, so it waits here, in the device's state (and so in its changelog), until the
    partition clock reaches T.
    """

    epoch: datetime  # the latest tick of its topic when it was read
    topic: int
    offset: int
    value: bytes


class HistoryEntry(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A past transition, kept for the device detail view."""

    at: datetime
    kind: str
    destination_id: str | None
    from_level: Level
    to_level: Level
    reason: str


class HeartbeatReport(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """The figures of the device's newest heartbeat (by event time).

    Its time and fingerprint live in the device state (`last_heartbeat`,
    `heartbeat_fp`): most heartbeats repeat the figures of the one before, and then
    the report is kept as it is rather than copied.
    """

    hostname: str = ""
    os: str = ""
    app_version: str = ""
    service_state: str = "running"
    backup_paused: bool = False
    cpu_limit_percent: int = 100
    network_limit_kbps: int | None = None
    reachable: tuple[str, ...] = ()
    connect_error: str | None = None


_NO_HEARTBEAT = HeartbeatReport()


class UserHold(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A fact about the device's user that held at its last decision: the user on
    leave (until `until`) or deactivated (the user left the organization)."""

    kind: str  # "leave" or "deactivated"
    start: datetime
    until: datetime | None = None
    reason: str = ""
    actor: str = ""


class DeviceState(msgspec.Struct, frozen=True, array_like=True, gc=False):
    device_id: str
    user_id: str
    org_id: str
    first_seen: datetime
    heartbeat: HeartbeatReport | None = None
    # The time of the newest heartbeat and its fingerprint (which breaks ties between
    # two heartbeats of one instant, whatever their arrival order).
    last_heartbeat: datetime | None = None
    heartbeat_fp: int = 0
    # The last time the device reached any destination.
    last_connected: datetime | None = None
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
    # The daily window as stored: the days with progress reports. Read it as `days`,
    # which adds the heartbeats, counted apart (`last_day_heartbeats`,
    # `earlier_heartbeats`).
    day_buckets: tuple[DayBucket, ...] = ()
    # Events whose device time ran ahead of the clock by more than the allowed skew.
    clamped_events: int = 0
    last_clamped_at: datetime | None = None
    # Fingerprints of the most recent events, to recognize a duplicate sent twice: 32-bit
    # little-endian words packed in one bytes object, oldest first. One object instead of
    # a tuple of int objects keeps the per-event check to one memory access.
    recent: bytes = b""
    # Facts changed since the last decision: the device is due at the next tick.
    changed_at: datetime | None = None
    history: tuple[HistoryEntry, ...] = ()
    # Per input topic, the highest offset applied (heartbeats, progress, commands):
    # a replayed record is recognized and changes nothing.
    offsets: tuple[int, int, int] = (-1, -1, -1)
    # The policy revision of the last decision (see `Policy.revision`).
    policy_revision: str = ""
    parked: tuple[Parked, ...] = ()
    # The heartbeats of the UTC day of `last_heartbeat` (0 once that day has left the
    # window). Nearly every heartbeat falls on the same day as the newest one before it;
    # counting it here changes a small int in the state, where counting it in a bucket
    # copied the bucket and the tuple of buckets and freed the old ones: at fleet scale,
    # where each of those objects is a cache miss, that was ~6 % of an event's cost.
    last_day_heartbeats: int = 0
    # The first day the window holds anything, buckets or heartbeats (0 when it holds
    # nothing): an event sees from it that nothing is due to roll off without reading
    # the buckets.
    window_start: int = 0
    # The destinations last reached at `last_connected` (sorted ids): their last contact
    # is the device's, not written in each. A heartbeat that reaches the destinations of
    # the one before, the common case, then moves one time in the device rather than
    # copying each destination and the tuple of them.
    reached: tuple[str, ...] = ()
    # The heartbeats of the days before `last_heartbeat`'s, as (day, count) pairs laid
    # flat, oldest day first. Counted here, a device's first heartbeat of a day appends
    # two ints where counting it in a bucket read, copied and freed the bucket and the
    # tuple of buckets (~4 % of an event's cost in `bench.core`).
    earlier_heartbeats: tuple[int, ...] = ()
    # The user facts of the device's last decision (see `streams.users`): the revision
    # of its user's record, what held then, and the next instant a fact of that record
    # starts or ends after it. A device is decided again when its user's record changes
    # (another revision) and when that instant comes.
    user_revision: str = ""
    user_hold: UserHold | None = None
    user_next_change: datetime | None = None
    # False for a device known only from commands (sent before its first report): it
    # holds their effect, decides nothing, and is born with them at its first report.
    reporting: bool = True
    # When the device was registered with its backup service, where a heartbeat said so
    # (`Heartbeat.registered_at`); None where no producer knows it.
    registered_at: datetime | None = None

    @property
    def appeared_at(self) -> datetime:
        """When the device appeared: its registration where known, else when backupwatch
        first saw it (which, for a fleet first seen all at once, says little)."""
        return self.registered_at or self.first_seen

    @property
    def days(self) -> tuple[DayBucket, ...]:
        """The daily window, oldest day first (the last fourteen UTC days with activity)."""
        days = self.day_buckets
        earlier = self.earlier_heartbeats
        for i in range(0, len(earlier), 2):
            days = _with_heartbeats(days, earlier[i], earlier[i + 1])
        counted = self.last_day_heartbeats
        if counted and self.last_heartbeat is not None:
            days = _with_heartbeats(days, day_number(self.last_heartbeat), counted)
        return days

    @property
    def fingerprints(self) -> tuple[int, ...]:
        """The fingerprints in `recent`, oldest first."""
        return unpack_fingerprints(self.recent)

    def last_connected_to(self, dest: DestinationState) -> datetime | None:
        """When the device last reached `dest` (None: never)."""
        if dest.destination_id in self.reached:
            return self.last_connected
        return dest.own_last_connected

    def destination(self, destination_id: str) -> DestinationState | None:
        for dest in self.destinations:
            if dest.destination_id == destination_id:
                return dest
        return None

    @property
    def hostname(self) -> str:
        return (self.heartbeat or _NO_HEARTBEAT).hostname

    @property
    def os(self) -> str:
        return (self.heartbeat or _NO_HEARTBEAT).os

    @property
    def app_version(self) -> str:
        return (self.heartbeat or _NO_HEARTBEAT).app_version

    @property
    def service_state(self) -> str:
        return (self.heartbeat or _NO_HEARTBEAT).service_state

    @property
    def backup_paused(self) -> bool:
        return (self.heartbeat or _NO_HEARTBEAT).backup_paused

    @property
    def cpu_limit_percent(self) -> int:
        return (self.heartbeat or _NO_HEARTBEAT).cpu_limit_percent

    @property
    def network_limit_kbps(self) -> int | None:
        return (self.heartbeat or _NO_HEARTBEAT).network_limit_kbps

    @property
    def reachable(self) -> tuple[str, ...]:
        return (self.heartbeat or _NO_HEARTBEAT).reachable

    @property
    def connect_error(self) -> str | None:
        return (self.heartbeat or _NO_HEARTBEAT).connect_error


def _with_heartbeats(
    buckets: tuple[DayBucket, ...], day: int, heartbeats: int
) -> tuple[DayBucket, ...]:
    kept = list(buckets)
    for i, bucket in enumerate(kept):
        if bucket.day == day:
            kept[i] = msgspec.structs.replace(bucket, heartbeats=bucket.heartbeats + heartbeats)
            return tuple(kept)
        if bucket.day > day:
            kept.insert(i, DayBucket(day, heartbeats))
            return tuple(kept)
    kept.append(DayBucket(day, heartbeats))
    return tuple(kept)


def day_number(t: datetime) -> int:
    """Days since the epoch of `t`'s UTC date (a shared int: see `streams.fastpath`)."""
    return shared_day(utc_day(t))


def window_start_of(
    buckets: tuple[DayBucket, ...], earlier: tuple[int, ...], newest_day: int, counted: int
) -> int:
    """The first day a window holds anything (`DeviceState.window_start`: buckets or
    heartbeats counted apart), 0 when it holds nothing; `newest_day` is the newest
    heartbeat's, whose `counted` heartbeats are in `last_day_heartbeats`."""
    # Earlier heartbeats are of days before the newest heartbeat's.
    first = earlier[0] if earlier else (shared_day(newest_day) if counted else 0)
    if buckets and (not first or buckets[0].day < first):
        return buckets[0].day
    return first


def pack_fingerprints(fingerprints: Iterable[int]) -> bytes:
    """The `recent` ring holding these (32-bit) fingerprints, in this order."""
    return b"".join((fp & 0xFFFFFFFF).to_bytes(4, "little") for fp in fingerprints)


def unpack_fingerprints(recent: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(recent[i : i + 4], "little") for i in range(0, len(recent), 4))


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(DeviceState)


def encode_state(state: DeviceState) -> bytes:
    return _encoder.encode(state)


def decode_state(data: bytes) -> DeviceState:
    """The state `encode_state` wrote; raises `msgspec.DecodeError` (or its subclass
    `ValidationError`) for bytes of no layout this version writes."""
    return _decoder.decode(data)
