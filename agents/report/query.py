"""The device list's query as a URL gives it, and the cursors its pages hand back.

The core (`streams.report`) takes a `DeviceQuery` of typed values and answers with rows;
this module turns URL parameters into one (naming the first bad parameter), and a page's
last sort key into the opaque cursor a client passes back for the next page.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

import msgspec
import orjson
from msgspec import UNSET, Meta, UnsetType

from agents.report.errors import QueryError
from schemas.types import AlertKind, Level
from streams.kinds import KIND_NAMES, LEVELS
from streams.policy import parse_version
from streams.report import COLUMNS, DEFAULT_PAGE, DeviceQuery, Page

__all__ = [
    "CSV_PARAMETERS",
    "MAX_PAGE",
    "MAX_VERSION_LENGTH",
    "QUERY_PARAMETERS",
    "DeviceListParameters",
    "OrgSummaryParameters",
    "next_cursor",
    "parse_query",
    "parse_top",
    "single_parameters",
]

MAX_PAGE = 1000
# As the `app_version` of a device's heartbeat (schemas.models).
MAX_VERSION_LENGTH = 64
# A hundred years: more than any device has been silent.
MAX_DAYS_INACTIVE = 36500

_Name = Annotated[str, Meta(min_length=1, max_length=256)]


class DeviceListParameters(msgspec.Struct, kw_only=True):
    """The query parameters of the device list, as the OpenAPI document gives them (each
    field's description is its parameter's). `parse_query` reads exactly these."""

    org: Annotated[_Name, Meta(description="Only devices of this org.")] | UnsetType = UNSET
    user: Annotated[_Name, Meta(description="Only devices of this user.")] | UnsetType = UNSET
    state: (
        Annotated[
            Level,
            Meta(
                description="Devices in this state: of `kind` when given, else the device's "
                "worst state."
            ),
        ]
        | UnsetType
    ) = UNSET
    kind: (
        Annotated[
            AlertKind,
            Meta(description="With `state`: the state of this kind; alone: devices not ok in it."),
        ]
        | UnsetType
    ) = UNSET
    online: (
        Annotated[bool, Meta(description="Heartbeat within the org's online window.")] | UnsetType
    ) = UNSET
    min_days_inactive: (
        Annotated[
            float,
            Meta(
                ge=0,
                le=MAX_DAYS_INACTIVE,
                description="At least this many days since the last backup activity (or "
                "since first seen).",
            ),
        ]
        | UnsetType
    ) = UNSET
    version_below: (
        Annotated[
            str,
            Meta(
                max_length=MAX_VERSION_LENGTH,
                description="App version below this one (e.g. 11.2.1).",
            ),
        ]
        | UnsetType
    ) = UNSET
    completed_below: (
        Annotated[
            float,
            Meta(ge=0, le=100, description="Completed % (least complete destination) below this."),
        ]
        | UnsetType
    ) = UNSET
    snoozed: (
        Annotated[bool, Meta(description="Snoozed at the device's stream time.")] | UnsetType
    ) = UNSET
    deactivated: Annotated[bool, Meta(description="Deactivated devices (or not).")] | UnsetType = (
        UNSET
    )
    q: (
        Annotated[str, Meta(description="Search: part of the device id, hostname or user id.")]
        | UnsetType
    ) = UNSET
    sort: Annotated[
        str, Meta(extra_json_schema={"enum": list(COLUMNS)}, description="Column to sort by.")
    ] = "worst_state"
    order: Annotated[
        str, Meta(extra_json_schema={"enum": ["asc", "desc"]}, description="Sort order.")
    ] = "desc"
    limit: Annotated[int, Meta(ge=1, le=MAX_PAGE, description="Page size.")] = DEFAULT_PAGE
    cursor: Annotated[str, Meta(description="`next_cursor` of the previous page.")] | UnsetType = (
        UNSET
    )


QUERY_PARAMETERS: tuple[str, ...] = DeviceListParameters.__struct_fields__
# The CSV download has every match: the same filters, no paging.
CSV_PARAMETERS = tuple(name for name in QUERY_PARAMETERS if name not in ("limit", "cursor"))

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
            "min_days_inactive", params["min_days_inactive"], 0, MAX_DAYS_INACTIVE
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
        query = DeviceQuery(**{**values, "after": _decode_cursor(params["cursor"], query)})
    return query


MAX_TOP = 1000


class OrgSummaryParameters(msgspec.Struct, kw_only=True):
    """The query parameters of an org's summary."""

    top: Annotated[int, Meta(ge=1, le=MAX_TOP, description="How many urgent devices to list.")] = 10


def parse_top(params: Mapping[str, str]) -> int:
    """How many urgent devices an org's summary lists; `QueryError` when not a whole
    number from 1 to `MAX_TOP`."""
    raw = params.get("top", "10")
    try:
        top = int(raw)
    except ValueError:
        raise QueryError("top", f"expected a whole number, got {raw!r}") from None
    if not 1 <= top <= MAX_TOP:
        raise QueryError("top", f"must be between 1 and {MAX_TOP}, got {top}")
    return top


# -- cursors -----------------------------------------------------------------------------


def next_cursor(query: DeviceQuery, page: Page) -> str | None:
    """The cursor of the page after `page`: its last sort key with the sort it belongs
    to, as URL-safe text; None when `page` ends the list."""
    if page.next_after is None:
        return None
    payload = orjson.dumps([query.sort, query.descending, *page.next_after])
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
    """Whether `key` has the shape `streams.report` gives a row's sort key under
    `query`'s sort: (present, value, device_id)."""
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
