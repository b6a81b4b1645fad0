"""The topics of the pipeline, their configs, and creating them on the broker."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from agents.errors import KafkaUnreachable, TopicLayoutError
from agents.settings import Settings

__all__ = [
    "ALERTS",
    "BACKUP_PROGRESS",
    "DEAD_LETTERS",
    "DEVICE_COMMANDS",
    "DEVICE_STATUS",
    "HEARTBEATS",
    "INPUTS",
    "ORG_POLICIES",
    "USER_FACTS",
    "TopicSpec",
    "assign_whole_topic",
    "ensure_topics",
    "start_client",
    "topic_specs",
]

log = logging.getLogger(__name__)

HEARTBEATS = "heartbeats"
BACKUP_PROGRESS = "backup-progress"
DEVICE_COMMANDS = "device-commands"
# The co-partitioned inputs, in the order of `DeviceState.offsets`.
INPUTS = (HEARTBEATS, BACKUP_PROGRESS, DEVICE_COMMANDS)
ORG_POLICIES = "org-policies"
USER_FACTS = "user-facts"
ALERTS = "alerts"
DEVICE_STATUS = "device-status"
DEAD_LETTERS = "dead-letters"

_WEEK_MS = str(7 * 86400 * 1000)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(settings: Settings) -> list[TopicSpec]:
    n = settings.partitions
    compacted = {"cleanup.policy": "compact"}
    # Retention counts from the broker's append time: a simulator replaying last month
    # with event-time record timestamps would otherwise see its records deleted at once.
    inputs = {"retention.ms": _WEEK_MS, "message.timestamp.type": "LogAppendTime"}
    return [
        *(TopicSpec(settings.topic(name), n, inputs) for name in INPUTS),
        TopicSpec(settings.topic(ORG_POLICIES), 1, compacted),
        TopicSpec(settings.topic(USER_FACTS), 1, compacted),
        TopicSpec(settings.topic(ALERTS), n, {"retention.ms": str(30 * 86400 * 1000)}),
        TopicSpec(settings.topic(DEVICE_STATUS), n, compacted),
        TopicSpec(settings.topic(DEAD_LETTERS), n, {"retention.ms": str(30 * 86400 * 1000)}),
    ]


async def start_client(client: Any, bootstrap_servers: str) -> None:
    """Start an aiokafka producer, consumer or admin client; when no broker answers,
    release it and raise `KafkaUnreachable` naming the address tried."""
    from aiokafka.errors import KafkaError

    try:
        await client.start()
    except KafkaError as err:
        # Released, or asyncio reports the half-started client at exit. Admin clients
        # close; producers and consumers stop.
        await (client.stop() if hasattr(client, "stop") else client.close())
        raise KafkaUnreachable(bootstrap_servers, err) from None


async def ensure_topics(settings: Settings) -> list[str]:
    """Create the missing topics; refuse when the inputs' partition counts differ.

    Returns the names it created.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await start_client(admin, settings.bootstrap_servers)
    try:
        existing = set(await admin.list_topics())
        specs = topic_specs(settings)
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        s.name,
                        num_partitions=s.partitions,
                        replication_factor=settings.replication_factor,
                        topic_configs=s.config,
                    )
                    for s in missing
                ]
            )
            for s in missing:
                log.info("created topic %s (%d partitions)", s.name, s.partitions)
        wanted = {s.name for s in specs}
        deadline = asyncio.get_running_loop().time() + 30
        while not wanted <= set(await admin.list_topics()):
            # Created topics reach every broker's metadata a moment later; a worker that
            # subscribes before that would start with no partitions.
            if asyncio.get_running_loop().time() > deadline:
                raise TopicLayoutError(f"topics not visible after 30 s: {sorted(wanted)}")
            await asyncio.sleep(0.2)
        inputs = [settings.topic(name) for name in INPUTS]
        described = await admin.describe_topics(inputs)
        counts = {d["topic"]: len(d["partitions"]) for d in described}
        if len(set(counts.values())) != 1:
            layout = ", ".join(f"{t}={c}" for t, c in sorted(counts.items()))
            raise TopicLayoutError(
                "the input topics must have the same number of partitions (they are "
                f"co-partitioned by device id), found: {layout}"
            )
        (count,) = set(counts.values())
        if count != settings.partitions:
            raise TopicLayoutError(
                f"the input topics have {count} partitions but BACKUPWATCH_PARTITIONS is "
                f"{settings.partitions}; set it to {count}"
            )
        return [s.name for s in missing]
    finally:
        await admin.close()


async def assign_whole_topic(consumer: Any, topic: str) -> list[Any]:
    """Assign every partition of `topic` to a consumer with no group, waiting for the
    topic to exist.

    aiokafka's `partitions_for_topic` only knows topics its client already follows, and
    `topics()` fetches fresh metadata without keeping it; assigning one partition makes
    the client follow the topic, after which its partitions are known.
    """
    from aiokafka import TopicPartition

    while topic not in await consumer.topics():
        await asyncio.sleep(1.0)
    consumer.assign([TopicPartition(topic, 0)])
    partitions = consumer.partitions_for_topic(topic)
    while not partitions:
        await asyncio.sleep(0.1)
        partitions = consumer.partitions_for_topic(topic)
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    return assigned
