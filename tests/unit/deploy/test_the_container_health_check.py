"""`python -m agents.healthcheck`, the image's HEALTHCHECK: healthy when the worker's or
the notifier's /healthz answers 200 on loopback, unhealthy (exit 1, one line) when
neither does."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.deploy_files import REPO
from tests.worker_harness import free_port


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        status = 200 if self.path == "/healthz" else 404
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b'{"status":"ok"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answering_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def check(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agents.healthcheck"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_worker_answering_healthz_is_healthy(answering_port: int) -> None:
    result = check(
        BACKUPWATCH_WEB_PORT=str(answering_port), BACKUPWATCH_NOTIFY_WEB_PORT=str(free_port())
    )
    assert result.returncode == 0, result.stdout


def test_a_notifier_answering_healthz_is_healthy(answering_port: int) -> None:
    result = check(
        BACKUPWATCH_WEB_PORT=str(free_port()), BACKUPWATCH_NOTIFY_WEB_PORT=str(answering_port)
    )
    assert result.returncode == 0, result.stdout


def test_nothing_answering_is_unhealthy_in_one_line() -> None:
    worker, notifier = free_port(), free_port()
    result = check(BACKUPWATCH_WEB_PORT=str(worker), BACKUPWATCH_NOTIFY_WEB_PORT=str(notifier))

    assert result.returncode == 1
    assert (
        result.stdout
        == f"backupwatch: no /healthz answered on 127.0.0.1 ports {worker}, {notifier}\n"
    )
