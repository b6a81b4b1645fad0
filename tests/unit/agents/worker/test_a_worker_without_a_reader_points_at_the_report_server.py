"""A worker run with BACKUPWATCH_REPORT_READER=none starts no report reader, and its web
server answers the API and dashboard paths with a 421 naming `backupwatch serve`, while
its own endpoints (health, readiness, metrics) answer as always."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from agents.settings import Settings
from agents.worker.app import Backupwatch
from agents.worker.web import NO_REPORT_READER, attach_views


def _worker(tmp_path: Path, mode: str) -> Backupwatch:
    settings = Settings(store="memory://", data_dir=tmp_path, report_reader=mode)
    return Backupwatch(settings)


def test_a_worker_beside_its_reader_starts_one(tmp_path: Path) -> None:
    worker = _worker(tmp_path, "beside")
    assert attach_views(worker) is not None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/devices?limit=5"),
        ("GET", "/api/devices/dev-1"),
        ("GET", "/api/summary"),
        ("PUT", "/api/orgs/org-1/policy"),
        ("POST", "/api/users/user-1/leave"),
        ("GET", "/"),
        ("GET", "/static/app.js"),
    ],
)
async def test_the_api_and_dashboard_paths_name_the_report_server(
    tmp_path: Path, method: str, path: str
) -> None:
    worker = _worker(tmp_path, "none")
    assert attach_views(worker) is None
    async with TestClient(TestServer(worker.app.web.web_app)) as client:
        response = await client.request(method, path)
        assert response.status == 421
        body = orjson.loads(await response.read())
        assert body == {"error": NO_REPORT_READER}
        assert "backupwatch serve" in body["error"]


async def test_its_own_endpoints_still_answer(tmp_path: Path) -> None:
    worker = _worker(tmp_path, "none")
    attach_views(worker)
    async with TestClient(TestServer(worker.app.web.web_app)) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        response = await client.get("/metrics")
        assert response.status == 200
        assert "backupwatch_" in await response.text()
