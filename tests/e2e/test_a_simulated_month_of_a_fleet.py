"""The whole pipeline over 30 simulated days of a fleet with every injected fault:
simulator → Kafka → worker(s) → alerts and device statuses, against the pure core's
reference run of the same fleet."""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from agents.simulator.fleet import Fleet
from agents.simulator.producer import simulate
from schemas.models import Alert, DeviceStatus
from tests.api_harness import final_levels
from tests.worker_harness import Pipeline, WorkerRun

pytestmark = pytest.mark.e2e

START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 30
TICK = timedelta(minutes=5)
END = START + timedelta(days=DAYS)


def _key(alert: Alert) -> tuple[str, str, str | None, str, str]:
    return (alert.device_id, alert.kind, alert.destination_id, alert.from_state, alert.to_state)


def _clocks(worker: WorkerRun) -> dict[str, str | None]:
    with urllib.request.urlopen(f"{worker.web}/readyz", timeout=2) as response:  # noqa: S310
        clocks: dict[str, str | None] = json.loads(response.read())["clocks"]
        return clocks


async def _caught_up(workers: list[WorkerRun], partitions: int) -> None:
    deadline = time.monotonic() + 300
    seen: dict[str, str | None] = {}
    while time.monotonic() < deadline:
        seen = {}
        for worker in workers:
            if worker.process is not None and worker.process.poll() is None:
                try:
                    seen.update(_clocks(worker))
                except OSError:
                    continue
        if len(seen) == partitions and all(
            c is not None and datetime.fromisoformat(c) >= END for c in seen.values()
        ):
            return
        await asyncio.sleep(1)
    raise AssertionError(f"the workers did not reach {END} on every partition: {seen}")


def _check_statuses(statuses: dict[str, DeviceStatus], expected: list[Alert]) -> None:
    levels = final_levels(expected)
    for device_id, status in statuses.items():
        want = levels.get(device_id, {"connection": "ok", "backup": "ok", "completion": "ok"})
        assert status.alert_states == want, (device_id, status.alert_states, want)


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return Fleet(devices=40, seed=11, start=START, every_fault=True)


@pytest.fixture(scope="module")
def expected(fleet: Fleet) -> list[Alert]:
    return fleet.expected_alerts(until=END, tick_every=TICK)


async def test_the_alerts_of_a_simulated_month_are_exactly_the_reference(
    pipeline: Pipeline, fleet: Fleet, expected: list[Alert]
) -> None:
    worker = pipeline.worker()
    worker.start()
    worker.wait_ready()
    await simulate(
        pipeline.settings, fleet, start=START, days=DAYS, tick_every=TICK, record_timestamps="wall"
    )
    await _caught_up([worker], pipeline.settings.partitions)
    alerts = await pipeline.alerts()

    assert sorted(_key(a) for a in alerts) == sorted(_key(a) for a in expected)
    by_id = {a.alert_id: a for a in expected}
    for alert in alerts:
        reference = by_id[alert.alert_id]
        assert abs(alert.decided_at - reference.decided_at) <= TICK, alert
        top = alert.diagnosis[0].code if alert.diagnosis else None
        assert top == (reference.diagnosis[0].code if reference.diagnosis else None), alert
    _check_statuses(await pipeline.statuses(), expected)


async def test_killing_the_worker_at_random_points_loses_no_alert_and_changes_no_state(
    pipeline: Pipeline, fleet: Fleet, expected: list[Alert]
) -> None:
    worker = pipeline.worker()
    worker.start()
    worker.wait_ready()
    producing = asyncio.create_task(
        simulate(
            pipeline.settings,
            fleet,
            start=START,
            days=DAYS,
            tick_every=TICK,
            speed=DAYS * 86400 / 40,  # the month in ~40 s, so the kills land all along it
            record_timestamps="wall",
        )
    )
    rng = random.Random(5)  # noqa: S311 - test schedule
    kills = 0
    while kills < 5 or not producing.done():
        await asyncio.sleep(rng.uniform(3, 9))
        worker.kill()
        kills += 1
        worker.start()
        await asyncio.to_thread(worker.wait_ready, 120)
        if kills >= 8:
            break
    await producing
    await _caught_up([worker], pipeline.settings.partitions)

    alerts = await pipeline.alerts()
    assert {a.alert_id for a in alerts} == {a.alert_id for a in expected}
    _check_statuses(await pipeline.statuses(), expected)
