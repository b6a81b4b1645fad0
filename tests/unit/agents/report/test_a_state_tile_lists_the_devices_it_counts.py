"""A dashboard tile's click lists as many devices as the tile counts.

The tiles count active devices per state (`/api/summary`, `/api/orgs/{id}/summary`);
a click fills the fleet view's form, whose fields are `/api/devices` parameters. So the
form must be able to leave deactivated devices out, the click must set every filter the
tile's count does not depend on, and the API must answer that list with the tile's count.
(That the page really does so is checked in Chromium by
`tests/e2e/test_dashboard_in_chromium.py`.)
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from importlib import resources

import pytest
import pytest_asyncio

from agents.report.errors import QueryError
from agents.report.query import parse_query
from streams.state import encode_state
from tests.unit.agents.report.served_report_api import TOKEN, Served, serve
from tests.unit.factories import DAY, T0, command, run

STATIC = resources.files("agents.report") / "static"
# The fields that order the list rather than filter it.
ORDERING = {"sort", "order"}


class FormFields(HTMLParser):
    """The named fields of `<form id="filters">`, each with its option values."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, list[str]] = {}
        self._in_form = False
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form":
            self._in_form = named.get("id") == "filters"
        elif self._in_form and tag in ("select", "input") and named.get("name"):
            name = named["name"] or ""
            self.fields[name] = []
            self._select = name if tag == "select" else None
        elif self._in_form and tag == "option" and self._select is not None:
            self.fields[self._select].append(named.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None


def form_fields() -> dict[str, list[str]]:
    parser = FormFields()
    parser.feed((STATIC / "index.html").read_text())
    return parser.fields


def test_every_option_of_the_form_is_a_filter_the_api_reads() -> None:
    for name, options in form_fields().items():
        for value in options:
            try:
                parse_query({name: value} if value else {})
            except QueryError as err:  # pragma: no cover - the failure's message
                pytest.fail(f"the form's {name}={value!r} is refused by the API: {err}")


def test_the_form_can_leave_deactivated_devices_out() -> None:
    options = form_fields().get("deactivated", [])

    assert "false" in options
    assert parse_query({"deactivated": "false"}).deactivated is False


def test_a_state_tile_click_sets_every_filter_of_the_form() -> None:
    script = (STATIC / "app.js").read_text()
    body = re.search(r"function pickState\(state\) \{\n(.*?)\n\}", script, re.DOTALL)
    assert body is not None, "app.js has no pickState(state)"

    assigned = dict(re.findall(r'form\.(\w+)\.value = ("[^"]*"|\w+);', body.group(1)))

    assert set(assigned) == set(form_fields()) - ORDERING
    assert assigned["state"] == "state"
    assert assigned["deactivated"] == '"false"'


@pytest_asyncio.fixture
async def api() -> AsyncIterator[Served]:
    async for served in serve(TOKEN):
        # dev-2 of org-1 (critical, silent) is deactivated: its alerts resolve, it is ok.
        state = served.view.state("dev-2")
        deactivated, _ = run(
            [command("deactivate", T0 + 6 * DAY, "dev-2")], now=T0 + 6 * DAY, state=state
        )
        served.view.take(b"dev-2", encode_state(deactivated), 1)
        yield served


@pytest.mark.parametrize("state", ["critical", "warning", "ok"])
async def test_the_list_a_fleet_tile_opens_has_the_tiles_count(api: Served, state: str) -> None:
    _, summary = await api.call("GET", "/api/summary")
    _, listed = await api.call("GET", f"/api/devices?state={state}&deactivated=false")

    assert summary["totals"]["deactivated"] == 1
    assert listed["total"] == summary["totals"][state]


@pytest.mark.parametrize("state", ["critical", "warning", "ok"])
async def test_the_list_an_org_tile_opens_has_the_tiles_count(api: Served, state: str) -> None:
    _, org = await api.call("GET", "/api/orgs/org-1/summary")
    _, listed = await api.call("GET", f"/api/devices?org=org-1&state={state}&deactivated=false")

    assert org["deactivated"] == 1
    assert listed["total"] == org["by_state"][state]
