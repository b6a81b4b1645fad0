"""The fleet report: one row per device, and the queries an admin runs over them.

A row is what the device status report shows of a device, cut from its state when the
state changes. What depends on the time of asking (online, days since the last backup
activity) is worked out at query time against the device's stream time, so a row never
goes stale while it waits.
"""

from __future__ import annotations

import base64
import binascii
import csv
import heapq
import io
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any

import msgspec
import orjson

from schemas.types import AlertKind, Level
from streams.diagnosis import Hints, Sibling, diagnose
from streams.fastpath import shared, shared_ids
from streams.kinds import KIND_NAMES, KINDS, LEVELS, RANK, kind_levels, open_slots, worst
from streams.policy import DEFAULT_POLICY, Policy, parse_version
from streams.state import DeviceState, UserHold
from streams.status import device_figures

__all__ = [
    "COLUMNS",
    "CSV_COLUMNS",
    "MAX_PAGE",
    "MAX_VERSION_LENGTH",
    "DeviceQuery",
    "DeviceRow",
    "Page",
    "QueryError",
    "ReportContext",
    "csv_lines",
    "device_row",
    "hold_json",
    "parse_query",
    "row_json",
    "select",
    "sibling",
    "single_parameters",
    "summarize_fleet",
    "summarize_org",
    "summarize_user",
]

DEFAULT_PAGE = 100
MAX_PAGE = 1000

# A moment as POSIX seconds. The row holds its times so, not as datetimes: a float takes
# 24 bytes, a datetime 48, and the fleet view keeps a row of seven times per device. A
# float is exact to well under half a microsecond for every time the schemas accept
# (2000–2100), so `_moment` gives back the very datetime the state held and two times
# compare as their datetimes did: answers are those the datetimes gave.
Timestamp = float


def _timestamp(t: datetime | None) -> Timestamp | None:
    return t.timestamp() if t is not None else None


def _moment(seconds: Timestamp) -> datetime:
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
        _moment(appeared),
        _moment(heard) if heard is not None else None,
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


def _online(row: DeviceRow, ctx: ReportContext) -> bool:
    """Whether the last heartbeat is within the org's online window of the stream time
    (compared as timestamps: exact, where a difference of two floats is not)."""
    if row.last_heartbeat is None:
        return False
    since = ctx.now_of(row) - ctx.policy_of(row.org_id).online_window
    return row.last_heartbeat > since.timestamp()


def _days_inactive(row: DeviceRow, ctx: ReportContext) -> float:
    """Days since the last backup activity (any progress report), or since the device was
    first seen when it never reported any."""
    since = row.last_activity if row.last_activity is not None else row.first_seen
    # Between datetimes, so that the days are those of the exact microseconds.
    return max(0.0, (ctx.now_of(row) - _moment(since)).total_seconds() / 86400)


def _snoozed(row: DeviceRow, ctx: ReportContext) -> bool:
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
    "online": lambda row, ctx: int(_online(row, ctx)),
    "days_inactive": _days_inactive,
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


# -- the query -------------------------------------------------------------------------


# As the `app_version` of a device's heartbeat (schemas.models).
MAX_VERSION_LENGTH = 64


