"""Who may read the fleet: with any token configured, every /api/ route needs a viewer or
the admin token, a viewer token writes nothing, the dashboard's own files need none and
carry the security headers; a token file is read again when it changes. The API is
served by aiohttp as a worker's report reader serves it (agents.report.access.protect)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from agents.report.access import SECURITY_HEADERS, protect
from agents.report.api import ROUTES, attach_routes
from agents.report.fleet import FleetView
from agents.settings import Settings
from tests.unit.agents.report.served_report_api import TOKEN, VIEWER, FakeWorker, fill

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[Settings], Awaitable[Client]]
READS = [path for method, path, _ in ROUTES if method == "GET"]
WRITES = [(method, path) for method, path, _ in ROUTES if method != "GET"]


def concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", lambda m: {"{org_id}": "org-1"}.get(m[0], "dev-1"), path)


@pytest_asyncio.fixture
async def client_for() -> AsyncIterator[MakeClient]:
    clients: list[Client] = []

    async def make(settings: Settings) -> Client:
        worker = FakeWorker(settings)
        view = FleetView(worker.policies.policy_for)
        fill(view)
        app = web.Application()
        protect(app, settings)
        attach_routes(app.router, settings, view, worker.policies, worker.publish)
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", READS)
async def test_every_read_needs_a_token_once_one_is_configured(
    client_for: MakeClient, path: str
) -> None:
    client = await client_for(Settings(api_token=TOKEN, viewer_tokens=(VIEWER, "second-viewer")))

    for headers in ({}, bearer("wrong"), bearer(""), {"Authorization": f"Basic {VIEWER}"}):
        response = await client.get(concrete(path), headers=headers)
        assert response.status == 401, (path, headers)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "token" in (await response.json())["error"]
    for token in (VIEWER, "second-viewer", TOKEN):
        response = await client.get(concrete(path), headers=bearer(token))
        assert response.status in (200, 404), (path, response.status)


async def test_the_admin_token_alone_closes_the_reads_too(client_for: MakeClient) -> None:
    client = await client_for(Settings(api_token=TOKEN))

    assert (await client.get("/api/summary")).status == 401
    assert (await client.get("/api/summary", headers=bearer(TOKEN))).status == 200


async def test_without_any_token_reads_are_open(client_for: MakeClient) -> None:
    client = await client_for(Settings())

    assert (await client.get("/api/summary")).status == 200


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_a_viewer_token_writes_nothing(
    client_for: MakeClient, method: str, path: str
) -> None:
    client = await client_for(Settings(api_token=TOKEN, viewer_tokens=(VIEWER,)))

    response = await client.request(
        method, concrete(path), json={"hours": 1}, headers=bearer(VIEWER)
    )

    assert response.status == 403
    assert "admin token" in (await response.json())["error"]


async def test_the_dashboard_files_need_no_token_and_carry_the_security_headers(
    client_for: MakeClient,
) -> None:
    client = await client_for(Settings(api_token=TOKEN, viewer_tokens=(VIEWER,)))

    for path in ("/", "/static/app.js", "/static/app.css", "/api/summary"):
        response = await client.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    # The streamed CSV too (its headers are sent before its body is written).
    response = await client.get("/api/devices.csv", headers=bearer(VIEWER))
    assert response.status == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_dashboard_has_no_inline_script_or_style() -> None:
    static = resources.files("agents.report") / "static"
    html = (static / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.DOTALL)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"
    assert not re.search(r"\sstyle\s*=", html) and "<style" not in html
    assert "javascript:" not in html


async def poll(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_a_rotated_token_file_takes_effect_without_a_restart(
    client_for: MakeClient, tmp_path: Path
) -> None:
    tokens = tmp_path / "viewers"
    tokens.write_text("# the viewers\nfirst-viewer\n")
    settings = Settings.from_env({"BACKUPWATCH_VIEWER_TOKENS_FILE": str(tokens)})
    assert settings.viewer_tokens == ("first-viewer",)
    client = await client_for(settings)
    assert (await client.get("/api/summary", headers=bearer("first-viewer"))).status == 200

    tokens.write_text("second-viewer\nthird-viewer\n")

    async def rotated() -> bool:
        response = await client.get("/api/summary", headers=bearer("second-viewer"))
        return response.status == 200

    await poll(rotated, "the rewritten token file to be read")
    assert (await client.get("/api/summary", headers=bearer("first-viewer"))).status == 401

    # A file emptied by a rotation half done locks reads; it never opens them.
    tokens.write_text("")

    async def locked() -> bool:
        response = await client.get("/api/summary", headers=bearer("second-viewer"))
        return response.status == 401

    await poll(locked, "the emptied token file to be read")
    assert (await client.get("/api/summary")).status == 401
