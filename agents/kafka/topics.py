"""The topics of the pipeline, their configs, and creating them on the broker."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from agents.errors import TopicLayoutError
from agents.kafka.connection import KafkaConnection
from agents.kafka.errors import KafkaRefused
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
    "AclSpec",
    "TopicSpec",
    "acl_specs",
    "changelog_topic",
    "describe_needs",
    "check_topics",
    "ensure_topics",
    "internal_topic_specs",
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
# Kafka's error codes in a CreateTopics response.
_TOPIC_AUTHORIZATION_FAILED = 29
_CLUSTER_AUTHORIZATION_FAILED = 31
_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    # 0: any number (a topic another process owns and sizes).
    partitions: int
    config: dict[str, str]


@dataclass(frozen=True, slots=True)
class AclSpec:
    """Operations a process's Kafka user must be allowed on one resource."""

    process: str
    # "topic", "group" or "cluster".
    resource: str
    name: str
    operations: tuple[str, ...]


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


async def start_client(client: Any, connection: KafkaConnection | str) -> None:
    """Start an aiokafka producer, consumer or admin client; when that fails, release it
    and raise `KafkaUnreachable` or `KafkaRefused` naming the cause
    (`KafkaConnection.start`)."""
    if isinstance(connection, str):
        connection = KafkaConnection(bootstrap_servers=connection)
    await connection.start(client)


def changelog_topic(settings: Settings) -> str:
    """The device-state table's changelog, as Faust names it (`<app id>-<table>-changelog`):
    what the read side follows."""
    return f"{settings.app_id}-device-state-changelog"


def internal_topic_specs(settings: Settings) -> list[TopicSpec]:
    """The topics Faust itself uses: the device-state table's changelog and the topic
    its partition assignor elects a leader with."""
    return [
        TopicSpec(
            changelog_topic(settings),
            settings.partitions,
            {"cleanup.policy": "compact"},
        ),
        TopicSpec(f"{settings.app_id}-__assignor-__leader", 1, {}),
    ]


async def ensure_topics(settings: Settings, *, internal: bool = False) -> list[str]:
    """Create the missing topics (with `internal`, Faust's own too); refuse when the
    inputs' partition counts differ. With BACKUPWATCH_CREATE_TOPICS=false, create none
    and check every topic the worker needs instead (`check_topics`).

    Returns the names it created.
    """
    from aiokafka.admin import NewTopic

    if not settings.create_topics:
        await check_topics(
            settings.kafka, [*topic_specs(settings), *internal_topic_specs(settings)]
        )
        return []
    admin = settings.kafka.admin()
    await settings.kafka.start(admin)
    try:
        existing = set(await admin.list_topics())
        specs = topic_specs(settings) + (internal_topic_specs(settings) if internal else [])
        missing = [s for s in specs if s.name not in existing]
        if missing:
            response = await admin.create_topics(
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
            _raise_create_errors(settings.kafka, response)
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


def _raise_create_errors(connection: KafkaConnection, response: Any) -> None:
    """Raise for a topic the broker refused to create (one that exists already, made
    a moment ago by another process, is fine)."""
    for name, code, *message in getattr(response, "topic_errors", ()):
        if code in (0, _TOPIC_ALREADY_EXISTS):
            continue
        text = message[0] if message and message[0] else f"error code {code}"
        if code in (_TOPIC_AUTHORIZATION_FAILED, _CLUSTER_AUTHORIZATION_FAILED):
            raise KafkaRefused(
                f"Kafka does not allow {connection.user} to create topic {name} ({text}): "
                "grant it the right to (CREATE), or have an admin create the topics "
                "`backupwatch topics describe` lists and set BACKUPWATCH_CREATE_TOPICS=false"
            )
        raise TopicLayoutError(f"could not create topic {name}: {text}")


async def check_topics(connection: KafkaConnection, specs: list[TopicSpec]) -> None:
    """Raise `TopicLayoutError` naming each topic of `specs` that is missing, or has
    another partition count or cleanup policy; for a Kafka user that may not create
    topics (BACKUPWATCH_CREATE_TOPICS=false)."""
    admin = connection.admin()
    await connection.start(admin)
    try:
        existing = set(await admin.list_topics())
        problems = [f"{s.name} is missing" for s in specs if s.name not in existing]
        present = [s for s in specs if s.name in existing]
        if present:
            described = {
                d["topic"]: d for d in await admin.describe_topics([s.name for s in present])
            }
            configs = await _cleanup_policies(admin, [s.name for s in present])
            for s in present:
                partitions = len(described[s.name]["partitions"])
                if s.partitions and partitions != s.partitions:
                    problems.append(f"{s.name} has {partitions} partition(s), not {s.partitions}")
                wanted = s.config.get("cleanup.policy", "delete")
                found = configs.get(s.name, "delete")
                if set(found.split(",")) != set(wanted.split(",")):
                    problems.append(f"{s.name} has cleanup.policy={found}, not {wanted}")
        if problems:
            raise TopicLayoutError(
                "BACKUPWATCH_CREATE_TOPICS=false and the topics are not as needed: "
                + "; ".join(problems)
                + " (`backupwatch topics describe` lists them)"
            )
    finally:
        await admin.close()


async def _cleanup_policies(admin: Any, names: list[str]) -> dict[str, str]:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, {"cleanup.policy": None}) for name in names]
    )
    policies = {}
    for response in responses:
        for _code, _message, _kind, name, entries in response.resources:
            for entry in entries:
                if entry[0] == "cleanup.policy":
                    policies[name] = entry[1]
    return policies


