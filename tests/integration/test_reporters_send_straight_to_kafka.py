"""Without an ingest URL the reporters append to the input topics themselves: `report
heartbeat` from a timer, and `watch borg` over a real Borg repository."""

from __future__ import annotations

import socket

import pytest

from agents.kafka.topics import BACKUP_PROGRESS, HEARTBEATS
from schemas.codec import decode
from schemas.models import BackupProgress, Heartbeat
from tests.backup_tools import BackupArea, backup_area, run_backupwatch
from tests.unit.factories import T0
from tests.worker_harness import Pipeline

__all__ = ["backup_area"]

pytestmark = pytest.mark.integration


async def test_a_heartbeat_and_a_borg_repository_s_hosts_reach_the_topics(
    pipeline: Pipeline, backup_area: BackupArea
) -> None:
    area = backup_area
    repo = area.borg_repository("borg-repo")
    source = area.source("files")
    done = area.tool(area.borg_create(repo, "files", source, T0))
    assert done.returncode == 0, done.stderr.decode()
    env = {
        **area.env,
        "BACKUPWATCH_BOOTSTRAP_SERVERS": pipeline.settings.bootstrap_servers,
        "BACKUPWATCH_TOPIC_PREFIX": pipeline.settings.topic_prefix,
        "BACKUPWATCH_REPORT_ORG": "org-k",
    }

    beat = run_backupwatch(["report", "heartbeat", "--device", "kiosk-7"], env)
    watched = run_backupwatch(["watch", "borg", "--once", "--repo", str(repo)], env)

    assert beat.returncode == 0, beat.stderr.decode()
    assert watched.returncode == 0, watched.stderr.decode()
    beats = [decode(r.value) for r in await pipeline.read(HEARTBEATS)]
    progress = [decode(r.value) for r in await pipeline.read(BACKUP_PROGRESS)]
    kiosk = [b for b in beats if b.device_id == "kiosk-7"]
    assert len(kiosk) == 1 and isinstance(kiosk[0], Heartbeat)
    assert kiosk[0].org_id == "org-k" and kiosk[0].reachable_destinations == ()
    (archive,) = progress
    assert isinstance(archive, BackupProgress)
    # Borg names the machine that made the archive: this one.
    assert archive.device_id == socket.gethostname()
    assert (archive.destination_id, archive.event_time) == (str(repo), T0)
    assert archive.session_state == "completed" and archive.org_id == "org-k"


async def test_an_unreachable_repository_is_one_line_and_exit_2(
    pipeline: Pipeline, backup_area: BackupArea
) -> None:
    env = {
        **backup_area.env,
        "BACKUPWATCH_BOOTSTRAP_SERVERS": pipeline.settings.bootstrap_servers,
        "BACKUPWATCH_TOPIC_PREFIX": pipeline.settings.topic_prefix,
    }

    done = run_backupwatch(["watch", "restic", "--once", "--repo", "/no/such/repo"], env)

    err = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2
    assert err[-1].startswith("backupwatch: restic could not list /no/such/repo")
    assert not [line for line in err if "Traceback" in line]
