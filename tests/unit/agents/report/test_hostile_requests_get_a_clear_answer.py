"""Requests made to hurt the report API get a 4xx naming what is wrong, never a 500, and
cannot make it hold more memory than its answer cache's bound."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from agents.report import api as api_module
from agents.report.answers import AnswerCache
from agents.report.api import Api, attach_routes
from agents.report.fleet import FleetView
from agents.settings import Settings
from tests.unit.agents.report.served_report_api import TOKEN, FakeWorker, fill

SMALL_BUDGET = 64 * 1024


@pytest_asyncio.fixture
async def served(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], Api]]:
    monkeypatch.setattr(api_module, "_REMEMBERED_BYTES", SMALL_BUDGET)
    worker = FakeWorker(Settings(api_token=TOKEN))
    view = FleetView(worker.policies.policy_for)
    fill(view)
    app = web.Application()
    api = attach_routes(app.router, worker.settings, view, worker.policies, worker.publish)
    async with TestClient(TestServer(app)) as client:
        yield client, api


async def test_a_static_file_name_too_long_for_the_file_system_is_not_found(
    served: tuple[TestClient[web.Request, web.Application], Api],
) -> None:
    client, _ = served
    response = await client.get(f"/static/{'a' * 5000}.js")
    assert response.status == 404
    assert (await response.json())["error"].startswith("no file 'aaaa")
    assert (await client.get("/static/app.js")).status == 200


async def test_a_version_of_thousands_of_digits_is_refused_naming_the_parameter(
    served: tuple[TestClient[web.Request, web.Application], Api],
) -> None:
    client, _ = served
    for path in ("/api/devices", "/api/devices.csv"):
        response = await client.get(path, params={"version_below": "9" * 5000})
        assert response.status == 400
        body = await response.json()
        assert body["parameter"] == "version_below"
        assert "at most 64 characters, got 5000" in body["error"]
    assert (await client.get("/api/devices", params={"version_below": "11.2.1"})).status == 200


async def test_distinct_query_strings_cannot_grow_the_answer_cache_past_its_bytes(
    served: tuple[TestClient[web.Request, web.Application], Api],
) -> None:
    client, api = served
    bodies = []
    for n in range(300):  # each a fresh query string, each answer remembered
        response = await client.get("/api/devices", params={"min_days_inactive": f"0.{n:04}"})
        assert response.status == 200
        bodies.append(await response.read())
    assert sum(map(len, bodies)) > 4 * SMALL_BUDGET  # asked for far more than it holds
    assert api.answers.bytes <= SMALL_BUDGET
    assert 0 < len(api.answers) < 300
    # The latest answers are still there, and served as computed.
    again = await client.get("/api/devices", params={"min_days_inactive": "0.0299"})
    assert await again.read() == bodies[-1]
    assert api.answers.get("/api/devices?min_days_inactive=0.0299", api._as_of()) == bodies[-1]


def test_the_cache_drops_the_least_recently_used_answers_first() -> None:
    cache = AnswerCache(max_bytes=8 * 1000)
    for name in "abcdefgh":
        cache.put(name, 1, b"x" * 700)
    cache.get("a", 1)  # a is used again: b is now the oldest
    cache.put("i", 1, b"x" * 700)
    assert cache.bytes <= 8000
    assert cache.get("a", 1) is not None
    assert cache.get("b", 1) is None
    assert cache.get("i", 1) is not None
    assert cache.get("i", 2) is None  # computed at another version: not an answer now


def test_an_answer_too_large_for_an_eighth_of_the_budget_is_not_kept() -> None:
    cache = AnswerCache(max_bytes=8 * 1000)
    cache.put("small", 1, b"x" * 100)
    cache.put("huge", 1, b"x" * 1000)
    assert cache.get("huge", 1) is None
    assert cache.get("small", 1) is not None
    before = cache.bytes
    cache.put("small", 2, b"y" * 50)  # a newer answer replaces the old one and its bytes
    assert (len(cache), cache.bytes) == (1, before - 50)
    assert cache.get("small", 2) == b"y" * 50
