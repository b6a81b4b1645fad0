"""A worker that was down catches up without false silence alerts (docs/architecture.md §3), its
ticks carried out in slices."""

from __future__ import annotations

import pytest

from tests.scenarios import alert_ids, steady_fleet
from tests.unit.factories import DAY, T0
from tests.worker_harness import Pipeline, assert_statuses_match

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
async def test_three_days_of_backlog_give_no_false_alerts_and_the_same_final_state(
    pipeline: Pipeline, store: str
) -> None:
    # dev-7 really goes silent half a day in: its warning (3 days later) falls inside
    # the downtime and must come out at its simulated time, not earlier and not twice.
    scenario = steady_fleet(T0, hours=4 * 24, silent_from={"dev-7": T0 + DAY / 2})
    expected_alerts, expected_statuses = scenario.reference(pipeline.settings.partitions)
    assert {(a.device_id, a.kind, a.to_state) for a in expected_alerts} == {
        ("dev-7", "connection", "warning"),
        ("dev-7", "backup", "warning"),
    }

    # Ticks decide up to 3 devices per step here, so every tick of the 8-device fleet
    # is carried out in slices (sent and written one after another), as a tick that
    # makes a large fleet due is: the outcome must still be the reference's.
    worker = pipeline.worker(store=store, decisions_per_result=3)
    worker.start()
    worker.wait_ready()
    await pipeline.play(scenario.steps[:24])
    await pipeline.caught_up(scenario.steps[23].tick_at, timeout=60)
    worker.stop()

    await pipeline.play(scenario.steps[24:])
    worker.start()
    worker.wait_ready()
    final = scenario.steps[-1].tick_at
    await pipeline.caught_up(final, timeout=120)

    alerts = await pipeline.alerts()
    assert alert_ids(alerts) == alert_ids(expected_alerts)
    assert all(a.device_id == "dev-7" for a in alerts), "a false silence alert"
    for alert in alerts:
        assert alert.decided_at >= alert.episode_start + 3 * DAY
        assert alert.decided_at < alert.episode_start + 3 * DAY + DAY / 24 * 1.01
    assert_statuses_match(await pipeline.statuses(), expected_statuses)
