"""A clock step reports how long it took on the stopwatch the processor was given (the
worker's tick-duration metric), and the core reads no clock of its own."""

from __future__ import annotations

from collections.abc import Iterator

from streams import DEFAULT_POLICY
from streams.pipeline import PartitionProcessor
from tests.unit.factories import DAY, T0, heartbeat, progress
from tests.unit.streams.test_partition_processor import PARTITIONS, Log, partition_of


def _processor(stopwatch: Iterator[float] | None) -> PartitionProcessor:
    store: dict[int, dict[str, bytes]] = {p: {} for p in range(PARTITIONS)}
    return PartitionProcessor(
        PARTITIONS,
        load=lambda key, partition: store[partition].get(key),
        items_of=lambda partition: list(store[partition].items()),
        partition_for=partition_of,
        policy_for=lambda org_id: DEFAULT_POLICY,
        stopwatch=None if stopwatch is None else stopwatch.__next__,
    )


def test_each_clock_step_reports_the_stopwatch_time_it_took() -> None:
    # Every reading is 0.25 s after the previous one: a step that starts and ends the
    # stopwatch once took 0.25 s.
    readings = (0.25 * n for n in range(1000))
    processor = _processor(readings)
    log = Log()
    partition = partition_of(b"dev-1")
    result = processor.process(
        [log.record(heartbeat(T0)), log.record(progress(T0)), *log.tick(T0, partition)]
        + log.tick(T0 + 4 * DAY, partition)
    )
    assert [(t.clock, t.seconds) for t in result.ticks] == [(T0, 0.25), (T0 + 4 * DAY, 0.25)]


def test_without_a_stopwatch_a_step_reports_no_time() -> None:
    processor = _processor(None)
    log = Log()
    partition = partition_of(b"dev-1")
    result = processor.process([log.record(heartbeat(T0)), *log.tick(T0, partition)])
    assert [t.seconds for t in result.ticks] == [0.0]
