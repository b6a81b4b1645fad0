"""The fleet report: one row per device, and the queries an admin runs over them.

A row is what the device status report shows of a device, cut from its state when the
state changes. What depends on the time of asking (online, days since the last backup
activity) is worked out at query time against the device's stream time, so a row never
goes stale while it waits.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any, Literal

import msgspec

from schemas.types import AlertKind, Level
from streams.diagnosis import Hints, Sibling, diagnose
from streams.fastpath import shared, shared_ids
from streams.kinds import KIND_NAMES, KINDS, LEVELS, RANK, kind_levels, open_slots, worst
from streams.policy import DEFAULT_POLICY, Policy, parse_version
from streams.state import DeviceState, UserHold
from streams.status import device_figures

__all__ = [
    "COLUMNS",
    "DEFAULT_PAGE",
    "DeviceQuery",
    "DeviceRow",
    "FleetRollup",
    "Hold",
    "HoldSource",
    "HoldState",
    "OrgRollup",
    "Page",
    "ReportContext",
    "Timestamp",
    "UserRollup",
    "days_inactive",
    "device_row",
    "hold_of",
    "is_online",
    "is_snoozed",
    "moment",
    "select",
    "sibling",
    "summarize_fleet",
    "summarize_org",
    "summarize_user",
]

DEFAULT_PAGE = 100

# A moment as POSIX seconds. The row holds its times so, not as datetimes: a float takes
# 24 bytes, a datetime 48, and the fleet view keeps a row of seven times per device. A
# float is exact to well under half a microsecond for every time the schemas accept
# (2000–2100), so `moment` gives back the very datetime the state held and two times
# compare as their datetimes did: answers are those the datetimes gave.
Timestamp = float


def _timestamp(t: datetime | None) -> Timestamp | None:
    return t.timestamp() if t is not None else None


def moment(seconds: Timestamp) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class DeviceRow(msgspec.Struct, frozen=True, gc=False):
    """One device as the status report lists it (times as `Timestamp`s)."""

    device_id: str
    org_id: str
    user_id: str
    hostname: str
    os: str
    app_version: str
    destinations: tuple[str, ...]
    connection: Level
    backup: Level
    completion: Level
    worst_state: Level
    first_seen: Timestamp
    last_heartbeat: Timestamp | None
    last_connected: Timestamp | None
    last_activity: Timestamp | None
    last_completed_backup: Timestamp | None
    # The least complete destination: the one that needs attention.
    percent_complete: float
    selected_bytes: int
    todo_bytes: int
    snoozed_until: Timestamp | None
    deactivated: bool
    backup_paused: bool
    top_cause: str | None
    # The partition whose clock is this device's stream time.
    partition: int = 0
    # The encoded state the row was cut from, which the fleet view keeps for the device
    # detail: here rather than in a second dict by device id (~40 bytes a device).
    encoded_state: bytes = b""
    # The fact about the device's user that held at its last decision (on leave,
    # deactivated); None for nearly every device.
    user_hold: UserHold | None = None

    # `DeviceState.registered_at`, where known.
    registered_at: Timestamp | None = None


def sibling(row: DeviceRow) -> Sibling:
    """The row's device as one of its user's devices (for `newer_device_hint`)."""
    heard = row.last_heartbeat
    appeared = row.registered_at if row.registered_at is not None else row.first_seen
    return Sibling(
        row.device_id,
        moment(appeared),
        moment(heard) if heard is not None else None,
        row.deactivated,
    )


def _worst_slot(state: DeviceState) -> tuple[AlertKind, str | None] | None:
    """The kind and destination of the device's most urgent open alert: the worst level,
    then the kind first in `KINDS` (the order the device detail lists them), then the
    first destination."""
    found: tuple[int, int, AlertKind, str | None] | None = None
    for open_slot in open_slots(state):
        kind = open_slot.kind
        rank, index = RANK[open_slot.slot.level], KINDS.index(kind)
        if found is None or (rank, -index) > (found[0], -found[1]):
            found = (rank, index, kind.name, open_slot.destination_id)
    return None if found is None else (found[2], found[3])


def device_row(
    state: DeviceState,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
    partition: int = 0,
    encoded_state: bytes = b"",
    hints: Hints | None = None,
) -> DeviceRow:
    """The report row of a device; `now` is its stream time (for the diagnosis, with
    what `hints` say of the user's other devices)."""
    destinations = state.destinations
    levels = kind_levels(state)
    worst_state = worst(levels)
    top_cause = None
    slot = None if worst_state == "ok" else _worst_slot(state)
    if slot is not None:
        kind, destination_id = slot
        causes = diagnose(
            state, kind, now, destination_id=destination_id, policy=policy, hints=hints
        )
        top_cause = causes[0].code if causes else None
    figures = device_figures(state)
    last_heartbeat = _timestamp(state.last_heartbeat)
    # A heartbeat that reached a destination is the last connection too: one float.
    last_connected = (
        last_heartbeat
        if state.last_connected == state.last_heartbeat
        else _timestamp(state.last_connected)
    )
    # The strings many devices share are taken from the shared table rather than from
    # the decoded state (which has a copy per device): the fleet view holds a row for
    # every device.
    return DeviceRow(
        device_id=state.device_id,
        org_id=shared(state.org_id),
        user_id=state.user_id,
        hostname=state.hostname,
        os=shared(state.os),
        app_version=shared(state.app_version),
        destinations=shared_ids([d.destination_id for d in destinations]),
        **dict(zip(KIND_NAMES, levels, strict=True)),
        worst_state=worst_state,
        first_seen=state.first_seen.timestamp(),
        last_heartbeat=last_heartbeat,
        last_connected=last_connected,
        last_activity=_timestamp(figures["last_activity"]),
        last_completed_backup=_timestamp(figures["last_completed_backup"]),
        percent_complete=figures["percent_complete"],
        selected_bytes=figures["selected_bytes"],
        todo_bytes=figures["todo_bytes"],
        snoozed_until=_timestamp(state.snoozed_until),
        deactivated=state.deactivated,
        backup_paused=state.backup_paused,
        top_cause=top_cause,
        partition=partition,
        encoded_state=encoded_state,
        user_hold=state.user_hold,
        registered_at=_timestamp(state.registered_at),
    )


# -- what depends on the time of asking ------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportContext:
    """What a query needs besides the rows: each device's stream time and org policy."""

    now_of: Callable[[DeviceRow], datetime]
    policy_of: Callable[[str], Policy] = lambda _org: DEFAULT_POLICY


def is_online(row: DeviceRow, ctx: ReportContext) -> bool:
    """Whether the last heartbeat is within the org's online window of the stream time
    (compared as timestamps: exact, where a difference of two floats is not)."""
    if row.last_heartbeat is None:
        return False
    since = ctx.now_of(row) - ctx.policy_of(row.org_id).online_window
    return row.last_heartbeat > since.timestamp()


def days_inactive(row: DeviceRow, ctx: ReportContext) -> float:
    """Days since the last backup activity (any progress report), or since the device was
    first seen when it never reported any."""
    since = row.last_activity if row.last_activity is not None else row.first_seen
    # Between datetimes, so that the days are those of the exact microseconds.
    return max(0.0, (ctx.now_of(row) - moment(since)).total_seconds() / 86400)


def is_snoozed(row: DeviceRow, ctx: ReportContext) -> bool:
    return row.snoozed_until is not None and row.snoozed_until > ctx.now_of(row).timestamp()


# -- columns -------------------------------------------------------------------------

# Each sortable column: how to read it from a row (a value that compares; None sorts
# last in either order). States sort by severity, times by time.
_Getter = Callable[[DeviceRow, ReportContext], Any]


def _plain(name: str) -> _Getter:
    return lambda row, _ctx: getattr(row, name)


def _level(name: str) -> _Getter:
    return lambda row, _ctx: RANK[getattr(row, name)]


COLUMNS: dict[str, _Getter] = {
    "device_id": _plain("device_id"),
    "org_id": _plain("org_id"),
    "user_id": _plain("user_id"),
    "hostname": lambda row, _ctx: row.hostname.lower(),
    "os": _plain("os"),
    "app_version": lambda row, _ctx: parse_version(row.app_version) if row.app_version else None,
    "destinations": lambda row, _ctx: len(row.destinations),
    **{kind: _level(kind) for kind in KIND_NAMES},
    "worst_state": _level("worst_state"),
    "online": lambda row, ctx: int(is_online(row, ctx)),
    "days_inactive": days_inactive,
    "percent_complete": _plain("percent_complete"),
    "first_seen": _plain("first_seen"),
    "last_heartbeat": _plain("last_heartbeat"),
    "last_connected": _plain("last_connected"),
    "last_activity": _plain("last_activity"),
    "last_completed_backup": _plain("last_completed_backup"),
    "selected_bytes": _plain("selected_bytes"),
    "todo_bytes": _plain("todo_bytes"),
    "snoozed_until": _plain("snoozed_until"),
    "deactivated": lambda row, _ctx: int(row.deactivated),
    "top_cause": _plain("top_cause"),
}

# -- the query -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    """Which rows, in which order, how many: the filters as typed values (None: any).
    `after` is the sort key of the last row of the previous page."""

    org: str | None = None
    user: str | None = None
    state: Level | None = None
    kind: str | None = None
    online: bool | None = None
    min_days_inactive: float | None = None
    version_below: tuple[int, ...] | None = None
    completed_below: float | None = None
    snoozed: bool | None = None
    deactivated: bool | None = None
    search: str | None = None
    sort: str = "worst_state"
    descending: bool = True
    limit: int = DEFAULT_PAGE
    after: tuple[Any, ...] | None = None


def _matches(row: DeviceRow, query: DeviceQuery, ctx: ReportContext) -> bool:
    if query.org is not None and row.org_id != query.org:
        return False
    if query.user is not None and row.user_id != query.user:
        return False
    if query.state is not None or query.kind is not None:
        level = getattr(row, query.kind) if query.kind is not None else row.worst_state
        if query.state is not None and level != query.state:
            return False
        if query.state is None and level == "ok":
            return False
    if query.deactivated is not None and row.deactivated != query.deactivated:
        return False
    if query.completed_below is not None and not row.percent_complete < query.completed_below:
        return False
    if query.version_below is not None and (
        not row.app_version or parse_version(row.app_version) >= query.version_below
    ):
        return False
    if query.search is not None and not (
        query.search in row.device_id.lower()
        or query.search in row.hostname.lower()
        or query.search in row.user_id.lower()
    ):
        return False
    if query.online is not None and is_online(row, ctx) != query.online:
        return False
    if query.snoozed is not None and is_snoozed(row, ctx) != query.snoozed:
        return False
    if query.min_days_inactive is not None:
        if days_inactive(row, ctx) < query.min_days_inactive:
            return False
    return True


def _narrow(rows: Iterable[DeviceRow], query: DeviceQuery) -> list[DeviceRow]:
    """The rows passing the query's equality filters: the common admin questions (an org,
    a state) answered with plain comprehensions before the general check."""
    narrowed = rows if isinstance(rows, list) else list(rows)
    if query.org is not None:
        narrowed = [row for row in narrowed if row.org_id == query.org]
    if query.user is not None:
        narrowed = [row for row in narrowed if row.user_id == query.user]
    if query.state is not None and query.kind is None:
        narrowed = [row for row in narrowed if row.worst_state == query.state]
    return narrowed


def _needs_matching(query: DeviceQuery) -> bool:
    """Whether filters other than those `_narrow` applies are set."""
    return any(
        value is not None
        for value in (
            query.kind,
            query.online,
            query.min_days_inactive,
            query.version_below,
            query.completed_below,
            query.snoozed,
            query.deactivated,
            query.search,
        )
    )


@dataclass(slots=True)
class Page:
    """One page of the rows a query selects, and how many it selects in all."""

    rows: list[DeviceRow]
    total: int
    # The sort key of the page's last row when more rows follow: the next page's `after`.
    next_after: tuple[Any, ...] | None = None


# Columns never None whose values come straight from a row attribute: their sort keys
# are built by C-level map/zip, which matters at a million rows.
_NEVER_NONE_PLAIN = (
    *("device_id", "org_id", "user_id", "os"),
    *("percent_complete", "selected_bytes", "todo_bytes"),
)
_LEVEL_COLUMNS = (*KIND_NAMES, "worst_state")


def _sort_keys(rows: list[DeviceRow], query: DeviceQuery, ctx: ReportContext) -> list[Any]:
    """The sort key of each row: (present, value, device_id), with `present` chosen so
    that rows without a value come last in either order."""
    present, missing = (1, 0) if query.descending else (0, 1)
    ids = list(map(_DEVICE_ID, rows))
    name = query.sort
    if name in _NEVER_NONE_PLAIN:
        return list(zip(repeat(present), map(attrgetter(name), rows), ids, strict=False))
    if name in _LEVEL_COLUMNS:
        ranks = map(RANK.__getitem__, map(attrgetter(name), rows))
        return list(zip(repeat(present), ranks, ids, strict=False))
    get = COLUMNS[name]
    return [
        (missing, 0, device_id) if value is None else (present, value, device_id)
        for value, device_id in zip((get(row, ctx) for row in rows), ids, strict=True)
    ]


_DEVICE_ID = attrgetter("device_id")
_first = itemgetter(0)


def select(
    rows: Iterable[DeviceRow], query: DeviceQuery, ctx: ReportContext, *, everything: bool = False
) -> Page:
    """The page of matching rows after the query's `after` key, in its order.

    Paging is by key (the sort value, then the device id), not by offset: a device that
    changes between two pages is neither skipped twice nor listed twice because others moved.
    With `everything`, every matching row in order (the CSV download).
    """
    matched = _narrow(rows, query)
    if _needs_matching(query):
        matched = [row for row in matched if _matches(row, query, ctx)]
    keyed = list(zip(_sort_keys(matched, query, ctx), matched, strict=True))
    if query.after is not None:
        after = query.after
        keyed = [kr for kr in keyed if (kr[0] < after if query.descending else kr[0] > after)]
    if everything:
        keyed.sort(key=_first, reverse=query.descending)
        return Page([row for _, row in keyed], len(matched))
    # One page of a large fleet: a bounded heap, not a sort of every match.
    pick = heapq.nlargest if query.descending else heapq.nsmallest
    page = pick(query.limit + 1, keyed, key=_first)
    next_after = None
    if len(page) > query.limit:
        page = page[: query.limit]
        next_after = page[-1][0]
    return Page([row for _, row in page], len(matched), next_after)


# -- holds -------------------------------------------------------------------------------

# What keeps a device's alerts quiet.
HoldState = Literal["deactivated", "on_leave", "snoozed"]
# Who said so: the device (its own deactivation or snooze) or its user (on leave, left).
HoldSource = Literal["device", "user"]


@dataclass(frozen=True, slots=True)
class Hold:
    """What keeps a device's alerts quiet at its stream time, and who said so."""

    state: HoldState
    source: HoldSource
    since: Timestamp | None
    until: Timestamp | None
    reason: str


