"""A `backupwatch worker` (or `serve`) in its own process: start it, ask it, stop it.

One handle for everything that runs workers beside itself — `make run`, the tests
that run real workers, the pipeline benchmark — so they start, probe and stop a
worker the same way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.settings import Settings

__all__ = ["WorkerProcess"]

REPO = Path(__file__).resolve().parents[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


@dataclass
class WorkerProcess:
    """`python -m agents.cli worker` (or `command`: `serve`, the report server) with
    `settings`, its output appended to `log_path`."""

    settings: Settings
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    # time.monotonic() of the last start.
    started: float = 0.0
    starts: int = 0
    command: str = "worker"

    @property
    def web(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the worker was never started")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        # The settings travel as BACKUPWATCH_* variables; the ticker follows them too
        # (`--no-ticker` when the tick interval is 0: simulated time comes from outside).
        args = [sys.executable, "-m", "agents.cli", self.command]
        if self.command == "worker" and self.settings.tick_interval.total_seconds() == 0:
            args.append("--no-ticker")
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts} =====\n".encode())
            log.flush()
            self.started = time.monotonic()
            self.process = subprocess.Popen(  # noqa: S603
                args,
                cwd=REPO,
                env={**os.environ, **self.settings.as_env()},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        """(status, body) of a GET on the worker's web server; (0, b"") while it does not
        answer. Raises if the process has exited, with the end of its log."""
        if not self.running:
            raise RuntimeError(f"the {self.command} exited; its log:\n{_tail(self.log_path)}")
        try:
            with urllib.request.urlopen(f"{self.web}{path}", timeout=timeout) as response:  # noqa: S310
                return int(response.status), response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
        except OSError:
            return 0, b""

    def readyz(self) -> dict[str, Any] | None:
        """The /readyz document once the worker is ready, else None."""
        status, body = self.get("/readyz")
        return json.loads(body) if status == 200 else None

    def wait_ready(self, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            ready = self.readyz()
            if ready is not None:
                return ready
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the {self.command} was not ready after {timeout:g} s; its log:\n"
                    f"{_tail(self.log_path)}"
                )
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed."""
        if self.process is not None and self.running:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within `timeout`."""
        if self.process is not None and self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
