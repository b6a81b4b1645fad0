"""The reporters' HTTP sender against a real aiohttp server on loopback that answers
as told: what may succeed later is sent again, a refusal is final."""

from __future__ import annotations

import asyncio
import io
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from agents.cli import main
from agents.reporters.errors import ReportError
from agents.reporters.send import HttpSender
from schemas.codec import decode
from schemas.models import BackupProgress, Heartbeat
from tests.unit.factories import heartbeat

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Endpoint:
    """Answers each POST with the next of `answers` (then 202), keeping the bodies."""

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        self.tokens.append(request.headers.get("Authorization", ""))
        status, headers = self.answers.pop(0) if self.answers else (202, {})
        return web.json_response(
            {"error": f"told to answer {status}"}, status=status, headers=headers
        )


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    found = Endpoint()
    loop = asyncio.new_event_loop()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = web.Application()
    app.router.add_post("/api/ingest", found.handle)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{port}/api/ingest"
    try:
        yield found
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_a_5xx_and_a_429_are_sent_again_until_accepted(endpoint: Endpoint) -> None:
    endpoint.answers = [(503, {}), (429, {"Retry-After": "0"})]
    sender = HttpSender(endpoint.url, "t" * 32, backoff=0.01)

    asyncio.run(sender.send([heartbeat()]))

    assert len(endpoint.bodies) == 3 and len(set(endpoint.bodies)) == 1
    assert endpoint.tokens[0] == "Bearer " + "t" * 32


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_a_refusal_is_final_and_names_the_answer(endpoint: Endpoint, status: int) -> None:
    endpoint.answers = [(status, {})]
    sender = HttpSender(endpoint.url, "t" * 32, backoff=0.01)

    with pytest.raises(ReportError, match=f"answered {status}: told to answer {status}"):
        asyncio.run(sender.send([heartbeat()]))

    assert len(endpoint.bodies) == 1


def test_an_endpoint_that_keeps_failing_gives_up_after_its_attempts(endpoint: Endpoint) -> None:
    endpoint.answers = [(502, {})] * 3
    sender = HttpSender(endpoint.url, "t" * 32, attempts=3, backoff=0.01)

    with pytest.raises(ReportError, match="after 3 attempts"):
        asyncio.run(sender.send([heartbeat()]))


def test_report_restic_from_a_snapshot_list_sends_this_host_s_newest_snapshot(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = (FIXTURES / "restic-snapshots.json").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(listed)))
    monkeypatch.setenv("BACKUPWATCH_REPORT_TOKEN", "t" * 32)

    code = main(
        [
            "report",
            "restic",
            "--url",
            endpoint.url,
            "--device",
            "beta",
            "--org",
            "org-b",
            "--repo",
            "rest:https://u:secret@h/repo",
        ]
    )

    assert code == 0, capsys.readouterr().err
    (body,) = endpoint.bodies
    records = [decode(line) for line in body.splitlines()]
    progress = [r for r in records if isinstance(r, BackupProgress)]
    beats = [r for r in records if isinstance(r, Heartbeat)]
    assert [p.device_id for p in progress] == ["beta"]
    assert progress[0].destination_id == "rest:https://h/repo"
    assert {b.org_id for b in beats} == {"org-b"} and len(beats) == 2
    assert b"secret" not in body


def test_report_restic_for_a_host_not_in_the_list_names_the_hosts(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = (FIXTURES / "restic-snapshots.json").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(listed)))
    monkeypatch.setenv("BACKUPWATCH_REPORT_TOKEN", "t" * 32)

    code = main(["report", "restic", "--url", endpoint.url, "--device", "gamma", "--repo", "r"])

    assert code == 2 and endpoint.bodies == []
    assert "hosts: alpha, beta" in capsys.readouterr().err