def hold_of(row: DeviceRow, ctx: ReportContext) -> Hold | None:
    """The device's own deactivation or snooze, or a fact about its user, that holds at
    its stream time; None when nothing does."""
    hold = row.user_hold
    now = ctx.now_of(row).timestamp()
    if row.deactivated:
        return Hold("deactivated", "device", None, None, "")
    if hold is not None and hold.kind == "deactivated":
        return Hold("deactivated", "user", hold.start.timestamp(), None, hold.reason)
    if hold is not None and hold.until is not None and hold.until.timestamp() > now:
        return Hold("on_leave", "user", hold.start.timestamp(), hold.until.timestamp(), hold.reason)
    if is_snoozed(row, ctx):
        return Hold("snoozed", "device", None, row.snoozed_until, "")
    return None


# -- rollups ---------------------------------------------------------------------------


def _urgency(row: DeviceRow) -> tuple[int, float, str]:
    """Most urgent first: worst state, then the longest silence."""
    reference = row.last_connected if row.last_connected is not None else row.first_seen
    return (-RANK[row.worst_state], reference, row.device_id)


@dataclass(frozen=True, slots=True)
class OrgRollup:
    """An org at the time of asking: its active devices counted per state and per kind
    (deactivated devices apart), and the most urgent of them first."""

    org_id: str
    devices: int
    active: int
    online: int
    deactivated: int
    snoozed: int
    app_version_outdated: int
    by_state: dict[Level, int]
    by_kind: dict[str, dict[Level, int]]
    most_urgent: list[DeviceRow]


