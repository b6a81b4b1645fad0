"""The simulator writes a fleet's telemetry and simulated-time ticks to the input topics."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import ConsumerRecord
from aiokafka.partitioner import DefaultPartitioner

from agents.kafka.topics import INPUTS, ensure_topics
from agents.settings import Settings
from agents.simulator import Fleet, tick_times
from agents.simulator.producer import simulate
from agents.worker.ticks import TICK_HEADER, is_tick
from schemas import DeviceCommand, decode, encode
from tests.kafka_harness import consume

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PARTITIONS = 4
DAYS = 3
TICK_EVERY = timedelta(hours=1)


async def test_simulator_writes_events_and_ticks_to_every_partition(
    kafka_bootstrap: str, topic_prefix: str, consumer_group: str
) -> None:
    settings = Settings(
        bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix, partitions=PARTITIONS
    )
    await ensure_topics(settings)
    # A past period: the broker refuses record times more than an hour ahead of its
    # clock, and the simulated times are the records' timestamps.
    start = (datetime.now(UTC) - timedelta(days=DAYS + 1)).replace(
        minute=0, second=0, microsecond=0
    )
    fleet = Fleet(20, seed=11, start=start, every_fault=True, fault_days=(0.2, 1.0))
    steps: list[float] = []

    summary = await simulate(
        settings,
        fleet,
        start=start,
        days=DAYS,
        tick_every=TICK_EVERY,
        progress=lambda done, total, counts: steps.append(done / total),
    )

    end = start + timedelta(days=DAYS)
    expected = list(fleet.events_between(start, end))
    times = tick_times(start, end, TICK_EVERY)
    assert summary.events_by_topic == dict(Counter(e.topic for e in expected))
    assert summary.events_by_topic[INPUTS[2]] > 0, "the fleet should send admin commands"
    assert summary.ticks == len(times) * PARTITIONS * len(INPUTS)
    assert steps == sorted(steps) and steps[-1] == 1.0 and len(steps) == len(times)

    names = {settings.topic(name): name for name in INPUTS}
    records = await consume(
        kafka_bootstrap,
        list(names),
        summary.events + summary.ticks,
        group_id=consumer_group,
        timeout=120,
    )
    assert len(records) == summary.events + summary.ticks
    events = [r for r in records if not is_tick(r.headers)]
    ticks = [r for r in records if is_tick(r.headers)]

    # Every event arrived once, on its topic, keyed by its device. The input topics keep
    # the broker's append time as record time (retention must not count simulated
    # time), so the simulated time travels only in the values.
    assert Counter((names[r.topic], r.key, r.value) for r in events) == Counter(
        (e.topic, e.key.encode(), encode(e.record)) for e in expected
    )
    log_append_time = 1
    assert {r.timestamp_type for r in records} == {log_append_time}

    # A device stays on one partition, the same in every input topic (co-partitioned),
    # the one the producers' default partitioner picks.
    partitions_of: dict[bytes, set[int]] = defaultdict(set)
    for record in events:
        assert record.key is not None
        partitions_of[record.key].add(record.partition)
    every = list(range(PARTITIONS))
    for key, found in partitions_of.items():
        assert found == {DefaultPartitioner()(key, every, every)}, key

    # Every partition of every input topic has every tick, in increasing simulated time.
    by_partition: dict[tuple[str, int], list[ConsumerRecord[bytes, bytes]]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        by_partition[(record.topic, record.partition)].append(record)
    assert set(by_partition) == {(topic, p) for topic in names for p in every}
    for (topic, partition), log in by_partition.items():
        tick_records = [r for r in log if is_tick(r.headers)]
        assert all(dict(r.headers)[TICK_HEADER] == b"1" for r in tick_records)
        assert [_stream_time(r.value) for r in tick_records] == times, (topic, partition)
        # A tick at T comes after every event before T, and before every event from T on:
        # a worker's clock never runs ahead of what it has read (docs/architecture.md §3).
        clock = None
        for record in log:
            if is_tick(record.headers):
                clock = _stream_time(record.value)
                continue
            assert clock is not None, "the first tick must precede the events"
            event = decode(record.value)
            at = event.issued_at if isinstance(event, DeviceCommand) else event.event_time
            assert isinstance(at, datetime)  # records normalize their times to datetimes
            assert clock <= at < clock + TICK_EVERY, (topic, partition, record.offset)
    assert len(ticks) == summary.ticks


def _stream_time(tick_value: bytes) -> datetime:
    """The stream time a tick's value (epoch milliseconds) stands for."""
    return datetime.fromtimestamp(int(tick_value) / 1000, UTC)
