"""Run real backupwatch workers (subprocesses) against the test broker, and drive them.

A `WorkerRun` is one `backupwatch worker --no-ticker` process (`agents.process`): time
is supplied by the test, as tick records carrying simulated time, as the simulator does.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from agents.kafka.topics import ALERTS, DEAD_LETTERS, DEVICE_STATUS, INPUTS, ensure_topics
from agents.process import WorkerProcess
from agents.settings import Settings
from agents.worker.ticks import encode_tick, is_tick
from schemas import encode
from schemas.codec import decode_as
from schemas.models import Alert, DeviceStatus
from tests.kafka_harness import eventually, log_tail

__all__ = [
    "Pipeline",
    "alert_keys",
    "pipeline",
    "without_ticks",
    "WorkerRun",
    "free_port",
    "topic_for",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def topic_for(record: Any) -> str:
    """The input topic a record of the wire contract belongs on."""
    tag = msgspec.inspect.type_info(type(record)).tag  # type: ignore[attr-defined]
    return {
        "heartbeat/1": INPUTS[0],
        "backup_progress/1": INPUTS[1],
        "device_command/1": INPUTS[2],
    }[tag]


class WorkerRun(WorkerProcess):
    """A worker of the test: `agents.process.WorkerProcess`, plus its partition clocks."""

    def clocks(self) -> dict[str, str | None]:
        """The partition clocks this worker holds (its partitions), from /readyz."""
        status, body = self.get("/readyz", timeout=2)
        if not body:
            raise OSError(f"no answer from {self.web}/readyz (status {status})")
        clocks: dict[str, str | None] = json.loads(body)["clocks"]
        return clocks


@dataclass
class Pipeline:
    """The topics of one test and the workers on them."""

    settings: Settings
    tmp: Path
    workers: list[WorkerRun] = field(default_factory=list)
    _producer: AIOKafkaProducer | None = None

    async def setup(self) -> None:
        await ensure_topics(self.settings)
        self._producer = self.settings.kafka.producer(acks="all", linger_ms=5)
        await self._producer.start()

    async def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        if self._producer is not None:
            await self._producer.stop()

    def worker(self, store: str = "memory://", **overrides: Any) -> WorkerRun:
        n = len(self.workers)
        settings = self._settings(store, n, **overrides)
        run = WorkerRun(settings, self.tmp / f"worker-{n}.log")
        self.workers.append(run)
        return run

    def serve(self, **overrides: Any) -> WorkerRun:
        """A `backupwatch serve` on this test's topics (the report server), not started;
        for workers started with `report_reader="none"`."""
        n = len(self.workers)
        settings = self._settings("memory://", n, **overrides)
        run = WorkerRun(settings, self.tmp / f"serve-{n}.log", command="serve")
        self.workers.append(run)  # killed and its log shown as a worker's
        return run

    def _settings(self, store: str, n: int, **overrides: Any) -> Settings:
        return Settings(
            bootstrap_servers=self.settings.bootstrap_servers,
            topic_prefix=self.settings.topic_prefix,
            app_id=self.settings.app_id,
            partitions=self.settings.partitions,
            kafka=self.settings.kafka,
            create_topics=self.settings.create_topics,
            store=store,
            data_dir=self.tmp / f"worker-{n}",
            web_port=free_port(),
            # Time comes from the test's ticks, as from the simulator.
            tick_interval=timedelta(0),
            **overrides,
        )

    async def send(self, records: Iterable[Any]) -> None:
        """Send records of the wire contract, keyed by device, to their topics."""
        assert self._producer is not None
        futures = []
        for record in records:
            futures.append(
                await self._producer.send(
                    self.settings.topic(topic_for(record)),
                    encode(record),
                    key=record.device_id.encode(),
                )
            )
        await asyncio.gather(*futures)

    async def send_raw(
        self, topic: str, value: bytes, key: bytes | None, partition: int | None = None
    ) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(
            self.settings.topic(topic), value, key=key, partition=partition
        )

    async def tick(self, at: datetime) -> None:
        """A tick standing for `at` on every partition of every input topic."""
        assert self._producer is not None
        value, headers = encode_tick(at)
        futures = [
            await self._producer.send(
                self.settings.topic(topic), value, partition=p, headers=headers
            )
            for topic in INPUTS
            for p in range(self.settings.partitions)
        ]
        await asyncio.gather(*futures)

    async def play(self, steps: Iterable[Any]) -> None:
        """Each scenario step's records, then its tick."""
        for step in steps:
            await self.send(step.records)
            await self.tick(step.tick_at)

    async def caught_up(self, at: datetime, timeout: float = 120.0) -> None:
        """Wait until the statuses topic shows a stream time of `at` or later."""

        async def reached() -> bool:
            statuses = await self.statuses(settle=0.3, timeout=5)
            return bool(statuses) and max(s.stream_time for s in statuses.values()) >= at

        await eventually(reached, what=f"the worker to reach {at}", timeout=timeout)

    async def read(self, topic: str, *, settle: float = 1.0, timeout: float = 60.0) -> list[Any]:
        """Every record of an output topic once no new record came for `settle` s."""
        consumer = self.settings.kafka.consumer(
            self.settings.topic(topic),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        records: list[Any] = []
        try:
            deadline = time.monotonic() + timeout
            quiet_since = time.monotonic()
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200)
                got = [r for batch in batches.values() for r in batch]
                if got:
                    records.extend(got)
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= settle:
                    break
        finally:
            await consumer.stop()
        return records

    async def alerts(self, **kwargs: Any) -> list[Alert]:
        return [decode_as(r.value, Alert) for r in await self.read(ALERTS, **kwargs)]

    async def statuses(self, **kwargs: Any) -> dict[str, DeviceStatus]:
        latest: dict[str, DeviceStatus] = {}
        for r in await self.read(DEVICE_STATUS, **kwargs):
            status = decode_as(r.value, DeviceStatus)
            latest[status.device_id] = status
        return latest

    async def dead_letters(self, **kwargs: Any) -> list[Any]:
        return await self.read(DEAD_LETTERS, **kwargs)

    async def wait_for_alerts(
        self, predicate: Any, *, what: str, timeout: float = 60.0
    ) -> list[Alert]:
        deadline = time.monotonic() + timeout
        alerts: list[Alert] = []
        while time.monotonic() < deadline:
            alerts = await self.alerts(settle=0.5, timeout=5)
            if predicate(alerts):
                return alerts
        raise AssertionError(
            f"timed out waiting for {what}; alerts so far: "
            f"{[(a.device_id, a.kind, a.from_state, a.to_state) for a in alerts]}"
        )