@dataclass(frozen=True, slots=True)
class UserRollup:
    """A user shows the worst of their active devices."""

    user_id: str
    orgs: list[str]
    devices: int
    worst_state: Level
    alert_states: dict[str, Level]
    online: bool
    # Every device of the user, the most urgent first.
    device_list: list[DeviceRow]


@dataclass(frozen=True, slots=True)
class FleetRollup:
    """Devices per state (deactivated apart) of the fleet and of each org, in org order;
    each count has the keys of `LEVELS` and `devices` and `deactivated`."""

    totals: dict[str, int]
    orgs: dict[str, dict[str, int]]


def summarize_org(
    org_id: str, rows: Sequence[DeviceRow], ctx: ReportContext, top: int = 10
) -> OrgRollup:
    """Counts per state and per kind (deactivated devices apart), most urgent first."""
    by_state: dict[Level, int] = dict.fromkeys(LEVELS, 0)
    by_kind: dict[str, dict[Level, int]] = {kind: dict.fromkeys(LEVELS, 0) for kind in KIND_NAMES}
    online = deactivated = snoozed = outdated = 0
    active: list[DeviceRow] = []
    policy = ctx.policy_of(org_id)
    for row in rows:
        if row.deactivated:
            deactivated += 1
            continue
        active.append(row)
        online += is_online(row, ctx)
        snoozed += is_snoozed(row, ctx)
        outdated += policy.version_outdated(row.app_version)
        by_state[row.worst_state] += 1
        for kind in KIND_NAMES:
            by_kind[kind][getattr(row, kind)] += 1
    urgent = sorted((r for r in active if r.worst_state != "ok"), key=_urgency)[:top]
    return OrgRollup(
        org_id=org_id,
        devices=len(rows),
        active=len(active),
        online=online,
        deactivated=deactivated,
        snoozed=snoozed,
        app_version_outdated=outdated,
        by_state=by_state,
        by_kind=by_kind,
        most_urgent=urgent,
    )