class QueryError(ValueError):
    """A bad query parameter: which one, and what is wrong with it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True, slots=True)
class DeviceQuery:
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
    cursor: tuple[Any, ...] | None = None


QUERY_PARAMETERS = (
    "org",
    "user",
    "state",
    "kind",
    "online",
    "min_days_inactive",
    "version_below",
    "completed_below",
    "snoozed",
    "deactivated",
    "q",
    "sort",
    "order",
    "limit",
    "cursor",
)

_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _boolean(name: str, raw: str) -> bool:
    try:
        return _BOOLEANS[raw.strip().lower()]
    except KeyError:
        raise QueryError(name, f"expected true or false, got {raw!r}") from None


def _number(name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise QueryError(name, f"expected a number, got {raw!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise QueryError(name, f"must be between {low:g} and {high:g}, got {raw!r}")
    return value


def single_parameters(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """URL parameters (name, value) as one value per name; `QueryError` names the first
    given more than once: which of its values was meant cannot be known."""
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise QueryError(name, "given more than once; give each parameter once")
        params[name] = value
    return params


def parse_query(params: Mapping[str, str]) -> DeviceQuery:
    """A query from URL parameters; `QueryError` names the first bad one."""
    unknown = sorted(set(params) - set(QUERY_PARAMETERS))
    if unknown:
        raise QueryError(unknown[0], f"unknown parameter; known: {', '.join(QUERY_PARAMETERS)}")
    values: dict[str, Any] = {}
    for name in ("org", "user"):
        if params.get(name):
            values[name] = params[name]
    if "q" in params and params["q"].strip():
        values["search"] = params["q"].strip().lower()
    if "state" in params:
        if params["state"] not in LEVELS:
            raise QueryError(
                "state", f"expected one of {', '.join(LEVELS)}, got {params['state']!r}"
            )
        values["state"] = params["state"]
    if "kind" in params:
        if params["kind"] not in KIND_NAMES:
            raise QueryError(
                "kind", f"expected one of {', '.join(KIND_NAMES)}, got {params['kind']!r}"
            )
        values["kind"] = params["kind"]
    for name in ("online", "snoozed", "deactivated"):
        if name in params:
            values[name] = _boolean(name, params[name])
    if "min_days_inactive" in params:
        values["min_days_inactive"] = _number(
            "min_days_inactive", params["min_days_inactive"], 0, 36500
        )
    if "completed_below" in params:
        values["completed_below"] = _number("completed_below", params["completed_below"], 0, 100)
    if "version_below" in params:
        raw = params["version_below"].strip()
        # No app version a device reports is longer; and a part of thousands of digits
        # is more than Python turns into a number.
        if len(raw) > MAX_VERSION_LENGTH:
            raise QueryError(
                "version_below",
                f"expected a version like 11.2.1 of at most {MAX_VERSION_LENGTH} characters, "
                f"got {len(raw)}",
            )
        if not raw or not any(ch.isdigit() for ch in raw):
            raise QueryError("version_below", f"expected a version like 11.2.1, got {raw!r}")
        values["version_below"] = parse_version(raw)
    if "sort" in params:
        if params["sort"] not in COLUMNS:
            raise QueryError(
                "sort", f"unknown column {params['sort']!r}; one of {', '.join(COLUMNS)}"
            )
        values["sort"] = params["sort"]
    if "order" in params:
        if params["order"] not in ("asc", "desc"):
            raise QueryError("order", f"expected asc or desc, got {params['order']!r}")
        values["descending"] = params["order"] == "desc"
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise QueryError("limit", f"expected a whole number, got {params['limit']!r}") from None
        if not 1 <= limit <= MAX_PAGE:
            raise QueryError("limit", f"must be between 1 and {MAX_PAGE}, got {limit}")
        values["limit"] = limit
    query = DeviceQuery(**values)
    if params.get("cursor"):
        query = DeviceQuery(**{**values, "cursor": _decode_cursor(params["cursor"], query)})
    return query


def _encode_cursor(query: DeviceQuery, key: tuple[Any, ...]) -> str:
    payload = orjson.dumps([query.sort, query.descending, *key])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _decode_cursor(raw: str, query: DeviceQuery) -> tuple[Any, ...]:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        raise QueryError("cursor", "not a cursor this API returned") from None
    if not isinstance(payload, list) or len(payload) != 5:
        raise QueryError("cursor", "not a cursor this API returned")
    sort, descending, *key = payload
    if sort != query.sort or descending != query.descending:
        raise QueryError(
            "cursor", "the cursor belongs to another sort order; start again without it"
        )
    # A key of the wrong shape would fail the comparisons with every row's key.
    if not _key_fits(query, key):
        raise QueryError("cursor", "not a cursor this API returned")
    if isinstance(key[1], list):  # app versions travel as JSON arrays
        key[1] = tuple(key[1])
    return tuple(key)


# Columns whose sort values are text; app versions are lists of numbers; the rest numbers.
_TEXT_COLUMNS = frozenset({"device_id", "org_id", "user_id", "hostname", "os", "top_cause"})


def _key_fits(query: DeviceQuery, key: list[Any]) -> bool:
    """Whether `key` has the shape `_sort_key` gives a row under `query`'s sort."""
    flag, value, device_id = key
    if type(flag) is not int or flag not in (0, 1) or not isinstance(device_id, str):
        return False
    if flag == (0 if query.descending else 1):  # the placeholder of a missing value
        return type(value) is int and value == 0
    if query.sort in _TEXT_COLUMNS:
        return isinstance(value, str)
    if query.sort == "app_version":
        return isinstance(value, list) and all(type(part) is int for part in value)
    return type(value) in (int, float)


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
    if query.online is not None and _online(row, ctx) != query.online:
        return False
    if query.snoozed is not None and _snoozed(row, ctx) != query.snoozed:
        return False
    if query.min_days_inactive is not None:
        if _days_inactive(row, ctx) < query.min_days_inactive:
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
    rows: list[DeviceRow]
    total: int
    next_cursor: str | None = None
    matched: list[DeviceRow] = field(default_factory=list)


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
    """The page of matching rows after the query's cursor, in its order.

    Paging is by key (the sort value, then the device id), not by offset: a device that
    changes between two pages is neither skipped twice nor listed twice because others moved.
    With `everything`, every matching row in order (the CSV download).
    """
    matched = _narrow(rows, query)
    if _needs_matching(query):
        matched = [row for row in matched if _matches(row, query, ctx)]
    keyed = list(zip(_sort_keys(matched, query, ctx), matched, strict=True))
    if query.cursor is not None:
        after = query.cursor
        keyed = [kr for kr in keyed if (kr[0] < after if query.descending else kr[0] > after)]
    if everything:
        keyed.sort(key=_first, reverse=query.descending)
        return Page([row for _, row in keyed], len(matched))
    # One page of a large fleet: a bounded heap, not a sort of every match.
    pick = heapq.nlargest if query.descending else heapq.nsmallest
    page = pick(query.limit + 1, keyed, key=_first)
    next_cursor = None
    if len(page) > query.limit:
        page = page[: query.limit]
        next_cursor = _encode_cursor(query, page[-1][0])
    return Page([row for _, row in page], len(matched), next_cursor)


