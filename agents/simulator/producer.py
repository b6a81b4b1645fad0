"""Write a simulated fleet's telemetry to Kafka, with ticks carrying simulated time.

Each event goes to its input topic keyed by device id (the producer's default
partitioner puts a device on one partition of every input topic), with the record
timestamp set to the event's simulated time. After each simulated `tick_every` step
a tick standing for the step's end is appended to every partition of every input
topic, behind the step's events, so the workers' clocks advance in simulated time
exactly as fast as they read the data (docs/architecture.md §3). The workers run with their own
wall-clock ticker off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from agents.kafka.topics import INPUTS, USER_FACTS
from agents.settings import Settings
from agents.simulator.fleet import Fleet, tick_times
from agents.worker.ticks import encode_tick
from schemas import encode

__all__ = ["FUTURE_LIMIT", "Progress", "SimulationSummary", "simulate"]

log = logging.getLogger(__name__)

# Kafka 4 refuses record timestamps more than `message.timestamp.after.max.ms` (one hour
# by default) ahead of the broker's clock.
FUTURE_LIMIT = timedelta(minutes=55)

# (simulated seconds done, simulated seconds in all, events sent so far by topic)
Progress = Callable[[float, float, dict[str, int]], None]


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    start: datetime
    end: datetime
    events_by_topic: dict[str, int]
    # Tick records written (one per partition of each input topic per step).
    ticks: int
    tick_steps: int
    devices_by_fault: dict[str, int]
    elapsed_s: float
    partitions: dict[str, int] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(self.events_by_topic.values())

    @property
    def events_per_second(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def describe(self) -> str:
        days = (self.end - self.start).total_seconds() / 86400
        lines = [
            f"simulated {days:g} days from {self.start.isoformat()} "
            f"in {self.elapsed_s:.1f}s wall time",
            f"events: {self.events:,} ({self.events_per_second:,.0f}/s)",
        ]
        lines += [f"  {topic:<18} {count:>12,}" for topic, count in self.events_by_topic.items()]
        lines.append(f"ticks: {self.ticks:,} records for {self.tick_steps:,} steps")
        lines.append(f"devices: {sum(self.devices_by_fault.values()):,}")
        lines += [f"  {fault:<22} {count:>8,}" for fault, count in self.devices_by_fault.items()]
        return "\n".join(lines)


def _millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class _BatchWriter:
    """Builds record batches per partition and hands them to the producer whole.

    Cheaper than `send()` per record (one future per batch, not per record; the
    partition of each device key is hashed once): the simulator's throughput is
    bounded by Python, not by the broker. Keyed records go where the producer's default
    partitioner would put them, so the workers find each device on its partition.
    """

    # Submitted batches whose acknowledgement has not been awaited yet.
    MAX_IN_FLIGHT = 64

    def __init__(self, producer: Any, partitions: dict[str, list[int]]) -> None:
        from aiokafka.partitioner import DefaultPartitioner

        self._producer = producer
        self._partitions = partitions
        self._partitioner = DefaultPartitioner()
        self._builders: dict[tuple[str, int], Any] = {}
        self._partition_of: dict[tuple[str, bytes], int] = {}
        self._in_flight: deque[asyncio.Future[Any]] = deque()

    def partition_for(self, topic: str, key: bytes) -> int:
        partition = self._partition_of.get((topic, key))
        if partition is None:
            every = self._partitions[topic]
            partition = self._partitioner(key, every, every)
            self._partition_of[(topic, key)] = partition
        return partition

    async def append(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes,
        timestamp_ms: int | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        builder = self._builders.get((topic, partition))
        if builder is None:
            builder = self._builders[(topic, partition)] = self._producer.create_batch()
        if builder.append(timestamp=timestamp_ms, key=key, value=value, headers=headers or []):
            return
        await self._submit(topic, partition, builder)
        builder = self._builders[(topic, partition)] = self._producer.create_batch()
        if not builder.append(timestamp=timestamp_ms, key=key, value=value, headers=headers or []):
            raise ValueError(f"a record of {len(value)} bytes does not fit in a batch")

    async def _submit(self, topic: str, partition: int, builder: Any) -> None:
        builder.close()
        future = await self._producer.send_batch(builder, topic, partition=partition)
        # Should an earlier batch fail, the error surfaces where that one is awaited;
        # the later ones are then never awaited, and must not log "never retrieved".
        future.add_done_callback(_retrieve)
        self._in_flight.append(future)
        while len(self._in_flight) > self.MAX_IN_FLIGHT:
            await self._in_flight.popleft()

    async def submit_all(self) -> None:
        """Hand every open batch to the producer (they go out as soon as possible)."""
        builders, self._builders = self._builders, {}
        for (topic, partition), builder in builders.items():
            await self._submit(topic, partition, builder)

    async def flush(self) -> None:
        """Submit every open batch and wait until the broker acknowledged them all."""
        await self.submit_all()
        while self._in_flight:
            await self._in_flight.popleft()


async def simulate(
    settings: Settings,
    fleet: Fleet,
    start: datetime | None = None,
    days: float = 30.0,
    tick_every: timedelta = timedelta(minutes=5),
    speed: float | None = None,
    progress: Progress | None = None,
    *,
    record_timestamps: Literal["simulated", "wall"] = "simulated",
) -> SimulationSummary:
    """Produce `days` of the fleet's telemetry from `start` (default: the fleet's start).

    `speed`: simulated seconds per wall second (None = as fast as possible).
    `progress(done_s, total_s, events_by_topic)` is called after each tick step.
    `tick_every` should not exceed the workers' allowed skew (`max_skew`): events are
    read against the clock of the previous tick, and device times further ahead of it
    are clamped.

    Record timestamps are the simulated times by default. The broker judges them
    against its own clock: it refuses times more than an hour ahead (Kafka 4's
    `message.timestamp.after.max.ms`), and deletes segments whose newest time is older
    than the topic's `retention.ms`, unread or not. `record_timestamps="wall"` stamps
    records with the time they are produced instead (the events and ticks still carry
    simulated time in their values, which is all the workers read).
    """
    from aiokafka.errors import InvalidTimestampError

    if speed is not None and speed <= 0:
        raise ValueError(f"`speed` must be positive, got {speed}")
    if days <= 0:
        raise ValueError(f"`days` must be positive, got {days}")
    start = start or fleet.start
    end = start + timedelta(days=days)
    if record_timestamps == "simulated" and end > datetime.now(UTC) + FUTURE_LIMIT:
        # Refuse before writing anything, rather than leave half a simulation behind.
        raise ValueError(
            f"the simulation ends at {end.isoformat()}, in the future: Kafka refuses record "
            "times more than an hour ahead of its clock; simulate a past period, or pass "
            'record_timestamps="wall"'
        )
    if tick_every > settings.max_skew:
        log.warning(
            "tick step %s exceeds the allowed skew %s: device times up to a step ahead of "
            "the clock will be clamped",
            tick_every,
            settings.max_skew,
        )
    producer = settings.kafka.producer(
        acks="all",
        linger_ms=50,
        max_batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
        request_timeout_ms=60_000,
    )
    await settings.kafka.start(producer)
    try:
        return await _run(
            producer,
            settings,
            fleet,
            start,
            end,
            tick_every,
            speed,
            progress,
            record_timestamps == "wall",
        )
    except InvalidTimestampError as err:
        raise ValueError(
            f"the broker refused the simulated record times (up to {end.isoformat()}); "
            "check its clock and `message.timestamp.after.max.ms`, or pass "
            'record_timestamps="wall"'
        ) from err
    finally:
        await producer.stop()


async def _run(
    producer: Any,
    settings: Settings,
    fleet: Fleet,
    start: datetime,
    end: datetime,
    tick_every: timedelta,
    speed: float | None,
    progress: Progress | None,
    wall_timestamps: bool,
) -> SimulationSummary:
    topics = {name: settings.topic(name) for name in INPUTS}
    partitions: dict[str, list[int]] = {}
    for name, topic in topics.items():
        found = await producer.partitions_for(topic)
        if not found:
            raise RuntimeError(f"topic {topic} has no partitions (does it exist?)")
        partitions[name] = sorted(found)
    counts = dict.fromkeys(INPUTS, 0)
    writer = _BatchWriter(producer, {topics[name]: p for name, p in partitions.items()})
    total_s = (end - start).total_seconds()
    wall_start = time.monotonic()
    ticks_written = 0
    # The users' records, each written (and acknowledged) as simulated time reaches the
    # instant it takes effect, before the tick after it: as an administrator's action.
    facts = iter(fleet.user_facts_records())
    next_fact = next(facts, None)

    async def publish_facts(before: datetime) -> None:
        nonlocal next_fact
        while next_fact is not None and next_fact[0] < before:
            at, record = next_fact
            await producer.send_and_wait(
                settings.topic(USER_FACTS),
                encode(record),
                key=record.user_id.encode(),
                timestamp_ms=None if wall_timestamps else _millis(at),
            )
            next_fact = next(facts, None)

    async def tick(at: datetime) -> None:
        nonlocal ticks_written
        await publish_facts(at)
        value, headers = encode_tick(at)
        millis = None if wall_timestamps else _millis(at)
        for name, topic in topics.items():
            for partition in partitions[name]:
                await writer.append(topic, partition, None, value, millis, headers)
                ticks_written += 1
        done = (at - start).total_seconds()
        if progress is not None:
            progress(done, total_s, dict(counts))
        if speed is not None:
            # In paced mode the step's records go out now, not when a batch fills up;
            # then wait for the wall clock to catch up with simulated time.
            await writer.submit_all()
            delay = wall_start + done / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    steps = tick_times(start, end, tick_every)
    upcoming = iter(steps)
    await tick(next(upcoming))
    next_tick = next(upcoming, None)
    for event in fleet.events_between(start, end):
        while next_tick is not None and event.at >= next_tick:
            await tick(next_tick)
            next_tick = next(upcoming, None)
        topic = topics[event.topic]
        key = event.key.encode()
        await writer.append(
            topic,
            writer.partition_for(topic, key),
            key,
            encode(event.record),
            None if wall_timestamps else _millis(event.at),
        )
        counts[event.topic] += 1
    while next_tick is not None:
        await tick(next_tick)
        next_tick = next(upcoming, None)
    await writer.flush()
    elapsed = time.monotonic() - wall_start
    summary = SimulationSummary(
        start=start,
        end=end,
        events_by_topic=counts,
        ticks=ticks_written,
        tick_steps=len(steps),
        devices_by_fault=fleet.devices_by_fault(),
        elapsed_s=elapsed,
        partitions={topics[name]: len(p) for name, p in partitions.items()},
    )
    log.info(
        "simulated %s events and %s ticks in %.1fs (%.0f events/s)",
        summary.events,
        ticks_written,
        elapsed,
        summary.events_per_second,
    )
    return summary
