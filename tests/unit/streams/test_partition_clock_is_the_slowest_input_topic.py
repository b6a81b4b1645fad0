"""A partition's clock is the minimum of the latest tick read on each input topic; it
never moves back, decisions are taken when it moves, and it survives a rebalance."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from streams.pipeline import Envelope
from tests.unit.factories import DAY, T0, heartbeat, progress
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
        assert int(clock) == int(expected.timestamp() * 1000)


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


# -- topics read at different paces ---------------------------------------------------
#
# The same per-topic logs, each topic read in its own order but the topics interleaved
# differently: the heartbeats topic (the fullest) read ahead of the others. A record read
# ahead of the clock is parked, and so is any later record of its device; each must be
# applied where it stands in its own topic: before the decision at the next tick of that
# topic, or after it when it follows that tick.

T1 = T0 + 3 * DAY - 5 * MINUTE
T2 = T0 + 3 * DAY  # dev-1's connection warning is due here, unless it is heard from
T3 = T2 + 5 * MINUTE


ORDERS = ("stream order", "heartbeats read ahead", "heartbeats read ahead, one batch")


def read_orders(
    first: list[Envelope], behind: list[Envelope], second: list[Envelope], ahead: list[Envelope]
) -> dict[str, list[list[Envelope]]]:
    """Batches of two rounds of ticks, `first` (at T1) and `second` (at T2, heartbeats
    topic first), with `behind` (records after T1 on another topic than the heartbeats)
    and `ahead` (records after T2 on the heartbeats topic)."""
    orders = {
        "stream order": [first, behind, second, ahead],
        "heartbeats read ahead": [first, [second[0], *ahead], behind, second[1:]],
        "heartbeats read ahead, one batch": [[*first, second[0], *ahead, *behind, *second[1:]]],
    }
    assert tuple(orders) == ORDERS
    return orders


@pytest.mark.parametrize("order", ORDERS)
def test_a_record_parked_behind_a_later_one_counts_for_the_decision_after_its_tick(
    order: str,
) -> None:
    # dev-1 sends data after T1 (it reached its destination), and heartbeats after T2.
    # Read ahead, the heartbeat is parked, and the data behind it; the data still comes
    # before the decision at T2.
    worker, log = Worker(), Log()
    worker.process(log.tick(T0, P) + [log.record(heartbeat(T0))])
    first = log.tick(T1, P)
    data = log.record(progress(T1 + MINUTE, session_state="sending", percent=50.0))
    second = log.tick(T2, P)
    later = log.record(heartbeat(T2 + MINUTE))
    results = [
        worker.process(batch)
        for batch in read_orders(first, [data], second, [later])[order] + [log.tick(T3, P)]
    ]
    assert alerts_of(results) == []
    state = worker.state("dev-1")
    assert (state.parked, state.last_heartbeat) == ((), T2 + MINUTE)
    assert sum(r.outcomes[(t, "accepted")] for r in results for t in TOPICS) == 2


@pytest.mark.parametrize("order", ORDERS)
def test_a_record_parked_after_the_tick_that_decides_follows_the_decision(order: str) -> None:
    # dev-1 is silent until just after T2: the warning at T2 stands, resolved at T3.
    worker, log = Worker(), Log()
    worker.process(log.tick(T0, P) + [log.record(heartbeat(T0))])
    first = log.tick(T1, P)
    second = log.tick(T2, P)
    later = log.record(heartbeat(T2 + MINUTE))
    results = [
        worker.process(batch)
        for batch in read_orders(first, [], second, [later])[order] + [log.tick(T3, P)]
    ]
    assert transitions(alerts_of(results)) == [("opened", T2), ("resolved", T3)]
    assert worker.state("dev-1").parked == ()


@pytest.mark.parametrize(("max_decisions", "slices"), [(1, 3), (2, 2), (None, 1)])
def test_a_tick_in_slices_applies_each_parked_record_once_and_in_its_place(
    max_decisions: int | None, slices: int
) -> None:
    # dev-5 and dev-9 (same partition) fall silent and are warned at T2; dev-1's data
    # parked behind its heartbeat counts before the decision (dev-1 is decided too, its
    # facts changed), its heartbeat after it: three decisions, in slices of at most
    # `max_decisions`.
    silent = ["dev-5", "dev-9"]
    assert {partition_of(d.encode()) for d in silent} == {P}
    worker, log = Worker(), Log()
    worker.process(log.tick(T0, P) + [log.record(heartbeat(T0, d)) for d in ["dev-1", *silent]])
    worker.process(log.tick(T1, P))
    data = log.record(progress(T1 + MINUTE, session_state="sending", percent=50.0))
    second = log.tick(T2, P)
    later = log.record(heartbeat(T2 + MINUTE))
    batch = [second[0], later, data, *second[1:]]
    results = []
    while batch:
        result = worker.processor.process(batch, max_decisions)
        for key, value in result.writes.items():
            worker.store[result.homes[key]][key] = value
        results.append(result)
        batch = result.rest
    assert len(results) == slices
    warned = [(a.device_id, a.transition, a.decided_at) for a in alerts_of(results)]
    assert sorted(set(warned)) == [(d, "opened", T2) for d in silent]
    assert sum(r.outcomes[(t, "accepted")] for r in results for t in TOPICS) == 2
    assert sum(r.outcomes[(t, "tick")] for r in results for t in TOPICS) == 3
    state = worker.state("dev-1")
    assert (state.parked, state.last_heartbeat) == ((), T2 + MINUTE)
    assert [(t.clock, t.devices_advanced) for r in results for t in r.ticks] == [(T2, 3)]
