"""The worker's side of the report reader: requests pass through unchanged, answers come
back with their status and headers, large ones streamed; no reader yet is a 503."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from agents.report.reader import ReportReader
from agents.serving import WebLimits, guarded_runner
from agents.settings import Settings
from tests.unit.agents.report.served_report_api import DOCUMENT


class GuardedTestServer(TestServer):
    """The worker's web server as it runs: built by agents.serving."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return guarded_runner(self.app, WebLimits())


BIG = b"org,user,device\n" + b"org-1,user-1,dev-1\n" * 200_000  # ~3.8 MB, streamed


async def _echo(request: web.Request) -> web.Response:
    return web.Response(
        body=orjson.dumps(
            {
                "method": request.method,
                "path_qs": request.path_qs,
                "authorization": request.headers.get("Authorization"),
                "body": (await request.read()).decode(),
            }
        ),
        status=202 if request.method == "POST" else 200,
        content_type="application/json",
        headers={"WWW-Authenticate": "Bearer", "X-Internal": "not passed on"},
    )


async def _csv(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="devices.csv"',
        }
    )
    await response.prepare(request)
    for start in range(0, len(BIG), 100_000):
        await response.write(BIG[start : start + 100_000])
    await response.write_eof()
    return response


@pytest_asyncio.fixture
async def worker(
    tmp_path: Path,
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], ReportReader]]:
    """A worker's router forwarding to a stand-in reader answering on a Unix socket."""
    upstream = web.Application()
    upstream.router.add_route("*", "/api/echo", _echo)
    upstream.router.add_get("/api/devices.csv", _csv)
    runner = web.AppRunner(upstream)
    await runner.setup()
    reader = ReportReader(Settings(), "changelog")
    reader.socket_path = str(tmp_path / "api.sock")
    await web.UnixSite(runner, reader.socket_path).start()
    front = web.Application()
    front.router.add_route("*", "/api/echo", reader.forward)
    front.router.add_get("/api/devices.csv", reader.forward)
    try:
        async with TestClient(GuardedTestServer(front)) as client:
            yield client, reader
    finally:
        await reader._stop()
        await runner.cleanup()


async def test_a_request_passes_through_with_its_query_body_and_token(
    worker: tuple[TestClient[web.Request, web.Application], ReportReader],
) -> None:
    client, _ = worker
    response = await client.post(
        "/api/echo?state=critical&limit=5",
        data=b'{"reason": "leave"}',
        headers={"Authorization": "Bearer t0ken", "Content-Type": "application/json"},
    )
    assert response.status == 202
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "X-Internal" not in response.headers
    assert await response.json() == {
        "method": "POST",
        "path_qs": "/api/echo?state=critical&limit=5",
        "authorization": "Bearer t0ken",
        "body": '{"reason": "leave"}',
    }


async def test_a_large_answer_is_streamed_whole(
    worker: tuple[TestClient[web.Request, web.Application], ReportReader],
) -> None:
    client, _ = worker
    response = await client.get("/api/devices.csv")
    assert response.status == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="devices.csv"'
    assert await response.read() == BIG


async def test_no_reader_answering_is_a_503_the_document_describes(
    worker: tuple[TestClient[web.Request, web.Application], ReportReader], tmp_path: Path
) -> None:
    client, reader = worker
    reader.socket_path = str(tmp_path / "nobody-here.sock")
    response = await client.get("/api/echo")
    assert response.status == 503
    assert response.headers["Retry-After"] == "2"
    body = await response.json()
    assert "report reader" in body["error"]
    documented = DOCUMENT["paths"]["/api/devices"]["get"]["responses"]["503"]
    assert documented["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
