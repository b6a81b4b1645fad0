"""A `backupwatch bridge crashplan` process killed (SIGKILL) after a poll and started
again publishes nothing twice: what it published is read back from the compacted
topic `<prefix>crashplan-published` before its first poll. Its `/metrics` say so.

A 1 % change in the console between the two runs is published, and only it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.kafka.topics import BACKUP_PROGRESS, HEARTBEATS
from tests.crashplan_console import FakeConsole, computer, iso, running_console
from tests.kafka_harness import eventually, log_tail
from tests.worker_harness import Pipeline, free_port

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def console() -> Iterator[FakeConsole]:
    with running_console() as fake:
        fake.devices = [
            computer(
                f"dev-{i:03d}",
                user=f"user-{i:03d}",
                last_connected=NOW - HOUR,
                registered=NOW - 100 * 24 * HOUR,
                destinations=[
                    {"guid": "cloud", "last_connected": NOW - HOUR, "last_completed": NOW - HOUR}
                ],
            )
            for i in range(300)
        ]
        yield fake


class BridgeProcess:
    def __init__(self, pipeline: Pipeline, console: FakeConsole, log: Path) -> None:
        self.port = free_port()
        self.log = log
        settings = pipeline.settings
        self.env = {
            **os.environ,
            **settings.as_env(),
            "BACKUPWATCH_CRASHPLAN_URL": console.url,
            "BACKUPWATCH_CRASHPLAN_API_CLIENT_ID": console.client_id,
            "BACKUPWATCH_CRASHPLAN_API_CLIENT_SECRET": console.secret,
            "BACKUPWATCH_CRASHPLAN_WEB_PORT": str(self.port),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agents.cli", "bridge", "crashplan"],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def polls(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if " poll: " in line]

    def metric(self, name: str) -> float:
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
            text = response.read().decode()
        values = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and not line.startswith("#")
        ]
        return sum(values)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)


async def test_a_restarted_bridge_publishes_only_what_changed_while_it_was_down(
    pipeline: Pipeline, console: FakeConsole, tmp_path: Path
) -> None:
    log = tmp_path / "bridge.log"
    bridge = BridgeProcess(pipeline, console, log)
    try:
        bridge.start()
        await eventually(
            lambda: len(bridge.polls()) >= 1, what="the bridge's first poll", timeout=120
        )
        bridge.kill()
        first = await _telemetry(pipeline)
        assert sum(first.values()) == 600  # a heartbeat and a completion per device
        assert max(first.values()) == 1

        # 1 % of the fleet connects again while the bridge is down.
        for device in console.devices[:3]:
            device["lastConnected"] = iso(NOW)
            device["backupUsage"][0]["lastConnected"] = iso(NOW)
        bridge.start()
        await eventually(
            lambda: len(bridge.polls()) >= 2, what="the restarted bridge's poll", timeout=120
        )
        assert await eventually(
            lambda: bridge.metric("backupwatch_crashplan_polls_total") >= 1,
            what="the restarted bridge's metrics",
        )
        assert bridge.metric("backupwatch_crashplan_records_published_total") == 3
        assert bridge.metric("backupwatch_crashplan_devices_seen") == 300

        second = await _telemetry(pipeline)
        assert sum(second.values()) == 603
        assert max(second.values()) == 1, "a record published twice"
    finally:
        bridge.kill()
        print(f"--- bridge log (tail) ---\n{log_tail(log, 30)}")


async def _telemetry(pipeline: Pipeline) -> Counter[bytes]:
    """How many times each telemetry record (its bytes) is on the input topics."""
    counts: Counter[bytes] = Counter()
    for topic in (HEARTBEATS, BACKUP_PROGRESS):
        for record in await pipeline.read(topic, settle=1.0):
            counts[record.value] += 1
    return counts
