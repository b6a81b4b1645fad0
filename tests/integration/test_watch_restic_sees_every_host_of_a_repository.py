"""`backupwatch watch restic --once`, a central poller over one real restic repository
two hosts back up into, through the ingest endpoint to a worker on the test's ticks:
each host is a device, and the one whose backups stop is alerted for."""

from __future__ import annotations

import pytest

from agents.ingest.settings import IngestSettings
from tests.backup_tools import BackupArea, backup_area, run_backupwatch
from tests.ingest_harness import IngestRun
from tests.unit.factories import DAY, T0
from tests.worker_harness import Pipeline, free_port

__all__ = ["backup_area"]

pytestmark = pytest.mark.integration

TOKEN = "watcher-token-" + "w" * 24


async def test_two_hosts_in_one_repository_and_the_one_that_stopped_is_alerted(
    pipeline: Pipeline, backup_area: BackupArea
) -> None:
    area = backup_area
    repo = area.restic_repository("shared-repo")
    office, lab = area.source("office-pc"), area.source("lab-pc")
    ingest = IngestRun(
        IngestSettings(
            bootstrap_servers=pipeline.settings.bootstrap_servers,
            topic_prefix=pipeline.settings.topic_prefix,
            web_port=free_port(),
            tokens=f"{TOKEN}:org-lab",
        ),
        pipeline.tmp / "ingest.log",
    ).start()
    worker = pipeline.worker(store="memory://")
    worker.start()
    worker.wait_ready()
    try:
        for day in range(6):
            at = T0 + day * DAY
            await pipeline.tick(at)
            for host, source in (("office-pc", office), ("lab-pc", lab)):
                if host == "lab-pc" and day > 1:
                    continue  # the lab machine's backups stop after its second day
                area.change(source, day)
                done = area.tool(area.restic_backup(repo, host, source, at))
                assert done.returncode == 0, done.stderr.decode()
            # The watcher reads the repository as its own user (it holds the password).
            polled = run_backupwatch(
                [
                    "watch",
                    "restic",
                    "--once",
                    "--repo",
                    str(repo),
                    "--org",
                    "org-lab",
                    "--url",
                    ingest.url,
                ],
                {**area.env, "BACKUPWATCH_REPORT_TOKEN": TOKEN},
            )
            assert polled.returncode == 0, polled.stderr.decode()
            await pipeline.tick(at + DAY / 2)
        await pipeline.caught_up(T0 + 5 * DAY + DAY / 2)
        alerts = await pipeline.alerts()
        statuses = await pipeline.statuses()
    finally:
        ingest.stop()

    assert {"office-pc", "lab-pc"} <= set(statuses)
    assert statuses["lab-pc"].org_id == "org-lab"
    assert [d.destination_id for d in statuses["office-pc"].destinations] == [str(repo)]
    assert not [a for a in alerts if a.device_id == "office-pc"]
    lab_alerts = {
        (a.kind, a.to_state, a.destination_id, a.decided_at)
        for a in alerts
        if a.device_id == "lab-pc"
    }
    assert ("backup", "warning", str(repo), T0 + 4 * DAY) in lab_alerts
    assert ("backup", "critical", str(repo), T0 + 5 * DAY) not in lab_alerts
