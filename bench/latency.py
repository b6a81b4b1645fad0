"""Alert latency: from a tick's append to the append of the alert it decides.

Used by `bench.pipeline` on a worker that holds the filled fleet and has read every
record. Each step appends a tick standing for a later simulated time on every input
partition (all three topics, so every partition's clock moves), with the wall clock of
the append as the records' timestamp; devices silent long enough by then are due, and
the worker emits their alerts. An alert's latency is its record's timestamp (the
worker's producer stamps it when it sends) minus the timestamp of the last of the three
ticks of its device's partition in that step (the one that moved the clock). Alerts
are matched to steps by the clock they were decided at (`decided_at`).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiokafka import TopicPartition
from aiokafka.partitioner import murmur2

from agents.kafka.topics import ALERTS, INPUTS
from agents.settings import Settings
from agents.worker.ticks import encode_tick
from schemas.codec import decode_as
from schemas.models import Alert

__all__ = ["Latency", "alert_latency"]


@dataclass
class Latency:
    steps: int
    alerts: int
    seconds: list[float]
    per_tick: list[int]

    def quantile(self, q: float) -> float:
        if not self.seconds:
            return float("nan")
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def describe(self) -> str:
        if not self.seconds:
            return f"{self.steps} ticks, no alert"
        return (
            f"{self.alerts:,} alerts after {self.steps} ticks "
            f"({', '.join(f'{n:,}' for n in self.per_tick)}): p50 "
            f"{self.quantile(0.5) * 1000:,.0f} ms, p99 {self.quantile(0.99) * 1000:,.0f} ms, "
            f"max {max(self.seconds) * 1000:,.0f} ms (mean "
            f"{statistics.fmean(self.seconds) * 1000:,.0f} ms)"
        )


async def alert_latency(
    settings: Settings, first_at: datetime, steps: int, step: timedelta, quiet_s: float = 3.0
) -> Latency:
    """Append `steps` rounds of ticks at `first_at`, `first_at + step`, …; collect the
    alerts each decides until none came for `quiet_s` seconds."""
    n = settings.partitions
    inputs = [settings.topic(name) for name in INPUTS]
    alerts_topic = settings.topic(ALERTS)
    producer = settings.kafka.producer(acks="all")
    consumer = settings.kafka.consumer()
    await producer.start()
    await consumer.start()
    try:
        tps = [TopicPartition(alerts_topic, p) for p in range(n)]
        consumer.assign(tps)
        for tp, end in (await consumer.end_offsets(tps)).items():
            consumer.seek(tp, end)
        appended: dict[datetime, list[int]] = {}
        latencies: list[float] = []
        per_tick: list[int] = []
        for i in range(steps):
            at = first_at + i * step
            value, headers = encode_tick(at)
            stamps = [0] * n
            for partition in range(n):
                for topic in inputs:
                    stamp = int(time.time() * 1000)
                    meta = await (
                        await producer.send(
                            topic,
                            value,
                            partition=partition,
                            timestamp_ms=stamp,
                            headers=headers,
                        )
                    )
                    # The inputs keep the broker's append time (LogAppendTime): the ack
                    # carries it.
                    appended_at = meta.timestamp if meta.timestamp not in (None, -1) else stamp
                    stamps[partition] = appended_at  # the last of the three moves the clock
            appended[at] = stamps
            got = await _collect(consumer, appended, n, quiet_s)
            per_tick.append(len(got))
            latencies.extend(got)
        return Latency(steps, len(latencies), latencies, per_tick)
    finally:
        await consumer.stop()
        await producer.stop()


async def _collect(
    consumer: Any, appended: dict[datetime, list[int]], partitions: int, quiet_s: float
) -> list[float]:
    latencies: list[float] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < quiet_s:
        batches = await consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                alert = decode_as(record.value, Alert)
                stamps = appended.get(alert.decided_at)
                if stamps is None:
                    continue  # decided by an earlier clock (a record read late)
                home = int(murmur2(alert.device_id.encode()) & 0x7FFFFFFF) % partitions
                latencies.append((record.timestamp - stamps[home]) / 1000)
                quiet_since = time.monotonic()
    return latencies


def run(settings: Settings, first_at: datetime, steps: int, step: timedelta) -> Latency:
    return asyncio.run(alert_latency(settings, first_at, steps, step))
