"""Scale-out is Kafka's: two workers split the partitions; when one dies, the other
takes its partitions over with their state and keeps alerting. They run as several
workers are deployed: without a report reader each (BACKUPWATCH_REPORT_READER=none),
the report server (`backupwatch serve`) answering for the whole fleet."""

from __future__ import annotations

import json
import time

import pytest

from tests.kafka_harness import eventually
from tests.scenarios import alert_ids, steady_fleet
from tests.unit.factories import DAY, T0
from tests.worker_harness import Pipeline, WorkerRun

pytestmark = pytest.mark.integration


def _devices(worker: WorkerRun) -> set[str]:
    status, body = worker.get("/api/devices?limit=1000", timeout=5)
    if status != 200:
        return set()
    return {row["device_id"] for row in json.loads(body)["devices"]}


def _held(worker: WorkerRun) -> set[int]:
    try:
        return {int(p) for p in worker.clocks()}
    except OSError:
        return set()


@pytest.mark.parametrize("pipeline", [8], indirect=True)
async def test_two_workers_split_eight_partitions_and_one_takes_over_when_the_other_dies(
    pipeline: Pipeline,
) -> None:
    silent = {f"dev-{n}": T0 + DAY / 2 + n * DAY / 16 for n in (3, 9, 14)}
    scenario = steady_fleet(T0, hours=5 * 24, devices=16, silent_from=silent)
    expected, _ = scenario.reference(pipeline.settings.partitions)
    assert {a.device_id for a in expected} == set(silent)

    first = pipeline.worker(report_reader="none")
    second = pipeline.worker(report_reader="none")
    server = pipeline.serve()
    first.start()
    second.start()
    server.start()
    first.wait_ready()
    second.wait_ready()
    await pipeline.play(scenario.steps[: 2 * 24])

    def split() -> bool:
        a, b = _held(first), _held(second)
        return bool(a) and bool(b) and not (a & b) and (a | b) == set(range(8))

    await eventually(
        split, what="the two workers to hold disjoint halves of 8 partitions", timeout=90
    )

    # Each worker owns half the partitions; the report server answers for every device.
    await eventually(
        lambda: _devices(server) == {f"dev-{n}" for n in range(16)},
        what="the report server's API to list all 16 devices",
    )

    second.kill()
    await pipeline.play(scenario.steps[2 * 24 :])
    final = scenario.steps[-1].tick_at.isoformat()

    def took_over() -> bool:
        clocks = first.clocks()
        return len(clocks) == 8 and all(c == final for c in clocks.values())

    started = time.monotonic()
    await eventually(
        took_over, what=f"the survivor to hold all 8 partitions at {final}", timeout=120
    )
    print(f"take-over and catch-up took {time.monotonic() - started:.1f} s")

    alerts = await pipeline.alerts()
    assert alert_ids(alerts) == alert_ids(expected)

    def only_the_silent_ones_in_trouble() -> bool:
        status, body = server.get("/api/devices?limit=1000", timeout=5)
        if status != 200:
            return False
        rows = json.loads(body)["devices"]
        return {row["device_id"] for row in rows if row["worst_state"] != "ok"} == set(silent)

    await eventually(
        only_the_silent_ones_in_trouble,
        what="the report server to list the silent devices, and only them, in trouble",
    )
