"""A Faust worker's table survives a restart with an empty store, from its changelog."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.kafka_harness import REPO, MakeTopics, consume, eventually, fresh_name, log_tail

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PARTITIONS = 3
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


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic``'s partitions, up to their end offsets at the call."""
    partitions = [TopicPartition(topic, partition) for partition in range(PARTITIONS)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= ends[tp] for tp in partitions):
                break
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in sorted(offsets.items()) if tp.topic == topic}


def _text(data: bytes | None) -> str:
    return "None" if data is None else data.decode(errors="replace")


async def describe_state(app: CounterApp) -> str:
    """What a wrong count needs to be told apart: lost input (committed past a record the
    agent never counted), a short changelog, or a recovery that missed part of it."""
    lines = [f"table snapshot: {app.read_snapshot()}"]
    try:
        inputs = await read_topic(app.bootstrap, app.topic)
        on_partitions: dict[int, list[str]] = defaultdict(list)
        for record in inputs:
            on_partitions[record.partition].append(f"{_text(record.key)}@{record.offset}")
        lines.append(f"input {app.topic} (key@offset): {dict(sorted(on_partitions.items()))}")
        committed = await committed_offsets(app.bootstrap, app.app_id, app.topic)
        lines.append(f"offsets committed by {app.app_id} on it (next to read): {committed}")
        changelog = await read_topic(app.bootstrap, app.changelog)
        per_key: dict[str, list[str]] = defaultdict(list)
        for record in changelog:
            per_key[_text(record.key)].append(
                f"{_text(record.value)} (p{record.partition}@{record.offset})"
            )
        lines.append(f"{app.changelog} per key, in order: {dict(sorted(per_key.items()))}")
    except Exception as exc:  # the failure is what matters; say what could not be read
        lines.append(f"(state could not be read further: {exc!r})")
    return "\n".join(lines)


async def wait_for_counts(app: CounterApp, worker: Worker, expected: dict[str, int]) -> None:
    def counts_reached_or_worker_gone() -> bool:
        # A worker that exited ends the wait at once (`eventually` would keep polling).
        return worker.process.poll() is not None or app.read_snapshot() == expected

    try:
        # Generous: a Faust worker starting on a loaded machine takes its time to join.
        await eventually(
            counts_reached_or_worker_gone, what=f"table counts {expected}", timeout=180
        )
        if worker.process.poll() is not None:
            raise AssertionError(f"the Faust worker exited with {worker.process.returncode}")
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\n{await describe_state(app)}\n{log_tail(worker.log, lines=100)}"
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
    # "a", "c" hash to partition 1 and "b", "d" to 2; "f" (second batch) is the first
    # record partition 0 ever gets, so the restart covers both a partition with a
    # committed offset and one without.
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
    # before the agent sees them, and must not drop one while it resumes the
    # streams (agents.worker.resume), or the counts come out short.
    second_batch = ["a", "d", "f"]
    await produce(kafka_bootstrap, topic, second_batch)
    app.snapshot.unlink()

    second = app.start_worker("second")
    running_workers.append(second)
    await wait_for_counts(app, second, dict(Counter(first_batch + second_batch)))
    assert second.stop() == 0, log_tail(second.log)