def assert_statuses_match(
    statuses: Mapping[str, DeviceStatus], expected: Mapping[str, DeviceStatus]
) -> None:
    """Each expected device's published status agrees with the reference run's on its
    alert states and the times an admin reads."""
    for device_id, status in expected.items():
        got = statuses[device_id]
        assert got.alert_states == status.alert_states, device_id
        assert got.last_heartbeat == status.last_heartbeat, device_id
        assert got.last_connected == status.last_connected, device_id
        assert got.last_completed_backup == status.last_completed_backup, device_id


def alert_keys(alerts: Sequence[Alert]) -> set[tuple[str, str, str | None, str, str]]:
    return {(a.device_id, a.kind, a.destination_id, a.from_state, a.to_state) for a in alerts}


def without_ticks(records: Iterable[Any]) -> list[Any]:
    return [r for r in records if not is_tick(r.headers)]


@pytest_asyncio.fixture
async def pipeline(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Pipeline]:
    """This test's topics and a way to start workers on them; 4 input partitions, or
    another count with `@pytest.mark.parametrize("pipeline", [8], indirect=True)`."""
    settings = Settings(
        bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        app_id=topic_prefix.rstrip(".") + "-app",
        partitions=getattr(request, "param", 4),
    )
    run = Pipeline(settings, tmp_path)
    await run.setup()
    try:
        yield run
    finally:
        await run.close()
        for worker in run.workers:
            print(f"--- {worker.log_path.name} (tail) ---\n{log_tail(worker.log_path, 30)}")
