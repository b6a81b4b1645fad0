"""The benchmark's "naive Faust" runner: the worker's job written as Faust's guide writes
an agent, run in a process of its own by `bench.pipeline`.

* one agent over the three input topics, one record at a time
  (`async for event in stream.events()`);
* telemetry values decoded into `faust.Record` models with `validation=True`, as a
  Faust app receives its values (ticks, recognised by their header, are not records);
* the core called for that one record (`PartitionProcessor.process([envelope])`, so
  that every runner takes exactly the same decisions), each alert sent and its ack
  awaited before the state is written, one table write (`table[key] = value`) per
  changed state, one `send` per status;
* Faust's defaults otherwise (its producer buffer, its per-record acks and commits),
  except a 1 s commit interval like the worker's, so that the end of a run is seen as
  soon.

Timed from the first record the agent receives until every input record has been
processed, the producer flushed and the group's committed offsets reached the end of
every input partition.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from datetime import UTC, datetime
from typing import Any

import faust
from msgspec.structs import replace

from agents.kafka.topics import ALERTS, DEVICE_STATUS, INPUTS
from agents.settings import Settings
from agents.worker.ticks import is_tick
from bench.harness import committed_to_end, keyed_processor, memory_kb
from schemas.codec import encode
from streams.pipeline import Envelope
from streams.policy import Policy

__all__ = ["run_naive_faust"]


class HeartbeatRecord(faust.Record, validation=True, serializer="json"):
    schema: str
    device_id: str
    user_id: str
    org_id: str
    event_time: str
    app_version: str = ""
    os: str = ""
    hostname: str = ""
    service_state: str = "running"
    backup_paused: bool = False
    cpu_limit_percent: int = 100
    network_limit_kbps: int | None = None
    reachable_destinations: list[str] = []  # noqa: RUF012 - Faust copies defaults
    connect_error: str | None = None


class FileErrorsRecord(faust.Record, validation=True, serializer="json"):
    locked: int = 0
    permission_denied: int = 0
    vanished: int = 0
    changed_during_backup: int = 0


class ProgressRecord(faust.Record, validation=True, serializer="json"):
    schema: str
    device_id: str
    user_id: str
    org_id: str
    destination_id: str
    event_time: str
    session_state: str
    percent_complete: float
    selected_files: int = 0
    selected_bytes: int = 0
    todo_files: int = 0
    todo_bytes: int = 0
    bytes_sent: int = 0
    file_errors: FileErrorsRecord = FileErrorsRecord()
    cpu_throttled: bool = False
    network_throttled: bool = False
    backup_interval_s: int = 900


def run_naive_faust(cfg: Any) -> dict[str, Any]:
    """Run the app until `cfg.total` records are processed and committed; its figures."""
    settings = Settings(bootstrap_servers=cfg.bootstrap, topic_prefix=cfg.prefix)
    n = cfg.partitions
    app = settings.kafka.faust_app(
        cfg.group,
        store=cfg.store,
        datadir=cfg.state_dir,
        topic_partitions=n,
        topic_replication_factor=1,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        logging_config=None,
    )
    topics = [settings.topic(name) for name in INPUTS]
    topic_index = {name: i for i, name in enumerate(topics)}
    record_types: list[type[faust.Record] | None] = [HeartbeatRecord, ProgressRecord, None]
    inputs = app.topic(
        *topics, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    alerts = app.topic(settings.topic(ALERTS), key_serializer="raw", value_serializer="raw")
    statuses = app.topic(
        settings.topic(DEVICE_STATUS), key_serializer="raw", value_serializer="raw"
    )
    table = app.Table("device-state", default=None, key_type=bytes, value_type=bytes)
    table.key_serializer = table.value_serializer = "raw"

    def load(key: str, partition: int) -> bytes | None:
        value = table.get(key.encode())
        return value if isinstance(value, bytes) else None

    processor = keyed_processor(n, load, Policy(max_skew=settings.max_skew))
    figures: dict[str, Any] = {"records": 0, "alerts": 0, "writes": 0, "statuses": 0}
    first: list[float] = []

    @app.agent(inputs, name="naive")
    async def naive(stream: Any) -> None:
        async for event in stream.events():
            if not first:
                usage = resource.getrusage(resource.RUSAGE_SELF)
                first.extend([time.perf_counter(), usage.ru_utime + usage.ru_stime])
            message = event.message
            topic = topic_index[message.topic]
            tick = is_tick(message.headers)
            record_type = record_types[topic]
            if not tick and record_type is not None:
                # What Faust hands an agent whose topic has a Record value type.
                record_type.loads(message.value, serializer="json")
            envelope = Envelope(
                topic=topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
                value=message.value,
                timestamp=datetime.fromtimestamp(message.timestamp or 0, UTC),
                tick=tick,
            )
            result = processor.process([envelope])
            now = datetime.now(UTC)
            for alert in result.alerts:
                ack = await alerts.send(
                    key=alert.device_id.encode(), value=encode(replace(alert, emitted_at=now))
                )
                await ack
            for key, value in result.writes.items():
                table[key.encode()] = value
            for status in result.statuses:
                await statuses.send(key=status.device_id.encode(), value=encode(status))
            figures["records"] += 1
            figures["alerts"] += len(result.alerts)
            figures["writes"] += len(result.writes)
            figures["statuses"] += len(result.statuses)

    @app.task
    async def finish() -> None:
        while figures["records"] < cfg.total:
            await asyncio.sleep(0.05)
        await app.producer.flush()
        await committed_to_end(settings.kafka, cfg.group, topics, n, app.consumer.commit)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        figures["seconds"] = time.perf_counter() - first[0]
        figures["cpu"] = usage.ru_utime + usage.ru_stime - first[1]
        figures["hwm_kb"] = memory_kb("self", "VmHWM")
        figures["rss_kb"] = memory_kb("self", "VmRSS")
        import json

        # Straight to the descriptor: Faust's worker redirects `print` to its log.
        os.write(1, (json.dumps(figures) + "\n").encode())
        # Faust's shutdown takes seconds and is not part of the job.
        os._exit(0)

    from faust.worker import Worker

    Worker(app, loglevel="warning", quiet=True).execute_from_commandline()
    raise RuntimeError("the naive Faust worker stopped before the end of the data")
