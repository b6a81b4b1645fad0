"""One record of JSON nested a thousand levels deep, on every topic a process reads, stops
none of them: a real worker (its inputs, the org policies and user facts it reads from
the start at every boot, its own changelog when it recovers), its report reader (the
changelog, the org policies, the user facts, the notifiers' target names) and a real
notifier (alerts, org policies, its delivered topic) all go on and handle the valid
records after it. The nested input records are `invalid_json` dead letters, the nested
alert an `invalid_alert` one; a record of a device whose stored state was replaced by
the nested record is an `unexpected_error` dead letter naming the exception.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from agents.kafka.topics import ALERTS, INPUTS, ORG_POLICIES, USER_FACTS
from agents.notify.settings import NotifySettings
from agents.notify.topics import (
    NOTIFY_DEAD_LETTERS,
    NOTIFY_DELIVERED,
    NOTIFY_TARGETS,
    ensure_notify_topics,
)
from schemas.codec import decode_as
from schemas.models import Alert
from tests.kafka_harness import eventually, fresh_name, log_tail
from tests.notify_harness import NotifierRun, SmtpRecorder, metric_value, read_topic
from tests.unit.factories import DAY, T0, heartbeat
from tests.worker_harness import Pipeline, free_port

pytestmark = pytest.mark.e2e

DEPTH = 1000
NESTED = b'{"schema":"heartbeat/1","x":' + b"[" * DEPTH + b"]" * DEPTH + b"}"
NESTED_OBJECTS = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH
HOUR = timedelta(hours=1)


async def produce(bootstrap: str, records: list[tuple[str, bytes, bytes, int | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, key, value, partition in records:
            await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


async def wait_for_alerts(pipeline: Pipeline, devices: set[str], *, what: str) -> list[Alert]:
    """The alerts topic's alerts (the nested record aside) once `devices` have some."""

    async def alerts() -> list[Alert] | None:
        records = await pipeline.read(ALERTS, settle=0.5, timeout=5)
        found = [decode_as(r.value, Alert) for r in records if r.value != NESTED]
        return found if {a.device_id for a in found} >= devices else None

    return await eventually(alerts, what=what, timeout=120)


def headers_of(record: Any) -> dict[str, str]:
    return {name: raw.decode() for name, raw in record.headers}


def listed(worker: Any) -> set[str]:
    status, body = worker.get("/api/devices?limit=1000", timeout=10)
    return {row["device_id"] for row in orjson.loads(body)["devices"]} if status == 200 else set()


def metric(worker: Any, name: str, **labels: str) -> float:
    status, body = worker.get("/metrics", timeout=10)
    return metric_value(body.decode(), name, **labels) if status == 200 else -1.0


