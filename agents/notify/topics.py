"""The notifier's own topics, and the ones it reads, checked at start."""

from __future__ import annotations

import asyncio
import logging

from agents.books.targets import NOTIFY_TARGETS
from agents.errors import TopicLayoutError
from agents.kafka.topics import ALERTS, ORG_POLICIES, TopicSpec, check_topics
from agents.notify.settings import NotifySettings

__all__ = [
    "NOTIFY_DEAD_LETTERS",
    "NOTIFY_DELIVERED",
    "NOTIFY_TARGETS",
    "ensure_notify_topics",
    "notify_topic_specs",
]

log = logging.getLogger(__name__)

# (alert id, channel, recipient) → outcome, compacted: what was delivered survives a
# restart. Deleted after the alerts' own retention as well: an alert record older than
# that cannot be read again, so its delivery marker can never be asked for.
NOTIFY_DELIVERED = "notify-delivered"
NOTIFY_DEAD_LETTERS = "notify-dead-letters"

_RETENTION_MS = str(30 * 86400 * 1000)
_TOPIC_ALREADY_EXISTS = 36


def notify_topic_specs(settings: NotifySettings) -> list[TopicSpec]:
    """The notifier's own topics, one partition each."""
    return [TopicSpec(name, 1, config) for name, config in _specs(settings).items()]


def _specs(settings: NotifySettings) -> dict[str, dict[str, str]]:
    return {
        settings.topic(NOTIFY_DELIVERED): {
            "cleanup.policy": "compact,delete",
            "retention.ms": _RETENTION_MS,
        },
        settings.topic(NOTIFY_DEAD_LETTERS): {"retention.ms": _RETENTION_MS},
        # The target names each notifier configures (agents/books/targets.py): the newest only.
        settings.topic(NOTIFY_TARGETS): {"cleanup.policy": "compact"},
    }


async def ensure_notify_topics(
    settings: NotifySettings, *, wait_for_inputs: float = 30.0
) -> list[str]:
    """Create the notifier's topics when missing; return the names it created.

    The alerts and org-policies topics belong to the pipeline (`backupwatch topics
    create`); the notifier waits `wait_for_inputs` seconds for them, then refuses to
    start with a message that says so — a consumer subscribed to a missing topic would
    otherwise wait silently for ever.
    """
    from aiokafka.admin import NewTopic
    from aiokafka.errors import KafkaError

    if not settings.create_topics:
        # The pipeline's topics are sized by the workers' settings: only their existence
        # is the notifier's to check.
        pipeline = [
            TopicSpec(settings.topic(ALERTS), 0, {}),
            TopicSpec(settings.topic(ORG_POLICIES), 0, {"cleanup.policy": "compact"}),
        ]
        await check_topics(settings.kafka, [*pipeline, *notify_topic_specs(settings)])
        return []
    admin = settings.kafka.admin()
    await settings.kafka.start(admin)
    try:
        loop = asyncio.get_running_loop()
        inputs = {settings.topic(ALERTS), settings.topic(ORG_POLICIES)}
        deadline = loop.time() + wait_for_inputs
        while not inputs <= set(await admin.list_topics()):
            if loop.time() > deadline:
                missing = sorted(inputs - set(await admin.list_topics()))
                raise TopicLayoutError(
                    f"topic(s) {', '.join(missing)} do not exist: create the pipeline's "
                    "topics first (`backupwatch topics create`, or start a worker), and "
                    "check BACKUPWATCH_TOPIC_PREFIX"
                )
            await asyncio.sleep(0.5)
        specs = _specs(settings)
        missing = [name for name in specs if name not in set(await admin.list_topics())]
        if missing:
            try:
                response = await admin.create_topics(
                    [
                        NewTopic(name, 1, settings.replication_factor, topic_configs=specs[name])
                        for name in missing
                    ]
                )
            except KafkaError as err:
                raise TopicLayoutError(
                    f"could not create the notifier's topics {', '.join(missing)}: {err}"
                ) from None
            for name, code, *message in getattr(response, "topic_errors", ()):
                # 36: another notifier created it a moment ago, which is fine.
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    text = message[0] if message and message[0] else f"error code {code}"
                    raise TopicLayoutError(f"could not create topic {name}: {text}")
            for name in missing:
                log.info("created topic %s", name)
        deadline = loop.time() + 30
        while not set(specs) <= set(await admin.list_topics()):
            if loop.time() > deadline:
                raise TopicLayoutError(f"topics not visible after 30 s: {sorted(specs)}")
            await asyncio.sleep(0.2)
        return missing
    finally:
        await admin.close()
