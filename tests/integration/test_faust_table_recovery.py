"""A Faust worker's table survives a restart with an empty store, from its changelog."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from tests.kafka_harness import REPO, MakeTopics, consume, eventually, fresh_name, log_tail

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PARTITIONS = 2
STOP_TIMEOUT_S = 60


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> int:
        """SIGTERM, as a supervisor would; the worker must leave cleanly."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the Faust worker ignored SIGTERM for {STOP_TIMEOUT_S}s\n{log_tail(self.log)}"
            ) from None


@dataclass
class CounterApp:
    """What a worker of ``faust_counter_app`` needs, one app id per test."""

    bootstrap: str
    app_id: str
    topic: str
    store: str
    workdir: Path

    @property
    def snapshot(self) -> Path:
        return self.workdir / "counts.json"

    @property
    def changelog(self) -> str:
        return f"{self.app_id}-counts-changelog"

    def start_worker(self, name: str) -> Worker:
        # A new data directory per worker: the table starts empty in memory and
        # on disk, so whatever it holds afterwards came from the changelog.
        datadir = self.workdir / f"data-{name}"
        log = self.workdir / f"worker-{name}.log"
        env = {
            **os.environ,
            "COUNTER_BROKER": self.bootstrap,
            "COUNTER_APP_ID": self.app_id,
            "COUNTER_TOPIC": self.topic,
            "COUNTER_STORE": self.store,
            "COUNTER_DATADIR": str(datadir),
            "COUNTER_SNAPSHOT": str(self.snapshot),
            "COUNTER_PARTITIONS": str(PARTITIONS),
            "PYTHONUNBUFFERED": "1",
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "faust", "-A", "tests.integration.faust_counter_app"]
                + ["--datadir", str(datadir), "worker", "-l", "info", "--without-web"],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return Worker(process, log)

    def read_snapshot(self) -> dict[str, int]:
        try:
            return dict(json.loads(self.snapshot.read_text()))
        except FileNotFoundError:
            return {}


@pytest.fixture
def running_workers() -> Iterator[list[Worker]]:
    workers: list[Worker] = []
    yield workers
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()


async def produce(bootstrap: str, topic: str, keys: list[str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key in keys:
            await producer.send(topic, b"x", key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def wait_for_counts(app: CounterApp, worker: Worker, expected: dict[str, int]) -> None:
    def counts_reached() -> bool:
        if worker.process.poll() is not None:
            raise AssertionError(
                f"the Faust worker exited with {worker.process.returncode}\n{log_tail(worker.log)}"
            )
        return app.read_snapshot() == expected

    try:
        # Generous: a Faust worker starting on a loaded machine takes its time to join.
        await eventually(counts_reached, what=f"table counts {expected}", timeout=180)
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\ntable snapshot: {app.read_snapshot()}\n{log_tail(worker.log)}"
        ) from None


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
async def test_table_recovers_from_changelog_after_restart(
    kafka_bootstrap: str,
    make_topics: MakeTopics,
    tmp_path: Path,
    running_workers: list[Worker],
    store: str,
) -> None:
    (topic,) = await make_topics("device-events", partitions=PARTITIONS)
    # Only the input topic is created here: Faust declares its changelog topic
    # itself, through the admin API, although the broker auto-creates nothing.
    app = CounterApp(
        bootstrap=kafka_bootstrap,
        app_id=fresh_name("counter-"),
        topic=topic,
        store=store,
        workdir=tmp_path,
    )
    # Keys on both partitions ("a", "b", "c" hash to 0, "d" to 1). Faust may leave a
    # partition that never had a record before the restart unread after recovery (seen
    # under load: the second worker never counted a "d" that was the partition's first
    # record); backupwatch's ticks put records on every partition from the start.
    first_batch = ["a", "a", "a", "b", "b", "c", "d"]
    await produce(kafka_bootstrap, topic, first_batch)

    first = app.start_worker("first")
    running_workers.append(first)
    await wait_for_counts(app, first, dict(Counter(first_batch)))
    assert first.stop() == 0, log_tail(first.log)

    changelog = await consume(kafka_bootstrap, app.changelog, 1, timeout=10)
    assert changelog, f"nothing on {app.changelog}"

    # Records the second worker must add on top of what it recovers. They are
    # on the topic before it starts: Faust has to finish recovering the table
    # before the agent sees them, or the counts come out short.
    second_batch = ["a", "d"]
    await produce(kafka_bootstrap, topic, second_batch)
    app.snapshot.unlink()

    second = app.start_worker("second")
    running_workers.append(second)
    await wait_for_counts(app, second, dict(Counter(first_batch + second_batch)))
    assert second.stop() == 0, log_tail(second.log)
