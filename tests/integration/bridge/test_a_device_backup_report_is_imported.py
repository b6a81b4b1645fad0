"""`backupwatch import crashplan-csv FILE` against a real broker: the good rows of a
Device Backup Report (the console's column layout) reach the input topics as records the
project's codec decodes; the bad row is reported with its line and reason, and the
command exits 1."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agents.cli import main
from agents.kafka.topics import BACKUP_PROGRESS, HEARTBEATS
from schemas.codec import decode
from schemas.models import BackupProgress, Heartbeat
from tests.kafka_harness import eventually
from tests.unit.agents.bridge.test_a_device_backup_report_csv_goes_through_the_same_mapping import (
    BAD,
    GOOD,
    report,
)
from tests.worker_harness import Pipeline

pytestmark = pytest.mark.integration


async def test_the_good_rows_are_sent_and_the_bad_one_reported(
    pipeline: Pipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "device-backup-report.csv"
    path.write_text("".join(report(GOOD[0], BAD[0], *GOOD[1:])))
    settings = pipeline.settings

    # In a thread: the command runs its own event loop, as from a shell.
    code = await asyncio.to_thread(
        main,
        [
            "import",
            "crashplan-csv",
            str(path),
            "--bootstrap-servers",
            settings.bootstrap_servers,
            "--topic-prefix",
            settings.topic_prefix,
            "--partitions",
            str(settings.partitions),
        ],
    )

    err = capsys.readouterr().err
    assert code == 1
    assert "line 3: lastConnectedDate 'last tuesday' is not a time" in err
    # dev-1's two heartbeats (its destinations were last reached apart) and three reports.
    beats = await eventually(
        lambda: _decoded(pipeline, HEARTBEATS, 2), what="the import's heartbeats", timeout=60
    )
    reports = await eventually(
        lambda: _decoded(pipeline, BACKUP_PROGRESS, 3), what="the import's reports", timeout=60
    )
    assert all(isinstance(b, Heartbeat) for b in beats)
    assert all(isinstance(r, BackupProgress) for r in reports)
    # dev-1 only: dev-2 is deactivated in the report, dev-3's row was refused.
    assert {b.device_id for b in beats} == {"dev-1"}
    assert {(r.destination_id, r.session_state) for r in reports} == {
        ("cloud", "completed"),
        ("cloud", "sending"),
        ("nas", "completed"),
    }


async def _decoded(pipeline: Pipeline, topic: str, at_least: int) -> list[Any]:
    records = [decode(r.value) for r in await pipeline.read(topic, settle=0.5, timeout=10)]
    return records if len(records) >= at_least else []
