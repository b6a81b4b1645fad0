"""A query parameter given twice is refused, naming it, by every read that takes one.

Which of two values was meant cannot be known: the JSON list and the CSV download of the
same filters must not each pick one (they once did, the first and the last).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from agents.report.errors import QueryError
from agents.report.query import single_parameters
from tests.unit.agents.report.served_report_api import TOKEN, Served, check_against_document, serve

REPEATS = [
    ("/api/devices", "state=critical&state=purple", "state"),
    ("/api/devices", "state=critical&state=critical", "state"),
    ("/api/devices", "org=org-1&sort=hostname&org=org-2", "org"),
    ("/api/devices", "limit=1&limit=2", "limit"),
    ("/api/devices.csv", "state=critical&state=purple", "state"),
    ("/api/devices.csv", "state=purple&state=critical", "state"),
    ("/api/devices.csv", "q=a&q=b", "q"),
    ("/api/orgs/{org_id}/summary", "top=1&top=2", "top"),
]


@pytest_asyncio.fixture
async def api() -> AsyncIterator[Served]:
    async for served in serve(TOKEN):
        yield served


@pytest.mark.parametrize(("path", "query", "parameter"), REPEATS)
async def test_a_repeated_parameter_is_refused_naming_it(
    api: Served, path: str, query: str, parameter: str
) -> None:
    url = path.replace("{org_id}", "org-1") + "?" + query

    status, body = await api.call("GET", url)

    assert status == 400, body
    assert body["parameter"] == parameter
    assert "more than once" in body["error"]
    check_against_document(path, "get", status, body)


def test_parameters_given_once_each_are_taken_as_given() -> None:
    pairs = [("state", "critical"), ("org", "org-1"), ("q", "")]

    assert single_parameters(pairs) == {"state": "critical", "org": "org-1", "q": ""}


def test_the_first_name_given_twice_is_the_one_named() -> None:
    pairs = [("org", "a"), ("state", "ok"), ("state", "ok"), ("org", "b")]

    with pytest.raises(QueryError) as refused:
        single_parameters(pairs)

    assert refused.value.parameter == "state"
