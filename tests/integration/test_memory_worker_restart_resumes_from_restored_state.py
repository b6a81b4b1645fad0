"""A `memory://` worker that is restarted rebuilds its table from the changelog (in bulk,
agents.worker.store) and resumes exactly where it stopped: the same clocks, the same devices
by alert state, and from there the same alerts as a worker that never stopped."""

from __future__ import annotations

import pytest

from tests.kafka_harness import eventually
from tests.scenarios import alert_ids, steady_fleet
from tests.unit.factories import DAY, T0
from tests.worker_harness import Pipeline, WorkerRun, assert_statuses_match

pytestmark = pytest.mark.integration

GAUGES = ("backupwatch_devices{", "backupwatch_devices_indexed ")


def restored_view(worker: WorkerRun) -> dict[str, str]:
    """What the worker holds, as it tells it: each partition's clock (/readyz) and the
    devices by alert kind and state and with a deadline (/metrics, made from the states
    of its partitions)."""
    view: dict[str, str] = {}
    for partition, clock in worker.clocks().items():
        view[f"clock {partition}"] = str(clock)
    status, body = worker.get("/metrics")
    assert status == 200, f"/metrics answered {status}"
    for line in body.decode().splitlines():
        if line.startswith(GAUGES):
            name, value = line.rsplit(" ", 1)
            view[name] = value
    return view


def _complete(view: dict[str, str]) -> dict[str, str] | None:
    clocks = [name for name in view if name.startswith("clock ")]
    return view if clocks and len(view) > len(clocks) else None


async def test_a_restarted_memory_worker_restores_its_states_and_decides_the_same_alerts(
    pipeline: Pipeline,
) -> None:
    # dev-7 falls silent half a day in: its warnings come before the restart and its
    # connection goes critical after it, decided from the state the restart restored.
    # dev-2 falls silent later: its warnings come after the restart.
    silent = {"dev-7": T0 + DAY / 2, "dev-2": T0 + 2 * DAY}
    scenario = steady_fleet(T0, hours=6 * 24, silent_from=silent)
    expected_alerts, expected_statuses = scenario.reference(pipeline.settings.partitions)
    restart_after = 4 * 24
    decided_before = [
        a for a in expected_alerts if a.decided_at <= scenario.steps[restart_after - 1].tick_at
    ]
    assert {(a.device_id, a.kind, a.to_state) for a in decided_before} == {
        ("dev-7", "connection", "warning"),
        ("dev-7", "backup", "warning"),
    }
    assert ("dev-7", "connection", "critical") in {
        (a.device_id, a.kind, a.to_state) for a in expected_alerts
    }

    worker = pipeline.worker(store="memory://")
    worker.start()
    worker.wait_ready()
    await pipeline.play(scenario.steps[:restart_after])
    last_tick = scenario.steps[restart_after - 1].tick_at
    await pipeline.caught_up(last_tick, timeout=90)
    # The gauges are there once the worker has made them (its first /metrics answer).
    before = await eventually(
        lambda: _complete(restored_view(worker)), what="the worker's clocks and device gauges"
    )
    assert alert_ids(await pipeline.alerts()) == alert_ids(decided_before)
    worker.stop()

    worker.start()
    worker.wait_ready(timeout=120)
    after = restored_view(worker)
    assert after == before, "the restarted worker does not hold what it held before"

    await pipeline.play(scenario.steps[restart_after:])
    final = scenario.steps[-1].tick_at
    await pipeline.caught_up(final, timeout=120)
    alerts = await pipeline.alerts()
    # Each alert once: the restored states record what was decided before the restart.
    assert sorted(a.alert_id for a in alerts) == sorted(a.alert_id for a in expected_alerts)
    assert_statuses_match(await pipeline.statuses(), expected_statuses)
