"""The one place the ingest endpoint and the reporters make their Kafka producer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from agents.kafka.connection import KafkaConnection
from agents.kafka.topics import BACKUP_PROGRESS, HEARTBEATS
from schemas.codec import encode
from schemas.models import Heartbeat, TelemetryRecord

__all__ = ["input_topic", "publish", "start_producer"]


async def start_producer(bootstrap_servers: str, role: str = "ingest") -> Any:
    """A started producer whose sends are acknowledged by every in-sync replica (a 202,
    or a reporter's success, must mean the records are kept). Raises `KafkaUnreachable`
    or `KafkaRefused`. TLS and SASL come from the BACKUPWATCH_KAFKA_* variables."""
    connection = KafkaConnection.from_env(role=role, bootstrap_servers=bootstrap_servers)
    producer = connection.producer(acks="all", linger_ms=5, enable_idempotence=True)
    await connection.start(producer)
    return producer


def input_topic(record: TelemetryRecord) -> str:
    """The input topic (without prefix) a telemetry record belongs on."""
    return HEARTBEATS if isinstance(record, Heartbeat) else BACKUP_PROGRESS


async def publish(producer: Any, topic_prefix: str, records: Sequence[TelemetryRecord]) -> None:
    """Append `records` keyed by device, and return once the broker acknowledged them
    all; raises the producer's error otherwise (some may then be kept: a client sends
    again, and the pipeline recognizes the duplicates)."""
    futures = [
        await producer.send(
            topic_prefix + input_topic(record), encode(record), key=record.device_id.encode()
        )
        for record in records
    ]
    await asyncio.gather(*futures)