# -- output ----------------------------------------------------------------------------


def _iso(value: Timestamp | None) -> str | None:
    return _moment(value).isoformat() if value is not None else None


def row_json(row: DeviceRow, ctx: ReportContext) -> dict[str, Any]:
    """A row as the API returns it, with the columns that depend on the time of asking."""
    return {
        "device_id": row.device_id,
        "org_id": row.org_id,
        "user_id": row.user_id,
        "hostname": row.hostname,
        "os": row.os,
        "app_version": row.app_version,
        "app_version_outdated": ctx.policy_of(row.org_id).version_outdated(row.app_version),
        "destinations": list(row.destinations),
        "alert_states": {kind: getattr(row, kind) for kind in KIND_NAMES},
        "worst_state": row.worst_state,
        "online": _online(row, ctx),
        "percent_complete": row.percent_complete,
        "first_seen": _iso(row.first_seen),
        "last_heartbeat": _iso(row.last_heartbeat),
        "last_connected": _iso(row.last_connected),
        "last_activity": _iso(row.last_activity),
        "last_completed_backup": _iso(row.last_completed_backup),
        "days_inactive": round(_days_inactive(row, ctx), 2),
        "selected_bytes": row.selected_bytes,
        "todo_bytes": row.todo_bytes,
        "snoozed": _snoozed(row, ctx),
        "snoozed_until": _iso(row.snoozed_until),
        "deactivated": row.deactivated,
        "backup_paused": row.backup_paused,
        "top_cause": row.top_cause,
        "hold": hold_json(row, ctx),
        "stream_time": ctx.now_of(row).isoformat(),
    }


def hold_json(row: DeviceRow, ctx: ReportContext) -> dict[str, Any] | None:
    """What keeps the device's alerts quiet at its stream time and who said so: the
    device's own deactivation or snooze (`source` "device"), or a fact about its user
    (`source` "user"); None when nothing does."""
    hold = row.user_hold
    now = ctx.now_of(row).timestamp()
    if row.deactivated:
        return _hold("deactivated", "device", None, None, "")
    if hold is not None and hold.kind == "deactivated":
        return _hold("deactivated", "user", hold.start.timestamp(), None, hold.reason)
    if hold is not None and hold.until is not None and hold.until.timestamp() > now:
        return _hold(
            "on_leave", "user", hold.start.timestamp(), hold.until.timestamp(), hold.reason
        )
    if _snoozed(row, ctx):
        return _hold("snoozed", "device", None, row.snoozed_until, "")
    return None


