"""At start the notifier creates its own topics, and refuses clearly to run without
the pipeline's."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from agents.errors import TopicLayoutError
from agents.notify.settings import NotifySettings
from agents.notify.topics import (
    NOTIFY_DEAD_LETTERS,
    NOTIFY_DELIVERED,
    NOTIFY_TARGETS,
    ensure_notify_topics,
)
from tests.kafka_harness import MakeTopics

pytestmark = pytest.mark.integration


async def test_missing_alert_topics_stop_the_notifier_with_a_clear_error(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = NotifySettings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    with pytest.raises(TopicLayoutError, match=rf"{topic_prefix}alerts.* do not exist"):
        await ensure_notify_topics(settings, wait_for_inputs=1.0)


async def test_the_delivered_topic_is_compacted_and_both_are_created_once(
    kafka_bootstrap: str, topic_prefix: str, make_topics: MakeTopics
) -> None:
    await make_topics("alerts", "org-policies")
    settings = NotifySettings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    created = await ensure_notify_topics(settings)
    assert sorted(created) == sorted(
        [
            settings.topic(NOTIFY_DELIVERED),
            settings.topic(NOTIFY_DEAD_LETTERS),
            settings.topic(NOTIFY_TARGETS),
        ]
    )
    assert await ensure_notify_topics(settings) == []
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, settings.topic(NOTIFY_DELIVERED))]
        )
    finally:
        await admin.close()
    configs = {entry[0]: entry[1] for entry in described.resources[0][4]}
    assert configs["cleanup.policy"] == "compact,delete"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, settings.topic(NOTIFY_TARGETS))]
        )
    finally:
        await admin.close()
    configs = {entry[0]: entry[1] for entry in described.resources[0][4]}
    # The announced target names: the newest record per channel is what counts.
    assert configs["cleanup.policy"] == "compact"
