"""Several workers: each runs with BACKUPWATCH_REPORT_READER=none (no report reader
beside it), and `backupwatch serve` answers the API and dashboard for the whole fleet,
each device as the worker decided it; the worker's own API paths name the report
server."""

from __future__ import annotations

import json

import pytest

from agents.worker.web import NO_REPORT_READER
from tests.kafka_harness import eventually
from tests.scenarios import steady_fleet
from tests.unit.factories import DAY, T0
from tests.worker_harness import Pipeline, WorkerRun

pytestmark = pytest.mark.integration

FLEET = {f"dev-{n}" for n in range(8)}


def _rows(server: WorkerRun) -> dict[str, dict[str, object]] | None:
    status, body = server.get("/api/devices?limit=1000", timeout=5)
    if status != 200:
        return None
    return {row["device_id"]: row for row in json.loads(body)["devices"]}


async def test_the_report_server_lists_the_fleet_the_worker_decided(pipeline: Pipeline) -> None:
    silent = {"dev-2": T0 + DAY / 2, "dev-5": T0 + DAY}
    scenario = steady_fleet(T0, hours=4 * 24, devices=len(FLEET), silent_from=silent)
    worker = pipeline.worker(report_reader="none")
    server = pipeline.serve()
    worker.start()
    server.start()
    ready = worker.wait_ready()
    assert ready["report_reader"] == "none"
    await pipeline.play(scenario.steps)
    final = scenario.steps[-1].tick_at.isoformat()

    def caught_up() -> bool:
        clocks = worker.clocks()
        return len(clocks) == pipeline.settings.partitions and set(clocks.values()) == {final}

    await eventually(caught_up, what=f"the worker's partitions at {final}", timeout=120)
    statuses = await pipeline.statuses()
    assert set(statuses) == FLEET
    assert {d for d, s in statuses.items() if set(s.alert_states.values()) != {"ok"}} == set(silent)

    def as_decided() -> dict[str, dict[str, object]] | None:
        rows = _rows(server)
        if rows is None or set(rows) != FLEET:
            return None
        if any(rows[d]["alert_states"] != statuses[d].alert_states for d in FLEET):
            return None
        return rows

    rows = await eventually(
        as_decided, what="the report server to list each device as the worker decided it"
    )
    assert {d for d, r in rows.items() if r["worst_state"] != "ok"} == set(silent)

    # The report server's own endpoints.
    status, body = server.get("/readyz")
    assert status == 200, body
    assert json.loads(body)["ready"] is True
    status, body = server.get("/metrics")
    assert status == 200
    assert b"backupwatch_report_ready 1.0" in body
    assert b'backupwatch_build_info{process="serve"' in body
    status, body = server.get("/")
    assert status == 200
    assert b"<html" in body.lower()

    # The worker answers no report, and says where it is.
    for path in ("/api/devices?limit=10", "/api/devices/dev-2", "/"):
        status, body = worker.get(path)
        assert status == 421, (path, status, body)
        assert json.loads(body) == {"error": NO_REPORT_READER}
    status, _ = worker.get("/metrics")
    assert status == 200
