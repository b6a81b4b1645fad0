"""A second worker joins: the first keeps half of its partitions, and neither reads their
changelog nor indexes them again (docs/architecture.md §6, "A rebalance does not wait
for work already done"); the second reads and indexes only its own half. The alerts are
still exactly the reference's, each once."""

from __future__ import annotations

import re

import pytest

from tests.kafka_harness import eventually
from tests.scenarios import alert_ids, steady_fleet
from tests.unit.factories import DAY, T0
from tests.worker_harness import Pipeline, WorkerRun

pytestmark = pytest.mark.integration

COUNTERS = ("backupwatch_partitions_indexed_total", "backupwatch_changelog_partitions_read_total")


def _counters(worker: WorkerRun) -> dict[str, float]:
    status, body = worker.get("/metrics")
    assert status == 200
    text = body.decode()
    found = {}
    for name in COUNTERS:
        match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
        assert match, f"{name} not exported"
        found[name] = float(match.group(1))
    return found


def _held(worker: WorkerRun) -> set[int]:
    try:
        return {int(p) for p in worker.clocks()}
    except OSError:
        return set()


@pytest.mark.parametrize("pipeline", [8], indirect=True)
async def test_the_first_worker_reads_and_indexes_none_of_the_partitions_it_keeps(
    pipeline: Pipeline,
) -> None:
    silent = {f"dev-{n}": T0 + DAY / 2 + n * DAY / 16 for n in (2, 7, 13)}
    scenario = steady_fleet(T0, hours=4 * 24, devices=16, silent_from=silent)
    expected, _ = scenario.reference(pipeline.settings.partitions)
    first = pipeline.worker(report_reader="none")
    first.start()
    first.wait_ready()
    await pipeline.play(scenario.steps[:24])
    day_one = scenario.steps[23].tick_at.isoformat()

    def first_holds_all() -> bool:
        clocks = first.clocks()
        return len(clocks) == 8 and set(clocks.values()) == {day_one}

    await eventually(first_holds_all, what=f"the first worker at {day_one} on 8 partitions")
    before = _counters(first)
    # Started on an empty changelog: nothing to read, every partition indexed once.
    assert before == {COUNTERS[0]: 8, COUNTERS[1]: 0}

    second = pipeline.worker(report_reader="none")
    second.start()

    def split() -> tuple[set[int], set[int]] | None:
        a, b = _held(first), _held(second)
        if a and b and not (a & b) and (a | b) == set(range(8)):
            return a, b
        return None

    kept, taken = await eventually(
        split, what="the two workers to hold disjoint halves of 8 partitions", timeout=120
    )
    second.wait_ready()
    # The first kept its share: not one of those partitions read or indexed again.
    assert _counters(first) == before, (kept, taken)
    # The second read each partition it took (all written by the first) and indexed it.
    assert _counters(second) == {COUNTERS[0]: len(taken), COUNTERS[1]: len(taken)}

    await pipeline.play(scenario.steps[24:])
    final = scenario.steps[-1].tick_at.isoformat()

    def at_the_end() -> bool:
        clocks = {**first.clocks(), **second.clocks()}
        return len(clocks) == 8 and set(clocks.values()) == {final}

    await eventually(at_the_end, what=f"every partition at {final}", timeout=120)
    alerts = await pipeline.alerts()
    assert alert_ids(alerts) == alert_ids(expected)
    assert len(alerts) == len(alert_ids(alerts)), "an alert was sent twice"
