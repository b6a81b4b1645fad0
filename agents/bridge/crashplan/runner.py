"""The bridge process: poll the console, publish what changed, remember it.

Each poll reads every page of devices (in a thread: `pycpg` is synchronous), maps each
device (`mapping.changes`) against what was last published for it, sends the records
keyed by device id to the input topics, and once the broker has acknowledged them,
records what was published in the compacted topic `<prefix>crashplan-published`. A
restarted bridge reads that topic back before its first poll, so it republishes
nothing; a crash between the two writes can repeat a page's records, never lose them
(a worker drops a record it already applied).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agents.bridge.crashplan.console import Console
from agents.bridge.crashplan.errors import ConsoleError, ConsoleFormatError
from agents.bridge.crashplan.mapping import (
    ConsoleDevice,
    Published,
    changes,
    encode_published,
    read_device,
    remembered,
    unchanged,
)
from agents.bridge.crashplan.metrics import BridgeMetrics
from agents.bridge.crashplan.settings import BridgeSettings
from agents.kafka.connection import KafkaConnection
from agents.kafka.follower import Record, TopicFollower
from agents.kafka.topics import (
    BACKUP_PROGRESS,
    DEVICE_COMMANDS,
    HEARTBEATS,
    ensure_topics,
    start_client,
)
from agents.settings import Settings
from schemas.codec import encode
from schemas.models import BackupProgress, Heartbeat, InputRecord

__all__ = [
    "PUBLISHED",
    "Bridge",
    "PollSummary",
    "import_devices",
    "kafka_client",
    "publish_devices",
]

log = logging.getLogger(__name__)

PUBLISHED = "crashplan-published"


def bridge_connection(settings: Settings) -> KafkaConnection:
    """The connection of every Kafka client the bridge uses: TLS, SASL and the client
    id from agents/kafka, in the bridge's role."""
    return settings.kafka.for_role("crashplan-bridge")


def kafka_client(kind: str, settings: Settings, **options: Any) -> Any:
    """The bridge's Kafka clients: "producer", "consumer" or "admin", with `options`
    for that kind (its published topic is read back by a `TopicFollower`, on the same
    connection)."""
    connection = bridge_connection(settings)
    if kind == "producer":
        return connection.producer(
            acks="all",
            linger_ms=20,
            max_batch_size=512 * 1024,
            **options,
        )
    if kind == "consumer":
        return connection.consumer(**options)
    if kind == "admin":
        return connection.admin(**options)
    raise ValueError(f"no Kafka client of kind {kind!r}")


def _topic_of(record: InputRecord) -> str:
    if isinstance(record, Heartbeat):
        return HEARTBEATS
    if isinstance(record, BackupProgress):
        return BACKUP_PROGRESS
    return DEVICE_COMMANDS


def _schema_of(record: InputRecord) -> str:
    return {Heartbeat: "heartbeat/1", BackupProgress: "backup_progress/1"}.get(
        type(record), "device_command/1"
    )


@dataclass(slots=True)
class PollSummary:
    devices: int = 0
    unreadable: int = 0
    records: int = 0
    by_schema: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def describe(self) -> str:
        kinds = ", ".join(f"{n} {s}" for s, n in sorted(self.by_schema.items())) or "nothing new"
        return (
            f"{self.devices} devices, {self.records} records ({kinds}), "
            f"{self.unreadable} unreadable, in {self.seconds:.1f} s"
        )


async def _ensure_published_topic(settings: Settings) -> None:
    from aiokafka.admin import NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = kafka_client("admin", settings)
    await start_client(admin, settings.bootstrap_servers)
    try:
        name = settings.topic(PUBLISHED)
        if name not in set(await admin.list_topics()):
            try:
                await admin.create_topics(
                    [
                        NewTopic(
                            name,
                            1,
                            settings.replication_factor,
                            topic_configs={"cleanup.policy": "compact"},
                        )
                    ]
                )
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


