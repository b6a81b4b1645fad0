"""End to end: a CrashPlan console (the local stand-in of `tests/crashplan_console.py`,
read by `pycpg` unchanged) bridged into a real broker and a real worker.

* a device the console last heard from 5 days ago raises a critical connection alert
  whose episode starts at that last connection; one whose destination received no new
  data for 7 days, a critical backup alert for that destination;
* the console deactivating a device resolves its alerts, with the reason `deactivated`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from agents.bridge.crashplan.metrics import BridgeMetrics
from agents.bridge.crashplan.runner import Bridge
from agents.bridge.crashplan.settings import BridgeSettings
from schemas.models import Alert
from tests.crashplan_console import FakeConsole, computer, running_console
from tests.worker_harness import Pipeline

pytestmark = pytest.mark.integration

# The console writes milliseconds: a whole second keeps the times comparable.
NOW = datetime.now(UTC).replace(microsecond=0)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
SILENT_SINCE = NOW - 5 * DAY - HOUR
NO_DATA_SINCE = NOW - 7 * DAY - HOUR


@pytest.fixture
def console() -> Iterator[FakeConsole]:
    with running_console() as fake:
        fake.devices = [
            computer(
                "dev-silent",
                user="user-1",
                last_connected=SILENT_SINCE,
                registered=NOW - 600 * DAY,
                destinations=[
                    {
                        "guid": "cloud",
                        "last_connected": SILENT_SINCE,
                        "last_completed": SILENT_SINCE,
                    }
                ],
            ),
            computer(
                "dev-stale",
                user="user-2",
                last_connected=NOW - 10 * timedelta(minutes=1),
                registered=NOW - 300 * DAY,
                destinations=[
                    {
                        "guid": "cloud",
                        "last_connected": NOW - 10 * timedelta(minutes=1),
                        "last_backup": NO_DATA_SINCE,
                        "last_completed": NO_DATA_SINCE,
                    }
                ],
            ),
            computer(
                "dev-fine",
                user="user-3",
                last_connected=NOW - HOUR,
                registered=NOW - 100 * DAY,
                destinations=[
                    {"guid": "cloud", "last_connected": NOW - HOUR, "last_completed": NOW - HOUR}
                ],
            ),
        ]
        yield fake


def bridge_for(pipeline: Pipeline, console: FakeConsole) -> Bridge:
    settings = BridgeSettings(
        url=console.url,
        kafka=pipeline.settings,
        api_client_id=console.client_id,
        api_client_secret=console.secret,
    )
    return Bridge(settings, BridgeMetrics())


def critical(alerts: list[Alert], device: str, kind: str) -> Alert | None:
    found = [a for a in alerts if (a.device_id, a.kind, a.to_state) == (device, kind, "critical")]
    return found[0] if found else None


async def test_silence_and_stale_data_in_the_console_raise_alerts_and_deactivation_resolves(
    pipeline: Pipeline, console: FakeConsole
) -> None:
    bridge = bridge_for(pipeline, console)
    await bridge.start(serve_metrics=False)
    try:
        first = await bridge.poll()
        assert (first.devices, first.unreadable) == (3, 0)
        worker = pipeline.worker()
        worker.start()
        worker.wait_ready()
        await pipeline.tick(NOW)

        alerts = await pipeline.wait_for_alerts(
            lambda found: (
                critical(found, "dev-silent", "connection")
                and critical(found, "dev-stale", "backup")
            ),
            what="a critical connection alert for dev-silent and backup alert for dev-stale",
            timeout=120,
        )
        connection = critical(alerts, "dev-silent", "connection")
        assert connection is not None and connection.episode_start == SILENT_SINCE
        backup = critical(alerts, "dev-stale", "backup")
        assert backup is not None
        assert (backup.destination_id, backup.episode_start) == ("cloud", NO_DATA_SINCE)
        assert not [a for a in alerts if a.device_id == "dev-fine"]
        assert all(c.code != "replaced_by_newer_device" for c in connection.diagnosis)

        # Polled again with nothing new: nothing is published.
        again = await bridge.poll()
        assert again.records == 0

        silent = next(d for d in console.devices if d["guid"] == "dev-silent")
        silent.update(active=False, status="Deactivated", modificationDate=_iso(NOW))
        third = await bridge.poll()
        assert third.by_schema == {"device_command/1": 1}
        await pipeline.tick(NOW + timedelta(seconds=1))

        resolved = await pipeline.wait_for_alerts(
            lambda found: any(
                a.device_id == "dev-silent" and a.transition == "resolved" for a in found
            ),
            what="dev-silent's alerts resolved",
            timeout=120,
        )
        closed = [a for a in resolved if a.device_id == "dev-silent" and a.transition == "resolved"]
        assert {a.kind for a in closed} >= {"connection"}
        assert {a.reason for a in closed} == {"deactivated"}
    finally:
        await bridge.close()


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
