"""The device list's query from a URL, and the cursors its pages hand back: walking the
pages lists every row once in the column's order; a bad parameter or a cursor not
handed out (or handed out for another sort) is refused by name.

The rows are built directly (`tests.unit.streams.test_report.row`), so that each test
says exactly which column it is about.
"""

from __future__ import annotations

import base64
import random
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.report.errors import QueryError
from agents.report.query import QUERY_PARAMETERS, next_cursor, parse_query
from schemas.types import Level
from streams.report import COLUMNS, DeviceRow, select
from tests.unit.factories import SECOND
from tests.unit.streams.test_report import CLOCK, DAY, context, ids, row

# --- cursor paging --------------------------------------------------------------------

LEVELS: list[Level] = ["ok", "warning", "critical"]


def random_fleet(rng: random.Random, count: int) -> list[DeviceRow]:
    """`count` rows with few distinct values per column, so that ties (broken by the
    device id) are common, and missing values where a column can miss."""

    def maybe_time() -> datetime | None:
        return rng.choice([None, CLOCK - rng.randrange(0, 40 * 86400) * SECOND, CLOCK - DAY])

    pick = rng.choice
    device_ids = rng.sample([f"{a}{b}" for a in "abcxyz-" for b in "0-1289"], count)
    return [
        row(
            device_id,
            org_id=pick(["org-1", "org-2"]),
            user_id=pick(["ann", "bob", "cid"]),
            hostname=pick(["alpha", "Alpha", "beta", ""]),
            os=pick(["linux", "windows"]),
            app_version=pick(["", "9.1", "11.2.0", "11.10.0", "11.2", "11.2.1"]),
            destinations=pick([(), ("cloud",), ("cloud", "nas")]),
            connection=pick(LEVELS),
            backup=pick(LEVELS),
            completion=pick(LEVELS),
            first_seen=pick([CLOCK - 40 * DAY, CLOCK - 2 * DAY]),
            last_heartbeat=maybe_time(),
            last_connected=maybe_time(),
            last_activity=maybe_time(),
            last_completed_backup=maybe_time(),
            percent_complete=pick([0.0, 33.3, 99.9, 100.0]),
            selected_bytes=pick([0, 1, 10**12]),
            todo_bytes=pick([0, 7]),
            snoozed_until=maybe_time(),
            deactivated=pick([False, True]),
            top_cause=pick([None, "no_connection", "paused_by_user"]),
            partition=pick([0, 1]),
        )
        for device_id in device_ids
    ]


def walk(rows: list[DeviceRow], column: str, order: str, page_size: int) -> None:
    """Walking the pages with `next_cursor` lists every row once, in the column's order."""
    ctx = context()
    params = {"sort": column, "order": order, "limit": str(page_size)}
    everything = select(rows, parse_query(params), ctx, everything=True).rows

    walked: list[DeviceRow] = []
    cursor: str | None = None
    for _ in range(len(rows) + 1):
        query = parse_query({**params, **({"cursor": cursor} if cursor else {})})
        page = select(rows, query, ctx)
        assert page.total == len(rows)
        assert len(page.rows) <= page_size
        walked += page.rows
        cursor = next_cursor(query, page)
        if cursor is None:
            break
    assert cursor is None, "the pages never ended"

    assert ids(walked) == ids(everything)
    assert sorted(ids(walked)) == sorted(ids(rows))
    # The order is the column's, missing values last.
    get = COLUMNS[column]
    values = [get(r, ctx) for r in walked]
    present = [v for v in values if v is not None]
    assert values == present + [None] * (len(values) - len(present))
    assert present == sorted(present, reverse=order == "desc")


@settings(max_examples=300, deadline=None)
@given(
    rng=st.randoms(use_true_random=False),
    count=st.integers(min_value=0, max_value=30),
    column=st.sampled_from(list(COLUMNS)),
    order=st.sampled_from(["asc", "desc"]),
    page_size=st.integers(min_value=1, max_value=12),
)
def test_walking_the_pages_lists_every_row_once_in_order(
    rng: random.Random, count: int, column: str, order: str, page_size: int
) -> None:
    walk(random_fleet(rng, count), column, order, page_size)


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("column", list(COLUMNS))
def test_every_column_pages_by_its_cursor(column: str, order: str) -> None:
    rows = random_fleet(random.Random(f"{column}/{order}"), 40)

    for page_size in (1, 3, 7):
        walk(rows, column, order, page_size)


def test_a_page_that_ends_the_list_has_no_cursor() -> None:
    rows = [row(f"dev-{n}") for n in range(4)]

    assert select(rows, parse_query({"limit": "4"}), context()).next_after is None
    assert select(rows, parse_query({"limit": "3"}), context()).next_after is not None


@pytest.mark.parametrize(
    "other",
    [
        {"sort": "device_id", "order": "desc"},
        {"sort": "percent_complete", "order": "asc"},
        {"sort": "worst_state", "order": "desc"},
    ],
)
def test_a_cursor_from_another_sort_is_refused(other: dict[str, str]) -> None:
    rows = [row(f"dev-{n}", percent_complete=float(n)) for n in range(5)]
    first = parse_query({"sort": "device_id", "order": "asc", "limit": "2"})
    cursor = next_cursor(first, select(rows, first, context()))
    assert cursor is not None
    # The same cursor works with the sort it came from.
    parse_query({"sort": "device_id", "order": "asc", "cursor": cursor})

    with pytest.raises(QueryError) as refused:
        parse_query({**other, "cursor": cursor})

    assert refused.value.parameter == "cursor"
    assert "another sort" in refused.value.message