def _hold(
    state: str, source: str, since: Timestamp | None, until: Timestamp | None, reason: str
) -> dict[str, Any]:
    words = {"deactivated": "deactivated", "on_leave": "on leave", "snoozed": "snoozed"}[state]
    text = words
    if since is not None and until is None:
        text += f" since {_moment(since).date().isoformat()}"
    if until is not None:
        text += f" until {_moment(until).date().isoformat()}"
    return {
        "state": state,
        "source": source,
        "since": _iso(since),
        "until": _iso(until),
        "reason": reason,
        "text": f"{text}, by {source}",
    }


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
    return _moment(value).isoformat() if value is not None else ""


def _level_text(kind: str) -> Callable[[DeviceRow, ReportContext], str]:
    return lambda row, _ctx: getattr(row, kind)


# How each CSV column is written; the same values `row_json` gives, cheaper per row.
_CSV_FIELDS: dict[str, Callable[[DeviceRow, ReportContext], str]] = {
    "org_id": lambda r, _c: _inert(r.org_id),
    "user_id": lambda r, _c: _inert(r.user_id),
    "device_id": lambda r, _c: _inert(r.device_id),
    "hostname": lambda r, _c: _inert(r.hostname),
    "destinations": lambda r, _c: _inert(" ".join(r.destinations)),
    "app_version": lambda r, _c: _inert(r.app_version),
    "worst_state": lambda r, _c: r.worst_state,
    **{kind: _level_text(kind) for kind in KIND_NAMES},
    "online": lambda r, c: _yes(_online(r, c)),
    "percent_complete": lambda r, _c: str(r.percent_complete),
    "last_connected": lambda r, _c: _csv_time(r.last_connected),
    "last_completed_backup": lambda r, _c: _csv_time(r.last_completed_backup),
    "last_activity": lambda r, _c: _csv_time(r.last_activity),
    "days_inactive": lambda r, c: str(round(_days_inactive(r, c), 2)),
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


# -- rollups ---------------------------------------------------------------------------


def _urgency(row: DeviceRow) -> tuple[int, float, str]:
    """Most urgent first: worst state, then the longest silence."""
    reference = row.last_connected if row.last_connected is not None else row.first_seen
    return (-RANK[row.worst_state], reference, row.device_id)


def summarize_org(
    org_id: str, rows: Sequence[DeviceRow], ctx: ReportContext, top: int = 10
) -> dict[str, Any]:
    """Counts per state and per kind (deactivated devices apart), most urgent first."""
    by_state = dict.fromkeys(LEVELS, 0)
    by_kind = {kind: dict.fromkeys(LEVELS, 0) for kind in KIND_NAMES}
    online = deactivated = snoozed = outdated = 0
    active: list[DeviceRow] = []
    policy = ctx.policy_of(org_id)
    for row in rows:
        if row.deactivated:
            deactivated += 1
            continue
        active.append(row)
        online += _online(row, ctx)
        snoozed += _snoozed(row, ctx)
        outdated += policy.version_outdated(row.app_version)
        by_state[row.worst_state] += 1
        for kind in KIND_NAMES:
            by_kind[kind][getattr(row, kind)] += 1
    urgent = sorted((r for r in active if r.worst_state != "ok"), key=_urgency)[:top]
    return {
        "org_id": org_id,
        "devices": len(rows),
        "active": len(active),
        "online": online,
        "deactivated": deactivated,
        "snoozed": snoozed,
        "app_version_outdated": outdated,
        "by_state": by_state,
        "by_kind": by_kind,
        "most_urgent": [row_json(r, ctx) for r in urgent],
    }


def summarize_user(user_id: str, rows: Sequence[DeviceRow], ctx: ReportContext) -> dict[str, Any]:
    """A user shows the worst of their active devices."""
    active = [r for r in rows if not r.deactivated]
    alert_states = {kind: worst(getattr(r, kind) for r in active) for kind in KIND_NAMES}
    return {
        "user_id": user_id,
        "orgs": sorted({r.org_id for r in rows}),
        "devices": len(rows),
        "worst_state": worst(alert_states.values()),
        "alert_states": alert_states,
        "online": any(_online(r, ctx) for r in active),
        "device_list": [row_json(r, ctx) for r in sorted(rows, key=_urgency)],
    }


def summarize_fleet(rows: Iterable[DeviceRow]) -> dict[str, Any]:
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
    return {
        "totals": totals,
        "orgs": [{"org_id": org, **counts} for org, counts in sorted(orgs.items())],
    }