class _Publisher:
    """Sends records keyed by device id; `flush` waits for every acknowledgement."""

    def __init__(self, producer: Any, settings: Settings, metrics: BridgeMetrics) -> None:
        self.producer = producer
        self.settings = settings
        self.metrics = metrics
        self._pending: list[asyncio.Future[Any]] = []

    async def send(self, record: InputRecord, summary: PollSummary) -> None:
        key = record.device_id.encode()
        future = await self.producer.send(
            self.settings.topic(_topic_of(record)), encode(record), key=key
        )
        self._pending.append(future)
        schema = _schema_of(record)
        summary.records += 1
        summary.by_schema[schema] = summary.by_schema.get(schema, 0) + 1
        self.metrics.records.labels(schema).inc()

    async def remember(self, device_id: str, published: Published) -> None:
        future = await self.producer.send(
            self.settings.topic(PUBLISHED), encode_published(published), key=device_id.encode()
        )
        self._pending.append(future)

    async def flush(self) -> None:
        """Wait for the broker to acknowledge everything sent so far."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)


async def publish_devices(
    publisher: _Publisher,
    devices: Iterable[tuple[ConsoleDevice, int]],
    published: Mapping[str, Published],
    summary: PollSummary,
    updates: list[tuple[str, Published]],
) -> None:
    """Send the records of what changed of `devices` (each with its `source_digest`;
    acknowledged at the publisher's next `flush`), and add to `updates` what is then
    published of each changed device."""
    for device, source in devices:
        summary.devices += 1
        previous = published.get(device.device_id)
        records, now_published = changes(device, previous, source)
        for record in records:
            await publisher.send(record, summary)
        if now_published != previous:
            updates.append((device.device_id, now_published))


async def remember(
    publisher: _Publisher,
    published: dict[str, Published],
    updates: list[tuple[str, Published]],
    to_topic: bool,
) -> None:
    """Once every record sent is acknowledged, what was published: so that a crash
    repeats records, never loses them."""
    await publisher.flush()
    for device_id, now_published in updates:
        published[device_id] = now_published
        if to_topic:
            await publisher.remember(device_id, now_published)
    await publisher.flush()


class Bridge:
    """`start`, then `run` until stopped (or `poll` once); `close` at the end."""

    def __init__(
        self,
        settings: BridgeSettings,
        metrics: BridgeMetrics | None = None,
        console: Console | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or BridgeMetrics()
        self.console = console or Console(
            settings, on_error=lambda status: self.metrics.api_errors.labels(status).inc()
        )
        self.published: dict[str, Published] = {}
        self._producer: Any = None
        self._web: Any = None
        self.last_success: datetime | None = None

    async def start(self, serve_metrics: bool = True) -> None:
        """Sign in to the console (a bad URL or credentials raise here, before anything
        else), make sure the topics exist, read back what was published."""
        self.metrics.started.set(time.time())
        await asyncio.to_thread(self.console.connect)
        kafka = self.settings.kafka
        await ensure_topics(kafka)
        await _ensure_published_topic(kafka)
        self.published = await self._read_published()
        log.info("%d devices published before", len(self.published))
        self._producer = kafka_client("producer", kafka)
        await start_client(self._producer, kafka.bootstrap_servers)
        if serve_metrics:
            from agents.notify.web import start_web
            from agents.serving import WebLimits, serving_limits

            self._web = await start_web(
                self.settings.web_host,
                self.settings.web_port,
                self.metrics.registry,
                self.health,
                serving_limits(WebLimits().max_connections),
            )

    def health(self) -> dict[str, Any]:
        age = None
        if self.last_success is not None:
            age = (datetime.now(UTC) - self.last_success).total_seconds()
        limit = 2 * self.settings.poll_interval.total_seconds() + 600
        return {
            "ok": age is None or age < limit,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "devices": len(self.published),
        }

    async def _read_published(self) -> dict[str, Published]:
        kafka = self.settings.kafka
        published: dict[str, Published] = {}
        unreadable = 0

        def take(record: Record) -> None:
            nonlocal unreadable
            read, skipped = remembered([(record.key, record.value)])
            published.update(read)
            unreadable += skipped

        topic = kafka.topic(PUBLISHED)
        follower = TopicFollower(
            bridge_connection(kafka), topic, take, max_records=10_000, wait_ms=1000
        )
        await follower.run(to_end_only=True)
        if unreadable:
            log.warning(
                "%d records of %s could not be read; their devices are published again",
                unreadable,
                topic,
            )
        return published

    async def poll(self) -> PollSummary:
        """One full poll. Raises `ConsoleError` when the console could not be read
        (the devices published so far stay published and remembered)."""
        started = time.perf_counter()
        summary = PollSummary()
        publisher = _Publisher(self._producer, self.settings.kafka, self.metrics)
        pages = self.console.pages()
        # The next page is fetched while this one is published: the console's answer
        # and the broker's acknowledgements are waited for at once.
        upcoming = asyncio.ensure_future(asyncio.to_thread(next, pages, None))
        # What the poll publishes is remembered at its end, in one go, once all of it
        # is acknowledged. A poll cut short remembers nothing, and the next one
        # publishes it again.
        updates: list[tuple[str, Published]] = []
        try:
            while True:
                page = await upcoming
                if page is None:
                    break
                upcoming = asyncio.ensure_future(asyncio.to_thread(next, pages, None))
                devices = []
                for raw in page:
                    guid = raw.get("guid") if isinstance(raw, dict) else None
                    same, source = unchanged(raw, self.published.get(str(guid)))
                    if same:
                        summary.devices += 1
                        continue
                    try:
                        devices.append((read_device(raw), source))
                    except ConsoleFormatError as err:
                        summary.unreadable += 1
                        self.metrics.devices_unreadable.inc()
                        log.warning("device %s not read: %s", guid, err)
                await publish_devices(publisher, devices, self.published, summary, updates)
                # Each page's records acknowledged before the next page's are sent: the
                # acknowledgements of a whole fleet held at once took ~100 MB a 100,000
                # devices (docs/benchmarks.md), and the page being fetched meanwhile
                # hides most of the wait.
                await publisher.flush()
            await remember(publisher, self.published, updates, to_topic=True)
        finally:
            # A poll cut short (the broker failed) leaves the page being fetched: its
            # outcome is collected, so that nothing reports it as never retrieved.
            upcoming.add_done_callback(lambda f: f.cancelled() or f.exception())
        summary.seconds = time.perf_counter() - started
        self.last_success = datetime.now(UTC)
        self.metrics.polls.labels("success").inc()
        self.metrics.devices_seen.set(summary.devices + summary.unreadable)
        self.metrics.last_success.set(self.last_success.timestamp())
        self.metrics.poll_duration.observe(summary.seconds)
        return summary

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every `poll_interval` (from the start of one poll to the next) until
        `stop` is set; a failed poll is logged, counted and tried at the next interval."""
        from aiokafka.errors import KafkaError

        interval = self.settings.poll_interval.total_seconds()
        while not stop.is_set():
            began = time.monotonic()
            try:
                summary = await self.poll()
                log.info("poll: %s", summary.describe())
            except (ConsoleError, KafkaError) as err:
                # Credentials revoked since the start, or the broker away, included: either
                # may be fixed while the bridge waits, and the rule on the last success
                # fires if not. What the poll did not publish it publishes next time.
                self.metrics.polls.labels("failure").inc()
                log.error("poll failed: %s", err)
            wait = max(0.0, interval - (time.monotonic() - began))
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except TimeoutError:
                pass

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._web is not None:
            await self._web.cleanup()


async def import_devices(settings: Settings, devices: list[ConsoleDevice]) -> PollSummary:
    """Publish every record of `devices` (a report read once: nothing is remembered)."""
    started = time.perf_counter()
    await ensure_topics(settings)
    producer = kafka_client("producer", settings)
    await start_client(producer, settings.bootstrap_servers)
    summary = PollSummary()
    try:
        publisher = _Publisher(producer, settings, BridgeMetrics())
        updates: list[tuple[str, Published]] = []
        await publish_devices(publisher, [(d, 0) for d in devices], {}, summary, updates)
        await remember(publisher, {}, updates, to_topic=False)
    finally:
        await producer.stop()
    summary.seconds = time.perf_counter() - started
    return summary
