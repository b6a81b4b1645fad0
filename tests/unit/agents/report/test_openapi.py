"""The OpenAPI document of the report API: generated from the answers' types and the
routes, committed, served as committed, valid OpenAPI 3.1, and describing every route;
and every read answers as it says (the writes' answers are checked in test_report_api).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import pytest_asyncio
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from agents.report import openapi
from agents.report.api import ROUTES
from agents.report.openapi import DOCUMENT_PATH, OPERATIONS, main, render
from tests.unit.agents.report.served_report_api import (
    DOCUMENT,
    TOKEN,
    Served,
    check_against_document,
    serve,
)

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def test_the_committed_document_equals_what_the_types_generate() -> None:
    assert DOCUMENT_PATH.read_bytes() == render(), (
        "agents/report/openapi.json is stale: run `python -m agents.report.openapi`"
    )


def test_the_check_passes_on_the_committed_document() -> None:
    assert main(["--check"]) == 0


@pytest.fixture
def document_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "openapi.json"
    shutil.copy(DOCUMENT_PATH, copy)
    monkeypatch.setattr(openapi, "DOCUMENT_PATH", copy)
    return copy


def test_the_check_fails_on_a_drifted_document_and_generating_rewrites_it(
    document_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document_copy.write_bytes(document_copy.read_bytes().replace(b'"maximum": 1000', b"", 1))

    assert main(["--check"]) == 1
    assert "openapi.json" in capsys.readouterr().err
    assert document_copy.read_bytes() != render(), "--check wrote"

    assert main([]) == 0
    assert document_copy.read_bytes() == render()


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate(DOCUMENT, cls=OpenAPIV31SpecValidator)


def test_every_route_is_documented_and_every_documented_operation_is_routed() -> None:
    routed = {(method.lower(), path) for method, path, _handler in ROUTES}
    documented = {
        (method, path)
        for path, operations in DOCUMENT["paths"].items()
        for method in operations
        if method in METHODS
    }

    assert routed == documented
    assert {(method, path) for method, path, _ in ROUTES} == set(OPERATIONS)


@pytest_asyncio.fixture
async def api() -> AsyncIterator[Served]:
    async for served in serve(TOKEN):
        yield served


async def test_the_served_document_is_the_committed_document(api: Served) -> None:
    status, body = await api.call("GET", "/api/openapi.json")

    assert (status, body) == (200, orjson.loads(DOCUMENT_PATH.read_bytes()))


READS = [
    ("/api/summary", "/api/summary", 200),
    ("/api/devices", "/api/devices", 200),
    ("/api/devices", "/api/devices?state=critical&sort=last_connected&order=asc", 200),
    ("/api/devices", "/api/devices?kind=completion&limit=1", 200),
    ("/api/devices", "/api/devices?online=false&q=dev&min_days_inactive=0", 200),
    ("/api/devices", "/api/devices?limit=0", 400),
    ("/api/devices", "/api/devices?colour=red", 400),
    ("/api/devices", "/api/devices?cursor=garbage", 400),
    ("/api/devices/{device_id}", "/api/devices/dev-1", 200),
    ("/api/devices/{device_id}", "/api/devices/dev-2", 200),
    ("/api/devices/{device_id}", "/api/devices/dev-3", 200),
    ("/api/devices/{device_id}", "/api/devices/dev-404", 404),
    ("/api/users/{user_id}", "/api/users/user-1", 200),
    ("/api/users/{user_id}", "/api/users/nobody", 404),
    ("/api/users/{user_id}", "/api/users/user-on-leave", 200),
    ("/api/orgs/{org_id}/summary", "/api/orgs/org-1/summary", 200),
    ("/api/orgs/{org_id}/summary", "/api/orgs/org-2/summary?top=1", 200),
    ("/api/orgs/{org_id}/summary", "/api/orgs/org-1/summary?top=0", 400),
    ("/api/orgs/{org_id}/summary", "/api/orgs/org-1/summary?top=many", 400),
    ("/api/orgs/{org_id}/summary", "/api/orgs/org-404/summary", 404),
    ("/api/devices.csv", "/api/devices.csv?state=purple", 400),
    ("/api/causes", "/api/causes", 200),
    ("/api/openapi.json", "/api/openapi.json", 200),
]


@pytest.mark.parametrize(("path", "url", "status"), READS, ids=[url for _, url, _ in READS])
async def test_every_read_answers_as_the_document_says(
    api: Served, path: str, url: str, status: int
) -> None:
    got, body = await api.call("GET", url)

    assert got == status, body
    check_against_document(path, "get", got, body)


def test_every_read_route_is_exercised() -> None:
    reads = {path for method, path, _ in ROUTES if method == "GET"}
    assert reads == {path for path, _, _ in READS}
