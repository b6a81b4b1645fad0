"""Real restic and Borg backups, reported by `backupwatch report` through a real ingest
endpoint into the broker and a worker whose clock the test's ticks drive: a host backed
up daily stays ok, one whose backups stop raises a backup warning at 3 days and a
critical at 7 for its repository, and one whose backups cannot read a file shows the
file errors and the cause that ranks first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from agents.ingest.settings import IngestSettings
from tests.backup_tools import BackupArea, backup_area, run_backupwatch
from tests.ingest_harness import IngestRun
from tests.kafka_harness import log_tail
from tests.unit.factories import DAY, T0
from tests.worker_harness import Pipeline, free_port

__all__ = ["backup_area"]

pytestmark = pytest.mark.integration

TOKEN = "reporter-token-" + "r" * 24
HOUR = timedelta(hours=1)


@pytest.fixture
def ingest(pipeline: Pipeline) -> Iterator[IngestRun]:
    settings = IngestSettings(
        bootstrap_servers=pipeline.settings.bootstrap_servers,
        topic_prefix=pipeline.settings.topic_prefix,
        web_port=free_port(),
        tokens=f"{TOKEN}:org-backups",
    )
    run = IngestRun(settings, pipeline.tmp / "ingest.log").start()
    try:
        yield run
    finally:
        run.stop()
        print(log_tail(run.log_path, 20))


def report(
    tool: str,
    area: BackupArea,
    ingest: IngestRun,
    host: str,
    at: datetime,
    command: list[str],
    **extra: str,
) -> str:
    """`backupwatch report TOOL … -- COMMAND`, the tool run as the backup user."""
    options = [f"--{name}={value}" for name, value in extra.items()]
    done = run_backupwatch(
        [
            "report",
            tool,
            "--url",
            ingest.url,
            "--org",
            "org-backups",
            "--device",
            host,
            "--at",
            at.isoformat(),
            *options,
            "--",
            *area.as_backup_user(command),
        ],
        {**area.env, "BACKUPWATCH_REPORT_TOKEN": TOKEN},
    )
    text = done.stderr.decode(errors="replace")
    assert done.returncode == 0, f"backupwatch report {tool} failed: {text}"
    return text


def states(alerts: list, device: str) -> list[tuple[str, str, str | None, datetime]]:  # type: ignore[type-arg]
    return sorted(
        (a.kind, a.to_state, a.destination_id, a.decided_at)
        for a in alerts
        if a.device_id == device
    )


async def test_restic_hosts_daily_stopped_and_with_an_unreadable_file(
    pipeline: Pipeline, ingest: IngestRun, backup_area: BackupArea
) -> None:
    area = backup_area
    repo = area.restic_repository("restic-repo")
    sources = {
        "alpha": area.source("alpha"),
        "beta": area.source("beta"),
        "gamma": area.source("gamma", unreadable=True),
    }
    worker = pipeline.worker(store="memory://")
    worker.start()
    worker.wait_ready()

    for day in range(9):
        at = T0 + day * DAY
        await pipeline.tick(at)
        for host, source in sources.items():
            if host == "beta" and day > 1:
                continue  # beta's backups stop after its second day
            area.change(source, day)
            report(
                "restic",
                area,
                ingest,
                host,
                at,
                area.restic_backup(repo, host, source, at),
                repo=str(repo),
            )
        await pipeline.tick(at + HOUR)
    await pipeline.caught_up(T0 + 8 * DAY + HOUR)

    alerts = await pipeline.alerts()
    destination = str(repo)
    assert states(alerts, "alpha") == []
    beta = states(alerts, "beta")
    # Decided at the first tick at or past the threshold: the day's first one.
    assert ("backup", "warning", destination, T0 + 4 * DAY) in beta
    assert ("backup", "critical", destination, T0 + 8 * DAY) in beta
    gamma = [a for a in alerts if a.device_id == "gamma"]
    assert [(a.kind, a.to_state) for a in gamma] == [("completion", "warning")]
    assert gamma[0].diagnosis[0].code == "locked_files_block_completion"
    assert gamma[0].diagnosis[0].evidence["permission_denied_last_session"] == 1
    status = (await pipeline.statuses())["gamma"]
    assert status.destinations[0].todo_files == 1
    assert 0 < status.destinations[0].percent_complete < 100


async def test_borg_hosts_daily_stopped_and_with_an_unreadable_file(
    pipeline: Pipeline, ingest: IngestRun, backup_area: BackupArea
) -> None:
    area = backup_area
    repo = area.borg_repository("borg-repo")
    sources = {"delta": area.source("delta", unreadable=True), "epsilon": area.source("epsilon")}
    worker = pipeline.worker(store="memory://")
    worker.start()
    worker.wait_ready()

    for day in range(8):
        at = T0 + day * DAY
        await pipeline.tick(at)
        for host, source in sources.items():
            if host == "epsilon" and day > 0:
                continue
            area.change(source, day)
            report("borg", area, ingest, host, at, area.borg_create(repo, host, source, at))
        await pipeline.tick(at + HOUR)
    await pipeline.caught_up(T0 + 7 * DAY + HOUR)

    alerts = await pipeline.alerts()
    epsilon = states(alerts, "epsilon")
    assert ("backup", "warning", str(repo), T0 + 3 * DAY) in epsilon
    assert ("backup", "critical", str(repo), T0 + 7 * DAY) in epsilon
    delta = [a for a in alerts if a.device_id == "delta"]
    assert [(a.kind, a.to_state) for a in delta] == [("completion", "warning")]
    assert delta[0].diagnosis[0].code == "locked_files_block_completion"
