"""Hand-written fleets for pipeline tests, and their reference outcome from the pure core.

The reference runs `streams.pipeline.PartitionProcessor` over the same records and
ticks in the order they are produced, with an in-memory store: what an uncrashed,
never-stopped worker decides. A real worker must end with the same alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiokafka.partitioner import murmur2

from agents.worker.ticks import encode_tick
from schemas import encode
from schemas.models import Alert, DeviceStatus
from streams.pipeline import Envelope, PartitionProcessor
from streams.policy import DEFAULT_POLICY
from tests.unit.factories import heartbeat, progress
from tests.worker_harness import topic_for

__all__ = ["Scenario", "Step", "steady_fleet"]

HOUR = timedelta(hours=1)


@dataclass
class Step:
    """Records produced, then a tick at `tick_at` on every input partition."""

    records: list[Any]
    tick_at: datetime


@dataclass
class Scenario:
    steps: list[Step] = field(default_factory=list)

    def reference(self, partitions: int) -> tuple[list[Alert], dict[str, DeviceStatus]]:
        outcome = self.run(partitions)
        return outcome.alerts, outcome.statuses

    def run(self, partitions: int, max_decisions: int | None = None) -> Outcome:
        """Every step through one processor; with `max_decisions`, each batch is carried
        out in as many results as its ticks need, as the worker does."""

        def partition_for(key: bytes) -> int:
            return (murmur2(key) & 0x7FFFFFFF) % partitions

        store: dict[str, bytes] = {}
        processor = PartitionProcessor(
            partitions,
            load=lambda key, _p: store.get(key),
            items_of=lambda p: [(k, v) for k, v in store.items() if partition_for(k.encode()) == p],
            partition_for=partition_for,
            policy_for=lambda _org: DEFAULT_POLICY,
        )
        offsets: dict[tuple[int, int], int] = {}
        outcome = Outcome(store=store)

        def envelope(
            topic: int, partition: int, key: bytes | None, value: bytes, at: datetime, tick: bool
        ) -> Envelope:
            offset = offsets.get((topic, partition), 0)
            offsets[(topic, partition)] = offset + 1
            return Envelope(topic, partition, offset, key, value, at, tick)

        from agents.kafka.topics import INPUTS

        for step in self.steps:
            batch = []
            for record in step.records:
                key = record.device_id.encode()
                topic = INPUTS.index(topic_for(record))
                batch.append(
                    envelope(topic, partition_for(key), key, encode(record), step.tick_at, False)
                )
            value, _ = encode_tick(step.tick_at)
            for topic in range(len(INPUTS)):
                for p in range(partitions):
                    batch.append(envelope(topic, p, None, value, step.tick_at, True))
            while batch:
                result = processor.process(batch, max_decisions)
                store.update(result.writes)
                outcome.results += 1
                outcome.alerts += result.alerts
                for status in result.statuses:
                    outcome.statuses[status.device_id] = status
                outcome.outcomes.update(result.outcomes)
                outcome.ticks += [(t.partition, t.clock, t.devices_advanced) for t in result.ticks]
                batch = result.rest
        return outcome


@dataclass
class Outcome:
    """What a run of a scenario through the processor produced."""

    store: dict[str, bytes]
    alerts: list[Alert] = field(default_factory=list)
    statuses: dict[str, DeviceStatus] = field(default_factory=dict)
    outcomes: Counter[tuple[int, str]] = field(default_factory=Counter)
    # (partition, clock, devices advanced) of each tick carried out
    ticks: list[tuple[int, datetime, int]] = field(default_factory=list)
    # How many results the batches took.
    results: int = 0


def steady_fleet(
    start: datetime,
    hours: int,
    devices: int = 8,
    silent_from: dict[str, datetime] | None = None,
) -> Scenario:
    """Devices heartbeating hourly and completing a backup every 6 hours; a device in
    `silent_from` sends nothing from that time on. One step per simulated hour."""
    silent_from = silent_from or {}
    scenario = Scenario()
    for h in range(hours):
        at = start + h * HOUR
        records: list[Any] = []
        for n in range(devices):
            device = f"dev-{n}"
            quiet = silent_from.get(device)
            if quiet is not None and at >= quiet:
                continue
            records.append(heartbeat(at, device))
            if h % 6 == 0:
                records.append(progress(at, device))
        scenario.steps.append(Step(records, at + HOUR / 2))
    return scenario


def alert_ids(alerts: list[Alert]) -> set[str]:
    return {a.alert_id for a in alerts}


def iter_steps(scenario: Scenario, start: int, stop: int | None = None) -> Iterator[Step]:
    yield from scenario.steps[start:stop]