async def test_a_nested_record_on_every_topic_stops_no_process(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    s = pipeline.settings
    bootstrap = s.bootstrap_servers
    smtp = SmtpRecorder(free_port())
    await smtp.start()
    notify_settings = NotifySettings(
        bootstrap_servers=bootstrap,
        topic_prefix=s.topic_prefix,
        group=fresh_name("notify-"),
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="none",
        emails=("ops@example.com",),
        web_port=free_port(),
        retry_base=0.05,
        retry_max=0.3,
    )
    notifier = NotifierRun(notify_settings, tmp_path / "notify.log")
    try:
        await ensure_notify_topics(notify_settings)
        # Before any process starts: what each reads from the start of its topic.
        await produce(
            bootstrap,
            [
                (s.topic(ORG_POLICIES), b"org-1", NESTED, None),
                (s.topic(ORG_POLICIES), b"org-2", NESTED_OBJECTS, None),
                (s.topic(USER_FACTS), b"user-1", NESTED, None),
                (s.topic(ALERTS), b"dev-1", NESTED, None),
                (s.topic(NOTIFY_DELIVERED), b"delivery", NESTED, None),
                (s.topic(NOTIFY_TARGETS), b"apprise", NESTED, None),
                *[(s.topic(topic), b"dev-1", NESTED, None) for topic in INPUTS],
            ],
        )
        worker = pipeline.worker()
        worker.start()
        worker.wait_ready(timeout=180)
        # The worker made its changelog: a state there is replaced by the nested record,
        # on the device's home partition, as a producer with rights on it could.
        changelog = f"{s.app_id}-device-state-changelog"
        home = (murmur2(b"dev-9") & 0x7FFFFFFF) % s.partitions
        await produce(
            bootstrap,
            [(changelog, b"dev-9", NESTED, home), (changelog, b"\xff\xfe", NESTED, home)],
        )
        notifier.start_process()
        await eventually(notifier.healthy, what="the notifier to be ready", timeout=120)

        await pipeline.send([heartbeat(T0, "dev-1"), heartbeat(T0, "dev-2")])
        await pipeline.tick(T0 + HOUR)
        await pipeline.tick(T0 + 4 * DAY)

        alerts = await wait_for_alerts(
            pipeline,
            {"dev-1", "dev-2"},
            what="connection warnings for dev-1 and dev-2, read after the nested records",
        )
        ids = {a.alert_id for a in alerts}
        await eventually(
            lambda: ids <= set(smtp.alert_ids()),
            what="the notifier to email every alert after the nested one",
            timeout=120,
        )
        letters = await pipeline.dead_letters()
        assert sorted(
            (headers_of(r)["source-topic"], headers_of(r)["reason"]) for r in letters
        ) == sorted((s.topic(topic), "invalid_json") for topic in INPUTS)
        assert {r.value for r in letters} == {NESTED}
        notify_letters = await read_topic(bootstrap, s.topic(NOTIFY_DEAD_LETTERS))
        assert [(headers_of(r)["reason"], r.value) for r in notify_letters] == [
            ("invalid_alert", NESTED)
        ]
        assert headers_of(notify_letters[0])["error"].startswith("invalid_json")

        # The report reader lists the valid devices and counts the changelog record it
        # could not read.
        await eventually(
            lambda: listed(worker) >= {"dev-1", "dev-2"},
            what="the report reader to list dev-1 and dev-2",
            timeout=60,
        )
        await eventually(
            lambda: (
                metric(worker, "backupwatch_report_unexpected_errors_total", topic="changelog") >= 1
            ),
            what="the worker's metrics to count the changelog record its reader skipped",
        )
        assert metric(worker, "backupwatch_policy_errors_total") == 2

        # A worker restarted recovers the changelog and reads the policies from their
        # start, the nested records among them (and a changelog key that is not even
        # UTF-8); a record of the device whose state is the nested record is a dead
        # letter, and the others go on.
        worker.kill()
        worker.start()
        worker.wait_ready(timeout=180)
        await pipeline.send([heartbeat(T0 + 4 * DAY, "dev-9"), heartbeat(T0 + 4 * DAY, "dev-3")])
        await pipeline.tick(T0 + 4 * DAY + HOUR)
        await pipeline.tick(T0 + 8 * DAY)
        alerts = await wait_for_alerts(
            pipeline, {"dev-3"}, what="a connection warning for dev-3, after the restart"
        )
        letters = await pipeline.dead_letters()
        unexpected = [r for r in letters if headers_of(r)["reason"] == "unexpected_error"]
        assert [r.key for r in unexpected] == [b"dev-9"]
        assert headers_of(unexpected[0])["exception"].startswith(
            ("ValidationError", "RecursionError")
        )
        assert metric(worker, "backupwatch_unexpected_errors_total", stage="record") == 1
        assert metric(worker, "backupwatch_unexpected_errors_total", stage="stored_state") >= 2
        ids = {a.alert_id for a in alerts}
        await eventually(
            lambda: ids <= set(smtp.alert_ids()),
            what="the notifier to email the alerts after the restart",
            timeout=120,
        )
        assert worker.running
        assert notifier.process is not None and notifier.process.poll() is None
    finally:
        notifier.kill_process()
        print(f"--- notify.log (tail) ---\n{log_tail(notifier.log_path, 30)}")
        await smtp.stop()