# --- bad queries ----------------------------------------------------------------------


def crafted_cursor(*payload: Any) -> str:

    return base64.urlsafe_b64encode(orjson.dumps(list(payload))).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "parameter", "says"),
    [
        ({"colour": "red"}, "colour", "unknown parameter"),
        ({"state": "red"}, "state", "ok, warning, critical"),
        ({"state": "OK"}, "state", "'OK'"),
        ({"kind": "disk"}, "kind", "connection, backup, completion"),
        ({"sort": "size"}, "sort", "unknown column 'size'"),
        ({"order": "up"}, "order", "asc or desc"),
        ({"online": "maybe"}, "online", "true or false"),
        ({"snoozed": ""}, "snoozed", "true or false"),
        ({"deactivated": "2"}, "deactivated", "true or false"),
        ({"limit": "0"}, "limit", "between 1 and 1000"),
        ({"limit": "1001"}, "limit", "between 1 and 1000"),
        ({"limit": "-5"}, "limit", "between 1 and 1000"),
        ({"limit": "ten"}, "limit", "whole number"),
        ({"limit": "2.5"}, "limit", "whole number"),
        ({"min_days_inactive": "three"}, "min_days_inactive", "a number"),
        ({"min_days_inactive": "-1"}, "min_days_inactive", "between"),
        ({"min_days_inactive": "nan"}, "min_days_inactive", "between"),
        ({"min_days_inactive": "inf"}, "min_days_inactive", "between"),
        ({"completed_below": "101"}, "completed_below", "between 0 and 100"),
        ({"completed_below": "NaN"}, "completed_below", "between 0 and 100"),
        ({"completed_below": "-inf"}, "completed_below", "between 0 and 100"),
        ({"completed_below": ""}, "completed_below", "a number"),
        ({"version_below": "latest"}, "version_below", "a version like"),
        ({"version_below": " "}, "version_below", "a version like"),
        ({"cursor": "not a cursor!"}, "cursor", "not a cursor"),
        ({"cursor": "bm90IGpzb24"}, "cursor", "not a cursor"),  # "not json"
        ({"cursor": crafted_cursor("worst_state", True, 1)}, "cursor", "not a cursor"),
        ({"cursor": crafted_cursor({"a": 1})}, "cursor", "not a cursor"),
    ],
)
def test_a_bad_parameter_is_refused_by_name(
    params: dict[str, str], parameter: str, says: str
) -> None:
    with pytest.raises(QueryError) as refused:
        parse_query(params)

    assert refused.value.parameter == parameter
    assert says in refused.value.message
    assert str(refused.value).startswith(f"{parameter}: ")


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(["x", "y", 3], id="wrong types"),
        pytest.param([1, "dev-1", "dev-1"], id="text where a number belongs"),
        pytest.param([1, 2, 3], id="a number for the device id"),
        pytest.param([7, 2, "dev-1"], id="an unknown missing-value flag"),
        pytest.param([1, [1, "a"], "dev-1"], id="a list where a number belongs"),
    ],
)
def test_a_forged_cursor_is_refused_before_it_reaches_the_rows(key: list[Any]) -> None:
    rows = [row("dev-1", percent_complete=10.0), row("dev-2", percent_complete=20.0)]
    cursor = crafted_cursor("percent_complete", True, *key)

    with pytest.raises(QueryError) as refused:
        select(rows, parse_query({"sort": "percent_complete", "cursor": cursor}), context())

    assert refused.value.parameter == "cursor"


@pytest.mark.parametrize("limit", ["1", "1000", " 7 "])
def test_limits_from_one_to_a_thousand_are_taken(limit: str) -> None:
    assert parse_query({"limit": limit}).limit == int(limit)


def test_an_empty_query_has_the_defaults() -> None:
    query = parse_query({})

    assert (query.sort, query.descending, query.limit, query.after) == (
        "worst_state",
        True,
        100,
        None,
    )


def test_every_known_parameter_is_accepted() -> None:
    values = {
        "org": "org-1",
        "user": "ann",
        "state": "warning",
        "kind": "backup",
        "online": "true",
        "min_days_inactive": "1.5",
        "version_below": "11.2",
        "completed_below": "90",
        "snoozed": "false",
        "deactivated": "false",
        "q": "lap",
        "sort": "hostname",
        "order": "asc",
        "limit": "5",
        "cursor": "",
    }
    assert set(values) == set(QUERY_PARAMETERS)

    query = parse_query(values)

    assert (query.org, query.user, query.state, query.kind) == ("org-1", "ann", "warning", "backup")
    assert (query.online, query.snoozed, query.deactivated) == (True, False, False)
    assert (query.min_days_inactive, query.completed_below) == (1.5, 90.0)
    assert query.version_below == (11, 2)
    assert (query.search, query.sort, query.descending, query.limit) == (
        "lap",
        "hostname",
        False,
        5,
    )
