"""A simulated fleet of endpoint devices: telemetry with injected faults, in simulated time.

Pure and deterministic: no Kafka, no clock reads, no shared random state. Everything a
device sends at a given simulated instant is a function of the seed, the device and
that instant, so `events_between(a, b)` followed by `events_between(b, c)` yields
exactly what `events_between(a, c)` yields, and a run can be replayed or resumed.

Each device is healthy or has ONE fault, starting on a given day, taken from the
console's lists of connection and backup issues (`FAULTS`). `EXPECTATIONS` says what
each fault should lead to under the default policy, and `reference_run` computes what
the pure core actually decides for a stream of events and ticks: the ground truth the
end-to-end tests hold the Kafka pipeline to.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from agents.kafka.topics import BACKUP_PROGRESS, DEVICE_COMMANDS, HEARTBEATS
from schemas import (
    Alert,
    BackupProgress,
    DeviceCommand,
    FileErrors,
    Heartbeat,
    InputRecord,
    OrgPolicy,
    UserFacts,
)
from schemas.types import Level
from streams import (
    DEFAULT_POLICY,
    NO_USER_FACTS,
    DeviceState,
    Policy,
    UserTimeline,
    advance,
    apply,
    next_deadline,
    timeline_from_record,
    to_alert,
)
from streams.kinds import RANK
from streams.users import deactivate_user, put_on_leave

__all__ = [
    "EXPECTATIONS",
    "USER_FACT_EXPECTATIONS",
    "FAULTS",
    "HEALTHY",
    "MINIMUM_APP_VERSION",
    "USER_FAULTS",
    "Expectation",
    "Fleet",
    "Outcome",
    "SimDevice",
    "SimEvent",
    "outcomes",
    "reference_run",
    "tick_times",
]

log = logging.getLogger(__name__)

HEALTHY = "healthy"

# One fault per device, each one of the article's causes (see `EXPECTATIONS`).
FAULTS: tuple[str, ...] = (
    "powered_off",
    "extended_leave",
    "left_org",
    "replaced",
    "uninstalled",
    "service_stopped",
    "blocked_network",
    "interfering_app",
    "paused",
    "locked_files",
    "permission_denied",
    "temp_files_vanish",
    "churning_files",
    "cpu_throttled",
    "network_throttled",
    "backup_set_too_large",
    "deactivated",
)
# Faults of a person rather than a machine: every device of the user has them.
USER_FAULTS = frozenset({"extended_leave", "left_org"})
# Telemetry stops at the fault (the rest keep sending, with symptoms).
_SILENT = frozenset(
    {
        "powered_off",
        "extended_leave",
        "left_org",
        "replaced",
        "uninstalled",
        "service_stopped",
        "deactivated",
    }
)
# Data keeps flowing but the destination never reaches 100 %.
_INCOMPLETE = frozenset(
    {
        "locked_files",
        "temp_files_vanish",
        "churning_files",
        "cpu_throttled",
        "network_throttled",
        "backup_set_too_large",
    }
)

MINIMUM_APP_VERSION = "11.2.0"
# (version, weight): the last two are below `MINIMUM_APP_VERSION`.
_APP_VERSIONS = (
    ("11.4.2", 40),
    ("11.4.1", 20),
    ("11.3.0", 15),
    ("11.2.1", 10),
    ("11.0.3", 10),
    ("10.8.1", 5),
)
# (os, hostname prefixes)
_SYSTEMS = (
    ("windows 11", ("laptop", "desktop")),
    ("windows 10", ("laptop", "desktop")),
    ("macos 15.1", ("mbp", "imac")),
    ("macos 14.6", ("mbp",)),
    ("ubuntu 24.04", ("ws",)),
)

_MB = 1_000_000
_GB = 1_000_000_000
# A session reports while it sends, this often, and once when it ends.
_REPORT_EVERY_S = 900
_MAX_MID_REPORTS = 3

# When the admin reacts, counted from the fault: chosen well away from the policy's
# thresholds (3, 5, 7 days) so the outcome does not hinge on a tick's phase.
_SNOOZE_AFTER = timedelta(days=3, hours=12)
_SNOOZE_FOR = timedelta(days=60)
_LEFT_ORG_AFTER = timedelta(days=1)
_REPLACED_AFTER = timedelta(hours=6)
_NEW_DEVICE_AFTER = timedelta(minutes=30)
_DEACTIVATE_AFTER = timedelta(days=4)
# With `user_facts`: a user's leave, set by an administrator as the device's snooze is,
# and short enough to end within a month; a user who left, deactivated after their
# devices' warnings opened.
_LEAVE_FOR = timedelta(days=10)
_USER_DEACTIVATED_AFTER = timedelta(days=4)


class SimEvent(NamedTuple):
    """One record the fleet sends: to `topic` (a name of `agents.kafka.topics.INPUTS`), keyed
    by `key` (the device id), at simulated time `at` (the record's event time)."""

    topic: str
    key: str
    record: InputRecord
    at: datetime


@dataclass(frozen=True, slots=True)
class SimDevice:
    """A device of the fleet and the fault injected into it."""

    device_id: str
    user_id: str
    org_id: str
    hostname: str
    os: str
    app_version: str
    destinations: tuple[str, ...]
    fault: str
    # When the fault starts (None when healthy).
    fault_at: datetime | None
    # When the device starts sending (a replacement device starts after the fleet).
    active_from: datetime
    # The device this one replaced, or that replaced this one.
    replaces: str | None = None
    replaced_by: str | None = None


@dataclass(frozen=True, slots=True)
class _Behaviour:
    """How a device behaves, in seconds since the fleet's start."""

    salt: int
    heartbeat_phase: int
    session_phase: int
    active_from: int
    fault_from: int | None
    # No telemetry at or after this (the farewell heartbeat aside).
    silent_from: int | None
    daily_new_bytes: int
    # The share of sessions that find nothing new to send.
    idle_share: float
    upload_bps: int
    selected_bytes: int
    file_bytes: int
    cpu_limit_percent: int
    # The size of the fault: locked / vanished / changed / backlog files and bytes.
    fault_files: int = 0
    fault_bytes: int = 0
    commands: tuple[tuple[int, DeviceCommand], ...] = ()


# ---------------------------------------------------------------------------- hashing


_MASK = (1 << 64) - 1


def _unit(salt: int, n: int, k: int) -> float:
    """A uniform number in [0, 1) that depends only on its arguments (splitmix64)."""
    x = (salt ^ (n * 0x9E3779B97F4A7C15) ^ (k * 0xD1B54A32D192ED03)) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    x ^= x >> 31
    return (x >> 11) / 9007199254740992.0


def _lognormal(rng: random.Random, median: float, sigma: float, low: float, high: float) -> int:
    return int(min(high, max(low, median * rng.lognormvariate(0.0, sigma))))


# ------------------------------------------------------------------------------ fleet


@dataclass(slots=True)
class _User:
    user_id: str
    org_id: str
    device_indexes: list[int] = field(default_factory=list)


class Fleet:
    """N devices of a few orgs, their users, destinations and injected faults.

    `fault_share`: the share of devices that get a fault; `every_fault`: place every
    fault at least once (for small test fleets; needs enough devices and users).
    `fault_days`: the range of days, after `start`, in which faults begin.
    `heartbeat_every`: the heartbeat cadence; `backup_every`: the time between two
    backup sessions (the `backup_interval_s` the devices report).
    `user_facts`: a user's extended leave and departure are recorded for the user (a
    leave, a deactivation: `user_facts_records`) rather than as commands to each of
    their devices.
    """

    def __init__(
        self,
        devices: int,
        seed: int,
        start: datetime,
        orgs: int = 4,
        *,
        fault_share: float = 0.3,
        every_fault: bool = False,
        fault_days: tuple[float, float] = (1.0, 8.0),
        heartbeat_every: timedelta = timedelta(hours=1),
        backup_every: timedelta = timedelta(hours=4),
        user_facts: bool = False,
    ) -> None:
        if devices < 1:
            raise ValueError(f"a fleet needs at least one device, got {devices}")
        if orgs < 1:
            raise ValueError(f"a fleet needs at least one org, got {orgs}")
        if start.tzinfo is None:
            raise ValueError("`start` must be timezone-aware")
        if not 0.0 <= fault_share <= 1.0:
            raise ValueError(f"`fault_share` must be within 0..1, got {fault_share}")
        if not 0.0 <= fault_days[0] <= fault_days[1]:
            raise ValueError(f"`fault_days` must be an increasing pair, got {fault_days}")
        if every_fault and devices < len(FAULTS):
            raise ValueError(f"`every_fault` needs at least {len(FAULTS)} devices, got {devices}")
        self.seed = seed
        self.start = start
        self.orgs = orgs
        self.fault_share = fault_share
        self.heartbeat_s = max(60, int(heartbeat_every.total_seconds()))
        self.backup_s = max(3600, int(backup_every.total_seconds()))
        self._rng = random.Random(seed)  # noqa: S311 - a simulation, not security
        self._width = max(4, len(str(devices * 2)))
        self._fault_days = fault_days
        self.user_facts = user_facts
        # With `user_facts`: per user, the record of what administrators said of them,
        # and the instant each version was made.
        self._user_records: dict[str, list[tuple[datetime, UserFacts]]] = {}
        self.org_ids = tuple(f"org-{o:02d}" for o in range(orgs))
        self._users: list[_User] = []
        self._devices: list[SimDevice] = []
        self._behaviours: list[_Behaviour] = []
        self._build(devices, every_fault)
        self.devices: tuple[SimDevice, ...] = tuple(self._devices)
        self._by_id = {d.device_id: i for i, d in enumerate(self.devices)}

    # -- construction

    def _build(self, devices: int, every_fault: bool) -> None:
        rng = self._rng
        org_weights = [1.0 / (k + 1) for k in range(self.orgs)]
        left = devices
        while left > 0:
            count = min(left, rng.choices((1, 2, 3), weights=(60, 30, 10))[0])
            left -= count
            number = len(self._users)
            org = self.org_ids[number if number < self.orgs else _pick(rng, org_weights)]
            user = _User(f"user-{number:0{self._width}d}", org)
            self._users.append(user)
            for _ in range(count):
                user.device_indexes.append(len(self._devices))
                self._devices.append(self._new_device(user))
        faults = self._assign_faults(every_fault)
        base = list(self._devices)
        for index, (device, fault) in enumerate(zip(base, faults, strict=True)):
            if fault[0] != HEALTHY:
                self._inject(index, device, *fault)

    def _new_device(self, user: _User, active_from: int = 0) -> SimDevice:
        rng = self._rng
        index = len(self._devices)
        system, prefixes = rng.choice(_SYSTEMS)
        version = (
            _APP_VERSIONS[0][0]
            if active_from
            else rng.choices([v for v, _ in _APP_VERSIONS], [w for _, w in _APP_VERSIONS])[0]
        )
        home = "cloud-eu" if int(user.org_id[4:]) % 2 == 0 else "cloud-us"
        destinations = [home]
        if rng.random() < 0.35:
            destinations.append(rng.choice((f"nas-{user.org_id}", _other_cloud(home))))
        daily = _lognormal(rng, 300 * _MB, 0.8, 20 * _MB, 4 * _GB)
        behaviour = _Behaviour(
            salt=rng.getrandbits(64),
            heartbeat_phase=rng.randrange(self.heartbeat_s),
            session_phase=rng.randrange(self.backup_s),
            active_from=active_from,
            fault_from=None,
            silent_from=None,
            daily_new_bytes=daily,
            idle_share=rng.uniform(0.1, 0.3),
            upload_bps=rng.randrange(1 * _MB, 8 * _MB),
            selected_bytes=_lognormal(rng, 60 * _GB, 0.9, 5 * _GB, 800 * _GB),
            file_bytes=rng.randrange(300_000, 3 * _MB),
            cpu_limit_percent=rng.choice((50, 60, 80, 100, 100)),
        )
        self._behaviours.append(behaviour)
        return SimDevice(
            device_id=f"dev-{index:0{self._width}d}",
            user_id=user.user_id,
            org_id=user.org_id,
            hostname=f"{rng.choice(prefixes)}-{index:0{self._width}d}",
            os=system,
            app_version=version,
            destinations=tuple(sorted(destinations)),
            fault=HEALTHY,
            fault_at=None,
            active_from=self.start + timedelta(seconds=active_from),
        )

    def _assign_faults(self, every_fault: bool) -> list[tuple[str, int]]:
        """(fault, start offset) per device, user faults shared by the user's devices."""
        rng = self._rng
        result: list[tuple[str, int]] = [(HEALTHY, 0)] * len(self._devices)
        device_faults = [f for f in FAULTS if f not in USER_FAULTS]
        user_faults = sorted(USER_FAULTS)
        pending_user, pending_device = [], []
        if every_fault:
            pending_user = rng.sample(user_faults, len(user_faults))
            pending_device = rng.sample(device_faults, len(device_faults))
        # A user fault hits every device of its user: draw it per user with the share
        # that keeps the overall share of faulty devices at `fault_share`.
        user_share = self.fault_share * len(USER_FAULTS) / len(FAULTS)
        device_share = (self.fault_share - user_share) / (1.0 - user_share) if user_share < 1 else 0

        def when() -> int:
            return int(rng.uniform(*self._fault_days) * 86400)

        for user in rng.sample(self._users, len(self._users)):
            if pending_user or (not pending_device and rng.random() < user_share):
                fault = pending_user.pop() if pending_user else rng.choice(user_faults)
                at = when()
                for index in user.device_indexes:
                    result[index] = (fault, at)
                continue
            for index in user.device_indexes:
                if pending_device:
                    result[index] = (pending_device.pop(), when())
                elif rng.random() < device_share:
                    result[index] = (rng.choice(device_faults), when())
        if pending_user or pending_device:
            missing = ", ".join(pending_user + pending_device)
            raise ValueError(f"the fleet is too small to place every fault; missing: {missing}")
        return result

    def _inject(self, index: int, device: SimDevice, fault: str, at: int) -> None:
        rng = self._rng
        behaviour = self._behaviours[index]
        fault_at = self.start + timedelta(seconds=at)
        files, size = 0, 0
        commands: list[tuple[int, DeviceCommand]] = []
        replaced_by: str | None = None
        daily = behaviour.daily_new_bytes
        if fault == "locked_files":
            files = rng.randint(2, 8)
            size = min(behaviour.selected_bytes // 10, files * rng.randrange(20 * _MB, 2 * _GB))
        elif fault == "temp_files_vanish":
            files = rng.randint(20, 80)
            size = files * rng.randrange(20_000, 400_000)
        elif fault == "churning_files":
            files = rng.randint(12, 40)
            size = min(daily // 10, files * rng.randrange(1 * _MB, 20 * _MB))
        elif fault in ("cpu_throttled", "network_throttled"):
            # A small backlog the slow app never catches up on: small enough that the
            # estimated time to finish stays near one session (the throttle is the story,
            # not the size of the backup set).
            size = daily // 10
            files = max(11, size // behaviour.file_bytes)
        elif fault == "backup_set_too_large":
            # The user added a big folder: weeks of sending at the device's pace.
            size = max(10 * _GB, 40 * daily)
            files = max(11, size // (4 * _MB))
        elif fault in ("extended_leave", "left_org") and self.user_facts:
            self._record_user_fact(device.user_id, fault, fault_at)
        elif fault == "extended_leave":
            until = fault_at + _SNOOZE_FOR
            commands.append(
                self._command(
                    device,
                    "snooze",
                    fault_at + _SNOOZE_AFTER,
                    snooze_until=until,
                    reason="extended leave",
                )
            )
        elif fault == "left_org":
            commands.append(
                self._command(
                    device,
                    "user_left_org",
                    fault_at + _LEFT_ORG_AFTER,
                    reason="user left the organization",
                )
            )
        elif fault == "deactivated":
            commands.append(
                self._command(
                    device, "deactivate", fault_at + _DEACTIVATE_AFTER, reason="device retired"
                )
            )
        elif fault == "replaced":
            user = next(u for u in self._users if u.user_id == device.user_id)
            start = at + int(_NEW_DEVICE_AFTER.total_seconds())
            successor = self._new_device(user, active_from=start)
            user.device_indexes.append(len(self._devices))
            successor = replace(successor, replaces=device.device_id)
            self._devices.append(successor)
            replaced_by = successor.device_id
            commands.append(
                self._command(
                    device,
                    "replaced",
                    fault_at + _REPLACED_AFTER,
                    replaced_by=replaced_by,
                    reason="new laptop",
                )
            )
        self._behaviours[index] = replace(
            behaviour,
            fault_from=at,
            silent_from=at if fault in _SILENT else None,
            fault_files=files,
            fault_bytes=size,
            commands=tuple(commands),
        )
        self._devices[index] = replace(
            device, fault=fault, fault_at=fault_at, replaced_by=replaced_by
        )

    def _record_user_fact(self, user_id: str, fault: str, fault_at: datetime) -> None:
        """The user's leave or deactivation, once for the user (every device of theirs
        has the fault)."""
        if user_id in self._user_records:
            return
        if fault == "extended_leave":
            at = fault_at + _SNOOZE_AFTER
            record = put_on_leave(
                None,
                user_id,
                at=at,
                until=at + _LEAVE_FOR,
                reason="extended leave",
                actor="admin",
                updated_at=at,
            )
        else:
            at = fault_at + _USER_DEACTIVATED_AFTER
            record = deactivate_user(
                None,
                user_id,
                at=at,
                reason="user left the organization",
                actor="admin",
                updated_at=at,
            )
        self._user_records[user_id] = [(at, record)]

    def user_facts_records(self) -> list[tuple[datetime, UserFacts]]:
        """Every version of every user's record, with the instant it takes effect, in
        time order (empty unless the fleet was made with `user_facts`)."""
        return sorted(
            (entry for entries in self._user_records.values() for entry in entries),
            key=lambda entry: (entry[0], entry[1].user_id),
        )

    def _command(
        self, device: SimDevice, action: str, at: datetime, **fields: object
    ) -> tuple[int, DeviceCommand]:
        offset = int((at - self.start).total_seconds())
        command = DeviceCommand(
            command_id=f"sim-{device.device_id}-{action}-{offset}",
            device_id=device.device_id,
            action=action,  # type: ignore[arg-type]
            issued_at=at,
            actor=f"admin@{device.org_id}",
            **fields,  # type: ignore[arg-type]
        )
        return offset, command

    # -- reading

    def device(self, device_id: str) -> SimDevice:
        return self.devices[self._by_id[device_id]]

    def devices_by_fault(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for device in self.devices:
            counts[device.fault] = counts.get(device.fault, 0) + 1
        return dict(sorted(counts.items()))

    def org_policies(self, at: datetime | None = None) -> list[OrgPolicy]:
        """One policy per org: the default thresholds and the fleet's minimum version."""
        return [
            OrgPolicy(
                org_id=org,
                updated_at=at or self.start,
                minimum_app_version=MINIMUM_APP_VERSION,
            )
            for org in self.org_ids
        ]

    def events_between(self, t0: datetime, t1: datetime) -> Iterator[SimEvent]:
        """Every event with `t0 <= at < t1`, in time order (ties by device, then kind)."""
        first = _seconds(t0 - self.start)
        last = _seconds(t1 - self.start)
        streams = [self._device_events(index, first, last) for index in range(len(self.devices))]
        for _, _, _, event in heapq.merge(*streams):
            yield event

    def expected_alerts(
        self,
        until: datetime,
        policy: Policy = DEFAULT_POLICY,
        tick_every: timedelta = timedelta(minutes=5),
    ) -> list[Alert]:
        """What the core decides for this fleet from its start until `until`, with ticks
        every `tick_every` as the simulator writes them (see `reference_run`)."""
        return reference_run(
            self.events_between(self.start, until),
            tick_times(self.start, until, tick_every),
            policy,
            self.user_facts_records(),
        )

    # -- one device's telemetry

    def _device_events(
        self, index: int, first: int, last: int
    ) -> Iterator[tuple[int, int, int, SimEvent]]:
        device = self.devices[index]
        behaviour = self._behaviours[index]
        period = self.backup_s
        start = max(first, behaviour.active_from)
        # Session windows [phase + n * period, phase + (n + 1) * period), n from -1 so
        # that the time before the first session belongs to a window too.
        n = max(-1, (start - behaviour.session_phase) // period)
        seq = 0
        key = device.device_id
        while True:
            window = behaviour.session_phase + n * period
            if window >= last:
                return
            if behaviour.silent_from is not None and window > behaviour.silent_from:
                if not any(at >= window for at, _ in behaviour.commands):
                    return
            batch = self._window(device, behaviour, n, window, window + period)
            for at, _, topic, record in sorted(batch, key=_batch_order):
                if start <= at < last:
                    yield (
                        at,
                        index,
                        seq,
                        SimEvent(topic, key, record, self.start + timedelta(seconds=at)),
                    )
                    seq += 1
            n += 1

    def _window(
        self, device: SimDevice, b: _Behaviour, n: int, w0: int, w1: int
    ) -> list[tuple[int, int, str, InputRecord]]:
        batch: list[tuple[int, int, str, InputRecord]] = []
        every = self.heartbeat_s
        k = -((b.heartbeat_phase - w0) // every)  # the first heartbeat at or after w0
        at = b.heartbeat_phase + k * every
        while at < w1:
            if at >= b.active_from and (b.silent_from is None or at < b.silent_from):
                batch.append((at, 0, HEARTBEATS, self._heartbeat(device, b, at)))
            at += every
        if (
            b.silent_from is not None
            and w0 <= b.silent_from < w1
            and device.fault in ("uninstalled", "service_stopped")
        ):
            # The app says goodbye before it goes: the last word the console has.
            state = "uninstalling" if device.fault == "uninstalled" else "stopping"
            farewell = self._heartbeat(device, b, b.silent_from, service_state=state)
            batch.append((b.silent_from, 0, HEARTBEATS, farewell))
        session = w0
        if n >= 0 and session >= b.active_from:
            for at, record in self._session(device, b, n, session):
                if b.silent_from is None or at < b.silent_from:
                    batch.append((at, 1, BACKUP_PROGRESS, record))
        for at, command in b.commands:
            if w0 <= at < w1:
                batch.append((at, 2, DEVICE_COMMANDS, command))
        return batch

    def _heartbeat(
        self, device: SimDevice, b: _Behaviour, at: int, service_state: str = "running"
    ) -> Heartbeat:
        fault = device.fault if b.fault_from is not None and at >= b.fault_from else HEALTHY
        reachable = (
            [] if fault in ("blocked_network", "interfering_app") else list(device.destinations)
        )
        error = None
        if fault == "blocked_network":
            error = "blocked"
        elif fault == "interfering_app":
            error = "local_interference"
        return Heartbeat(
            device_id=device.device_id,
            user_id=device.user_id,
            org_id=device.org_id,
            event_time=self.start + timedelta(seconds=at),
            app_version=device.app_version,
            os=device.os,
            hostname=device.hostname,
            service_state=service_state,  # type: ignore[arg-type]
            backup_paused=fault == "paused",
            cpu_limit_percent=(
                10 + b.salt % 16 if fault == "cpu_throttled" else b.cpu_limit_percent
            ),
            network_limit_kbps=256 if fault == "network_throttled" else None,
            reachable_destinations=tuple(reachable),
            connect_error=error,  # type: ignore[arg-type]
        )

    def _new_bytes(self, b: _Behaviour, n: int) -> int:
        """New data found by session `n`: none in some sessions, about a day's worth per day."""
        if _unit(b.salt, n, 1) < b.idle_share:
            return 0
        mean = b.daily_new_bytes * self.backup_s / 86400
        return int(mean * (0.5 + _unit(b.salt, n, 2)) / (1.0 - b.idle_share))

    def _session(
        self, device: SimDevice, b: _Behaviour, n: int, session: int
    ) -> list[tuple[int, BackupProgress]]:
        """The reports of session `n` (started at `session`) to each destination."""
        period = self.backup_s
        fault = device.fault if b.fault_from is not None and session >= b.fault_from else HEALTHY
        mean = b.daily_new_bytes * period // 86400
        selected = b.selected_bytes + max(0, n) * mean
        new = self._new_bytes(b, n)
        faulty_sessions = 0 if b.fault_from is None else (session - b.fault_from) // period + 1
        errors = FileErrors()
        todo = 0
        todo_files = 0
        send = new
        slowdown = 1.0
        final = "completed"
        throttle = (fault == "cpu_throttled", fault == "network_throttled")
        if fault in ("blocked_network", "interfering_app"):
            return []  # no destination to send to, nothing to report
        if fault in ("paused", "permission_denied"):
            # Nothing is sent: new files pile up, one report a session says so.
            todo = max(1, faulty_sessions * mean)
            todo_files = max(1, todo // b.file_bytes)
            if fault == "permission_denied":
                errors = FileErrors(permission_denied=todo_files)
            state = "paused" if fault == "paused" else "idle"
            return [
                (
                    session + 60 + 45 * i,
                    self._progress(
                        device,
                        b,
                        session + 60 + 45 * i,
                        destination,
                        state,
                        selected,
                        todo,
                        todo_files,
                        0,
                        errors,
                        throttle,
                    ),
                )
                for i, destination in enumerate(device.destinations)
            ]
        if fault in _INCOMPLETE:
            final = "idle"
            todo, todo_files = b.fault_bytes, b.fault_files
            if fault == "locked_files":
                errors = FileErrors(locked=todo_files)
            elif fault == "temp_files_vanish":
                todo_files = max(20, int(todo_files * (0.7 + 0.6 * _unit(b.salt, n, 3))))
                errors = FileErrors(vanished=todo_files)
            elif fault == "churning_files":
                errors = FileErrors(changed_during_backup=todo_files)
            elif fault in ("cpu_throttled", "network_throttled"):
                slowdown = 8.0
            elif fault == "backup_set_too_large":
                # Sends flat out all session long and still cannot finish in months.
                extra = b.fault_bytes // 600
                selected += b.fault_bytes
                todo = max(b.fault_bytes // 10, b.fault_bytes - faulty_sessions * extra)
                todo_files = max(11, todo // (4 * _MB))
                send = new + extra
                slowdown = (period * 0.85) / max(1.0, 30 + send / b.upload_bps)
        reports: list[tuple[int, BackupProgress]] = []
        for i, destination in enumerate(device.destinations):
            begin = session + 60 + 45 * i
            duration = int(min(period - 900 - 45 * i, (30 + send / b.upload_bps) * slowdown))
            sent = 0
            mid = 1
            while mid <= _MAX_MID_REPORTS and mid * _REPORT_EVERY_S < duration:
                part = send * mid * _REPORT_EVERY_S // duration - sent
                sent += part
                left = send - sent
                at = begin + mid * _REPORT_EVERY_S
                reports.append(
                    (
                        at,
                        self._progress(
                            device,
                            b,
                            at,
                            destination,
                            "sending",
                            selected,
                            todo + left,
                            todo_files + left // b.file_bytes,
                            part,
                            errors,
                            throttle,
                        ),
                    )
                )
                mid += 1
            at = begin + duration
            reports.append(
                (
                    at,
                    self._progress(
                        device,
                        b,
                        at,
                        destination,
                        final,
                        selected,
                        todo,
                        todo_files,
                        send - sent,
                        errors,
                        throttle,
                    ),
                )
            )
        return reports

    def _progress(
        self,
        device: SimDevice,
        b: _Behaviour,
        at: int,
        destination: str,
        state: str,
        selected: int,
        todo: int,
        todo_files: int,
        sent: int,
        errors: FileErrors,
        throttle: tuple[bool, bool],
    ) -> BackupProgress:
        todo = min(todo, selected)
        selected_files = max(1, selected // b.file_bytes)
        todo_files = min(todo_files, selected_files)
        if todo > 0:
            percent = min(99.99, max(0.0, round(100.0 * (1.0 - todo / selected), 2)))
        else:
            percent = 100.0
        return BackupProgress(
            device_id=device.device_id,
            user_id=device.user_id,
            org_id=device.org_id,
            destination_id=destination,
            event_time=self.start + timedelta(seconds=at),
            session_state=state,  # type: ignore[arg-type]
            percent_complete=percent,
            selected_files=selected_files,
            selected_bytes=selected,
            todo_files=todo_files,
            todo_bytes=todo,
            bytes_sent=sent,
            file_errors=errors,
            cpu_throttled=throttle[0],
            network_throttled=throttle[1],
            backup_interval_s=self.backup_s,
        )


def _pick(rng: random.Random, weights: list[float]) -> int:
    return rng.choices(range(len(weights)), weights)[0]


def _other_cloud(home: str) -> str:
    return "cloud-us" if home == "cloud-eu" else "cloud-eu"


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def _batch_order(item: tuple[int, int, str, InputRecord]) -> tuple[int, int]:
    return item[0], item[1]


def tick_times(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    """The instants the simulator writes ticks for: `start`, every `every`, and `end`."""
    if every <= timedelta(0):
        raise ValueError(f"the tick step must be positive, got {every}")
    times = []
    at = start
    while at < end:
        times.append(at)
        at += every
    times.append(end)
    return times


# ------------------------------------------------------------------- the ground truth


def reference_run(
    events: Iterable[SimEvent],
    ticks: Iterable[datetime],
    policy: Policy = DEFAULT_POLICY,
    user_facts: Iterable[tuple[datetime, UserFacts]] = (),
) -> list[Alert]:
    """The alerts the core decides for `events` read in order with `ticks` between them.

    It reads the stream the way a worker reads one partition: a tick at T comes after
    every event with `at < T`; each event is applied with `now` = the last tick read
    (the partition clock); on each tick every device that is due (`next_deadline`)
    is advanced to the tick's time, and each transition becomes an alert, diagnosed
    against the device's state right after the decision. `user_facts` are the users'
    records, each with the instant it was made; a record's facts decide by the
    clock, so the newest record of each user, known from the start, decides what its
    earlier versions would have (as after a replay of a month).
    """
    users: dict[str, UserTimeline] = {}
    for _, record in sorted(user_facts, key=lambda entry: entry[1].updated_at):
        users[record.user_id] = timeline_from_record(record)

    def facts(user_id: str) -> UserTimeline:
        return users.get(user_id, NO_USER_FACTS)

    states: dict[str, DeviceState] = {}
    deadlines: dict[str, datetime] = {}
    due: list[tuple[datetime, str]] = []
    alerts: list[Alert] = []
    clock: datetime | None = None
    pending = iter(ticks)
    next_tick = next(pending, None)

    def schedule(device_id: str, state: DeviceState) -> None:
        deadline = next_deadline(state, policy, facts(state.user_id))
        if deadline is None:
            deadlines.pop(device_id, None)
        elif deadlines.get(device_id) != deadline:
            deadlines[device_id] = deadline
            heapq.heappush(due, (deadline, device_id))

    def tick(now: datetime) -> None:
        while due and due[0][0] <= now:
            deadline, device_id = heapq.heappop(due)
            if deadlines.get(device_id) != deadline:
                continue  # superseded
            del deadlines[device_id]
            previous = states[device_id]
            state, transitions = advance(previous, now, policy, user=facts(previous.user_id))
            states[device_id] = state
            alerts.extend(to_alert(t, state, now, policy) for t in transitions)
            schedule(device_id, state)

    for event in events:
        while next_tick is not None and event.at >= next_tick:
            clock = next_tick
            tick(clock)
            next_tick = next(pending, None)
        now = clock if clock is not None else event.at
        previous = states.get(event.key)
        state, transitions = apply(previous, event.record, now, policy)
        if state is None or state is previous:
            continue
        states[event.key] = state
        alerts.extend(to_alert(t, state, now, policy) for t in transitions)
        schedule(event.key, state)
    while next_tick is not None:
        tick(next_tick)
        next_tick = next(pending, None)
    return alerts


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one device's alerts came to, over all its destinations."""

    # Per kind, the worst level reached.
    worst: dict[str, Level]
    # Per kind, the top cause of the alert that first reached the worst level.
    top_cause: dict[str, str]
    # Per kind, the level at the end (the worst over the destinations).
    final: dict[str, Level]
    # The reasons of the resolutions, e.g. {"deactivated"}.
    resolved_by: frozenset[str]


def outcomes(alerts: Iterable[Alert]) -> dict[str, Outcome]:
    """Per device, what its alerts came to (devices without alerts are absent)."""
    worst: dict[str, dict[str, Level]] = {}
    top: dict[str, dict[str, str]] = {}
    current: dict[str, dict[tuple[str, str | None], Level]] = {}
    resolved: dict[str, set[str]] = {}
    for alert in alerts:
        device = alert.device_id
        levels = worst.setdefault(device, {})
        current.setdefault(device, {})[(alert.kind, alert.destination_id)] = alert.to_state
        if alert.to_state == "ok":
            resolved.setdefault(device, set()).add(alert.reason)
            continue
        if RANK[alert.to_state] > RANK[levels.get(alert.kind, "ok")]:
            levels[alert.kind] = alert.to_state
            top.setdefault(device, {})[alert.kind] = (
                alert.diagnosis[0].code if alert.diagnosis else "undetermined"
            )
    result = {}
    for device, levels in worst.items():
        final: dict[str, Level] = {}
        for (kind, _), level in current[device].items():
            if RANK[level] >= RANK[final.get(kind, "ok")]:
                final[kind] = level
        result[device] = Outcome(
            worst=dict(sorted(levels.items())),
            top_cause=dict(sorted(top.get(device, {}).items())),
            final=dict(sorted(final.items())),
            resolved_by=frozenset(resolved.get(device, ())),
        )
    return result


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a fault leads to under the default policy once it has lasted long enough
    (two weeks and a day covers every threshold)."""

    # Per kind, the worst level; a kind not listed never opens.
    worst: Mapping[str, Level]
    # Per kind, the top cause of the alert that reaches the worst level.
    top_cause: Mapping[str, str]
    # Every alert ends resolved, for this reason.
    ends_resolved_by: str | None = None

    def mismatches(self, outcome: Outcome | None) -> list[str]:
        """What differs between this expectation and what happened ([] = as expected)."""
        if outcome is None:
            return [f"expected {dict(self.worst)}, got no alert"] if self.worst else []
        problems = []
        if dict(self.worst) != outcome.worst:
            problems.append(f"worst levels: expected {dict(self.worst)}, got {outcome.worst}")
        if dict(self.top_cause) != outcome.top_cause:
            problems.append(f"top causes: expected {dict(self.top_cause)}, got {outcome.top_cause}")
        if self.ends_resolved_by is not None:
            if any(level != "ok" for level in outcome.final.values()):
                problems.append(f"expected every alert resolved, final {outcome.final}")
            if self.ends_resolved_by not in outcome.resolved_by:
                problems.append(
                    f"expected resolution by {self.ends_resolved_by!r}, "
                    f"got {sorted(outcome.resolved_by)}"
                )
        return problems


def _silent(cause: str, level: Level = "critical") -> Expectation:
    return Expectation(
        worst={"backup": level, "connection": level},
        top_cause={"backup": cause, "connection": cause},
    )


def _backup(cause: str) -> Expectation:
    return Expectation(worst={"backup": "critical"}, top_cause={"backup": cause})


def _completion(cause: str) -> Expectation:
    return Expectation(worst={"completion": "critical"}, top_cause={"completion": cause})


def _user_deactivated() -> Expectation:
    # The warnings open at 3 days, named by the silence; the user's deactivation a day
    # later closes them.
    return Expectation(
        worst={"backup": "warning", "connection": "warning"},
        top_cause={
            "backup": "extended_leave_or_powered_off",
            "connection": "extended_leave_or_powered_off",
        },
        ends_resolved_by="user_deactivated",
    )


# What the user faults lead to when they are recorded for the user (`user_facts`): the
# leave starts at 3.5 days, after the warnings, and holds 10 days; its end finds the
# device silent for two weeks, critical at once, named by the silence.
USER_FACT_EXPECTATIONS: dict[str, Expectation] = {
    "extended_leave": Expectation(
        worst={"backup": "critical", "connection": "critical"},
        top_cause={
            "backup": "extended_leave_or_powered_off",
            "connection": "extended_leave_or_powered_off",
        },
    ),
    "left_org": _user_deactivated(),
}


# A device that went silent reaches no destination at all, so its backup alert names
# the same cause as its connection alert: why it is silent comes before the
# destination it no longer reaches.
EXPECTATIONS: dict[str, Expectation] = {
    HEALTHY: Expectation(worst={}, top_cause={}),
    "powered_off": _silent("extended_leave_or_powered_off"),
    # Snoozed at 3.5 days: the warnings open, nothing escalates.
    "extended_leave": _silent("extended_leave_or_powered_off", "warning"),
    "left_org": _silent("left_organization"),
    "replaced": _silent("replaced_by_newer_device"),
    "uninstalled": _silent("app_uninstalled_or_service_stopped"),
    "service_stopped": _silent("app_uninstalled_or_service_stopped"),
    "blocked_network": _silent("communication_blocked"),
    "interfering_app": _silent("interfering_application"),
    "paused": _backup("paused_by_user"),
    "permission_denied": _backup("locked_or_permission_denied"),
    "locked_files": _completion("locked_files_block_completion"),
    "temp_files_vanish": _completion("vanished_temporary_files"),
    "churning_files": _completion("constantly_changing_files"),
    "cpu_throttled": _completion("cpu_throttled"),
    "network_throttled": _completion("network_throttled"),
    "backup_set_too_large": _completion("backup_interval_too_short"),
    # Deactivated at 4 days: the warnings open, then everything resolves.
    "deactivated": Expectation(
        worst={"backup": "warning", "connection": "warning"},
        top_cause={
            "backup": "extended_leave_or_powered_off",
            "connection": "extended_leave_or_powered_off",
        },
        ends_resolved_by="deactivated",
    ),
}