def summarize_user(user_id: str, rows: Sequence[DeviceRow], ctx: ReportContext) -> UserRollup:
    """A user shows the worst of their active devices."""
    active = [r for r in rows if not r.deactivated]
    alert_states: dict[str, Level] = {
        kind: worst(getattr(r, kind) for r in active) for kind in KIND_NAMES
    }
    return UserRollup(
        user_id=user_id,
        orgs=sorted({r.org_id for r in rows}),
        devices=len(rows),
        worst_state=worst(alert_states.values()),
        alert_states=alert_states,
        online=any(is_online(r, ctx) for r in active),
        device_list=sorted(rows, key=_urgency),
    )


def summarize_fleet(rows: Iterable[DeviceRow]) -> FleetRollup:
    """Counts per org and state: the dashboard's first view."""

    def zero() -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(LEVELS, 0)
        counts.update(devices=0, deactivated=0)
        return counts

    orgs: dict[str, dict[str, int]] = {}
    totals = zero()
    for row in rows:
        counts = orgs.get(row.org_id)
        if counts is None:
            counts = orgs[row.org_id] = zero()
        for target in (counts, totals):
            target["devices"] += 1
            if row.deactivated:
                target["deactivated"] += 1
            else:
                target[row.worst_state] += 1
    return FleetRollup(totals, dict(sorted(orgs.items())))