def acl_specs(settings: Settings, notifier_group: str) -> list[AclSpec]:
    """The ACLs each process needs, for a cluster that enforces them. The report
    reader runs beside each worker as the same user. `topics describe` prints them."""
    from agents.notify.topics import NOTIFY_DEAD_LETTERS, NOTIFY_DELIVERED, NOTIFY_TARGETS

    rw = ("READ", "WRITE", "DESCRIBE", "DESCRIBE_CONFIGS")
    written = ("WRITE", "DESCRIBE", "DESCRIBE_CONFIGS")
    read = ("READ", "DESCRIBE", "DESCRIBE_CONFIGS")
    topic = settings.topic
    # The worker reads its inputs and the policies and appends ticks; the report reader
    # writes admin commands, policies and user facts, and reads the notifiers' target
    # names; the outputs are only written.
    worker = [
        *(
            AclSpec("worker", "topic", topic(name), rw)
            for name in (*INPUTS, ORG_POLICIES, USER_FACTS)
        ),
        AclSpec("worker", "topic", topic(NOTIFY_TARGETS), read),
        *(
            AclSpec("worker", "topic", topic(name), written)
            for name in (ALERTS, DEVICE_STATUS, DEAD_LETTERS)
        ),
        *(AclSpec("worker", "topic", spec.name, rw) for spec in internal_topic_specs(settings)),
        AclSpec("worker", "group", settings.app_id, ("READ",)),
    ]
    notifier = [
        AclSpec("notifier", "topic", topic(ALERTS), read),
        AclSpec("notifier", "topic", topic(ORG_POLICIES), read),
        AclSpec("notifier", "topic", topic(NOTIFY_DELIVERED), rw),
        AclSpec("notifier", "topic", topic(NOTIFY_DEAD_LETTERS), written),
        AclSpec("notifier", "topic", topic(NOTIFY_TARGETS), written),
        AclSpec("notifier", "group", notifier_group, ("READ",)),
    ]
    creating = (
        [AclSpec(who, "cluster", "kafka-cluster", ("CREATE",)) for who in ("worker", "notifier")]
        if settings.create_topics
        else []
    )
    return worker + notifier + creating


def describe_needs(settings: Settings, specs: list[TopicSpec], acls: list[AclSpec]) -> str:
    """What an admin creates for the project, as text: the topics (names, partitions,
    configs) with the commands of Kafka's own tools, and the ACLs of each process."""
    replicas = settings.replication_factor
    lines = [
        f"Topics (BACKUPWATCH_TOPIC_PREFIX={settings.topic_prefix}, "
        f"BACKUPWATCH_PARTITIONS={settings.partitions}, "
        f"BACKUPWATCH_REPLICATION_FACTOR={replicas}):",
    ]
    width = max(len(s.name) for s in specs)
    for s in specs:
        config = ", ".join(f"{k}={v}" for k, v in sorted(s.config.items())) or "(defaults)"
        lines.append(f"  {s.name:<{width}}  partitions={s.partitions:<4} {config}")
    lines += ["", "Created with Kafka's tools:"]
    for s in specs:
        configs = "".join(f" --config {k}={v}" for k, v in sorted(s.config.items()))
        lines.append(
            f"  kafka-topics.sh --bootstrap-server $BOOTSTRAP --create --topic {s.name} "
            f"--partitions {s.partitions} --replication-factor {replicas}{configs}"
        )
    lines += ["", "ACLs (allow, for the Kafka user of each process):"]
    for acl in acls:
        target = "the cluster" if acl.resource == "cluster" else f"{acl.resource} {acl.name}"
        lines.append(f"  {acl.process:<9} {', '.join(acl.operations):<36} on {target}")
    lines += ["", "Granted with Kafka's tools (WORKER and NOTIFIER are the users' names):"]
    for acl in acls:
        operations = "".join(f" --operation {op.title().replace('_', '')}" for op in acl.operations)
        resource = "--cluster" if acl.resource == "cluster" else f"--{acl.resource} {acl.name}"
        lines.append(
            f"  kafka-acls.sh --bootstrap-server $BOOTSTRAP --add --allow-principal "
            f"User:{acl.process.upper()}{operations} {resource}"
        )
    if not settings.create_topics:
        lines += ["", "BACKUPWATCH_CREATE_TOPICS=false: the processes create none of these."]
    return "\n".join(lines)
