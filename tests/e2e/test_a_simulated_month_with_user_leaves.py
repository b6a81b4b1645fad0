"""A simulated month whose users' leaves and departures are recorded for the user (the
user-facts topic, written as simulated time reaches each action) rather than as commands
to each device: the worker's alerts are exactly the pure core's reference run."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from agents.simulator.fleet import USER_FAULTS, Fleet
from agents.simulator.producer import simulate
from schemas.models import Alert
from tests.e2e.test_a_simulated_month_of_a_fleet import _caught_up, _check_statuses, _key
from tests.worker_harness import Pipeline

pytestmark = pytest.mark.e2e

START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 30
TICK = timedelta(minutes=5)
END = START + timedelta(days=DAYS)


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    # Seed 51: four users with a leave or a departure, seven devices between them.
    return Fleet(devices=40, seed=51, start=START, every_fault=True, user_facts=True)


@pytest.fixture(scope="module")
def expected(fleet: Fleet) -> list[Alert]:
    return fleet.expected_alerts(until=END, tick_every=TICK)


async def test_a_month_with_user_leaves_gives_exactly_the_reference_alerts(
    pipeline: Pipeline, fleet: Fleet, expected: list[Alert]
) -> None:
    held = {d.device_id for d in fleet.devices if d.fault in USER_FAULTS}
    reasons = Counter(a.reason for a in expected if a.device_id in held)
    # The month holds what the user facts do: leaves that end, departures that resolve.
    assert reasons["leave_ended"] and reasons["user_deactivated"], reasons

    worker = pipeline.worker()
    worker.start()
    worker.wait_ready()
    await simulate(
        pipeline.settings, fleet, start=START, days=DAYS, tick_every=TICK, record_timestamps="wall"
    )
    await _caught_up([worker], pipeline.settings.partitions)
    alerts = await pipeline.alerts()

    print(
        f"user-facts month: {len(alerts)} alerts against {len(expected)} in the reference; "
        f"devices of users on leave or gone: {len(held)}; reasons among them: {dict(reasons)}"
    )
    assert sorted(_key(a) for a in alerts) == sorted(_key(a) for a in expected)
    assert {a.alert_id for a in alerts} == {a.alert_id for a in expected}
    by_id = {a.alert_id: a for a in expected}
    for alert in alerts:
        reference = by_id[alert.alert_id]
        assert alert.reason == reference.reason, alert
        assert abs(alert.decided_at - reference.decided_at) <= TICK, alert
        top = alert.diagnosis[0].code if alert.diagnosis else None
        assert top == (reference.diagnosis[0].code if reference.diagnosis else None), alert
    _check_statuses(await pipeline.statuses(), expected)
