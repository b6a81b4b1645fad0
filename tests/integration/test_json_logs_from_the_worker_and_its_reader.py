"""BACKUPWATCH_LOG_FORMAT=json: everything a worker writes — its own lines, Faust's and
mode's, aiokafka's, and its report reader's — is one JSON object a line, with time,
level, logger, message and process."""

from __future__ import annotations

import json

import pytest

from tests.kafka_harness import eventually
from tests.scenarios import steady_fleet
from tests.unit.factories import T0
from tests.worker_harness import Pipeline

pytestmark = pytest.mark.integration


async def test_every_line_a_worker_writes_is_a_json_object(pipeline: Pipeline) -> None:
    worker = pipeline.worker(log_format="json")
    worker.start()
    worker.wait_ready()
    await pipeline.play(steady_fleet(T0, hours=2, devices=3).steps)
    await eventually(
        lambda: worker.get("/api/summary")[0] == 200, what="the report reader to answer"
    )
    worker.stop()

    text = worker.log_path.read_text(encoding="utf-8")
    # The harness marks each start with a line of its own.
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("=====")]
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON object: {line!r}")
    assert all(
        {"time", "level", "logger", "message", "process"} <= entry.keys() for entry in entries
    )
    loggers = {entry["logger"] for entry in entries}
    assert any(name.startswith(("faust", "mode")) for name in loggers), loggers
    # The reader runs as `python -m agents.report.reader`: its lines say who they are.
    assert any(entry["message"].startswith("report reader answering") for entry in entries)
    assert len({entry["process"] for entry in entries}) >= 2, "the worker and its reader"
    assert any(entry["message"].startswith("backupwatch worker") for entry in entries)
