"""`topics create`, `produce`, `simulate` and `alerts` over SASL_SSL with SCRAM, the
password from a file, as a person runs them against a secured cluster."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from agents.kafka.topics import ALERTS, HEARTBEATS, INPUTS, topic_specs
from agents.settings import Settings
from schemas import encode
from tests.integration.notify.alerts import alert
from tests.integration.secured.cli import backupwatch, clean_env
from tests.kafka_harness import REPO
from tests.secured_kafka import SecuredBroker
from tests.unit.factories import heartbeat

pytestmark = pytest.mark.integration


async def _records(settings: Settings, topic: str) -> int:
    """How many records `topic` holds (end minus beginning offsets)."""
    from aiokafka import TopicPartition

    consumer = settings.kafka.consumer()
    await consumer.start()
    try:
        tps = [TopicPartition(settings.topic(topic), p) for p in range(settings.partitions)]
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        await consumer.stop()


async def test_topics_produce_simulate_and_alerts_over_sasl_ssl(
    secured_kafka: SecuredBroker, topic_prefix: str, tmp_path: Path
) -> None:
    stem = topic_prefix.rstrip(".")
    await secured_kafka.grant_everything_under("backupwatch", stem, stem)
    env = {
        **secured_kafka.scram_env(),
        "BACKUPWATCH_TOPIC_PREFIX": topic_prefix,
        "BACKUPWATCH_APP_ID": f"{stem}-app",
        "BACKUPWATCH_PARTITIONS": "2",
    }
    settings = Settings.from_env(env)

    created = backupwatch("topics", "create", env=env)
    assert created.code == 0, created.err
    assert set(created.out.removeprefix("created: ").strip().split(", ")) >= {
        s.name for s in topic_specs(settings)
    }

    lines = tmp_path / "heartbeats.jsonl"
    lines.write_bytes(b"".join(encode(heartbeat(device=f"dev-{n}")) + b"\n" for n in range(5)))
    produced = backupwatch("produce", "heartbeats", str(lines), env=env)
    assert produced.code == 0, produced.err
    assert await _records(settings, HEARTBEATS) == 5

    simulated = backupwatch("simulate", "--devices", "3", "--days", "1", env=env)
    assert simulated.code == 0, simulated.err
    assert await _records(settings, HEARTBEATS) > 5
    assert all([await _records(settings, name) for name in INPUTS])

    sent = alert(1, device="dev-77")
    producer = settings.kafka.producer(acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(ALERTS), encode(sent), key=b"dev-77")
    finally:
        await producer.stop()
    following = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agents.cli",
        "alerts",
        "--json",
        "--from-beginning",
        cwd=REPO,
        env={**clean_env(), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert following.stdout is not None
        line = await asyncio.wait_for(following.stdout.readline(), 60)
        assert json.loads(line)["alert_id"] == sent.alert_id
    finally:
        following.terminate()
        await following.wait()
