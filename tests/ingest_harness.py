"""Run a real `backupwatch ingest` (a subprocess) against the test broker, and post to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from agents.ingest.settings import IngestSettings
from tests.kafka_harness import REPO, log_tail

__all__ = ["IngestRun", "post"]


def post(
    url: str, body: bytes, *, token: str | None, content_type: str = "application/x-ndjson"
) -> tuple[int, dict[str, str], dict[str, object]]:
    """(status, headers, JSON body) of a POST."""
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"{}")


@dataclass
class IngestRun:
    """`python -m agents.cli ingest` with `settings`, its output in `log_path`."""

    settings: IngestSettings
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def base(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    @property
    def url(self) -> str:
        return f"{self.base}/api/ingest"

    def start(self, timeout: float = 60.0) -> IngestRun:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agents.cli", "ingest"],
                cwd=REPO,
                env={**os.environ, **self.settings.as_env()},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"backupwatch ingest exited:\n{log_tail(self.log_path)}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"backupwatch ingest did not answer within {timeout:g} s:\n"
                    f"{log_tail(self.log_path)}"
                )
            time.sleep(0.2)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=10) as response:  # noqa: S310
            return str(response.read().decode())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
