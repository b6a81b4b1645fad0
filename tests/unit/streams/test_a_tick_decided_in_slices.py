"""A tick that makes many devices due can be carried out in slices (`max_decisions`),
so that a worker never holds the whole fleet's decisions at once. The slices must add up
to exactly what one result would have held: the same alerts in the same order, the same
statuses and stored states, each tick counted once, and no later record applied before
the tick is done."""

from __future__ import annotations

import pytest

from tests.scenarios import steady_fleet
from tests.unit.factories import DAY, T0

SILENT = {f"dev-{n}": T0 + DAY / 2 + n * DAY / 40 for n in range(0, 30, 3)}


@pytest.mark.parametrize("max_decisions", [1, 2, 7, 29])
def test_slices_add_up_to_the_whole(max_decisions: int) -> None:
    scenario = steady_fleet(T0, hours=5 * 24, devices=30, silent_from=SILENT)

    whole = scenario.run(partitions=4)
    sliced = scenario.run(partitions=4, max_decisions=max_decisions)

    assert [a.alert_id for a in sliced.alerts] == [a.alert_id for a in whole.alerts]
    assert {a.device_id for a in whole.alerts} == set(SILENT)  # the scenario alerts
    assert sliced.statuses == whole.statuses
    assert sliced.store == whole.store
    assert sliced.outcomes == whole.outcomes
    assert sliced.ticks == whole.ticks
    # The ticks really were split: most of them decide all 30 devices' partitions.
    assert sliced.results > whole.results
    assert whole.results == len(scenario.steps)


def test_without_a_limit_a_batch_is_one_result() -> None:
    scenario = steady_fleet(T0, hours=24, devices=30)
    outcome = scenario.run(partitions=4, max_decisions=None)
    assert outcome.results == len(scenario.steps)
