"""A partition's clock is the minimum of the latest tick read on each input topic; it
never moves back, decisions are taken when it moves, and it survives a rebalance."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from agents.ticks import decode_tick
from tests.unit.factories import DAY, T0, heartbeat
from tests.unit.streams.test_partition_processor import (
    PARTITIONS,
    TOPICS,
    Log,
    Worker,
    alerts_of,
    partition_of,
    transitions,
)

P = partition_of(b"dev-1")
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("ticks", "clock"),
    [
        ({0: T0, 1: T0, 2: T0}, T0),
        ({0: T0 + 2 * MINUTE, 1: T0 + MINUTE, 2: T0 + 3 * MINUTE}, T0 + MINUTE),
        ({0: T0 + 3 * MINUTE, 1: T0 + 2 * MINUTE, 2: T0}, T0),
    ],
)
def test_the_clock_is_the_minimum_of_the_latest_tick_of_each_topic(
    ticks: dict[int, datetime], clock: datetime
) -> None:
    worker, log = Worker(), Log()
    for topic, at in ticks.items():
        # Each topic also carries older ticks first: only its latest counts.
        worker.process(log.tick(at - 2 * MINUTE, P, [topic]) + log.tick(at, P, [topic]))
    assert worker.processor.clock(P) == clock


@pytest.mark.parametrize("topics", [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)])
def test_ticks_on_only_some_topics_neither_move_the_clock_nor_decide(
    topics: tuple[int, ...],
) -> None:
    worker, log = Worker(), Log()
    worker.process([log.record(heartbeat(T0))])
    device = worker.store[P]["dev-1"]
    result = worker.process(log.tick(T0 + 10 * DAY, P, topics))
    assert worker.processor.clock(P) is None
    assert (result.alerts, result.statuses, result.ticks) == ([], [], [])
    # At most the partition's clock record changes (it remembers each topic's tick).
    assert set(result.writes) <= {worker.processor.clock_key(P)}
    assert worker.store[P]["dev-1"] == device
    assert worker.restart().clock(P) is None


def test_decisions_are_taken_at_the_tick_that_moves_the_clock() -> None:
    worker, log = Worker(), Log()
    worker.process([log.record(heartbeat(T0))] + log.tick(T0, P))
    first, second, third = (worker.process(log.tick(T0 + 3 * DAY, P, [topic])) for topic in TOPICS)
    assert first.alerts == second.alerts == []
    assert transitions(third.alerts) == [("opened", T0 + 3 * DAY)]
    assert [(t.partition, t.clock) for t in third.ticks] == [(P, T0 + 3 * DAY)]


def test_an_older_tick_never_moves_the_clock_back() -> None:
    worker, log = Worker(), Log()
    worker.process([log.record(heartbeat(T0))] + log.tick(T0 + 3 * DAY, P))
    before = dict(worker.store[P])
    result = worker.process(log.tick(T0 + 2 * DAY, P) + log.tick(T0 + DAY, P))
    assert worker.processor.clock(P) == T0 + 3 * DAY
    assert (result.alerts, result.statuses, result.writes, result.ticks) == ([], [], {}, [])
    assert worker.store[P] == before
    # Nor does it hold the clock back: the next newer tick on each topic moves it.
    worker.process(log.tick(T0 + 5 * DAY, P))
    assert worker.processor.clock(P) == T0 + 5 * DAY


def test_the_clock_is_written_under_its_partitions_clock_key() -> None:
    worker, log = Worker(), Log()
    worker.process(log.ticks(T0) + log.tick(T0 + MINUTE, 2))
    for partition in range(PARTITIONS):
        key = worker.processor.clock_key(partition)
        expected = T0 + MINUTE if partition == 2 else T0
        # The clock comes first, in epoch milliseconds like a tick.
        clock, *_ = worker.store[partition][key].split(b";")
        assert decode_tick(clock) == expected


@pytest.mark.parametrize("rebalance", ["revoke_all", "new processor"])
def test_the_clock_and_the_deadlines_are_rebuilt_from_the_store(rebalance: str) -> None:
    worker, log = Worker(), Log()
    worker.process(
        [log.record(heartbeat(T0, "dev-1")), log.record(heartbeat(T0, "dev-5"))]
        + log.tick(T0 + DAY, P)
    )
    if rebalance == "revoke_all":
        worker.processor.revoke_all()
    else:
        worker.restart()
    assert worker.processor.clock(P) is None
    # Any record of the partition rebuilds it; older ticks do not move the clock back.
    result = worker.process(log.tick(T0, P))
    assert worker.processor.clock(P) == T0 + DAY
    assert worker.processor.devices_indexed() == 2
    assert result.writes == {}
    result = worker.process(log.tick(T0 + 3 * DAY, P))
    assert sorted(a.device_id for a in result.alerts if a.kind == "connection") == [
        "dev-1",
        "dev-5",
    ]
    assert {a.decided_at for a in result.alerts} == {T0 + 3 * DAY}


def test_a_device_is_decided_only_by_its_own_partitions_clock() -> None:
    # Other partitions' ticks decide nothing for a device whose partition is behind.
    worker, log = Worker(), Log()
    worker.process([log.record(heartbeat(T0, "dev-1")), log.record(heartbeat(T0, "dev-2"))])
    results = worker.run(log.ticks(T0 + 4 * DAY, [p for p in range(PARTITIONS) if p != 1]), 5)
    assert sorted({a.device_id for a in alerts_of(results)}) == ["dev-2"]
    results = worker.run(log.ticks(T0 + 4 * DAY, [1]), 5)
    assert sorted({a.device_id for a in alerts_of(results)}) == ["dev-1"]
