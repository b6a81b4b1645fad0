"""The session's Kafka broker works the way the rest of the suite relies on."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import UnknownTopicOrPartitionError

from tests.kafka_harness import MakeTopics, consume

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def test_keyed_records_with_headers_round_trip(
    kafka_bootstrap: str, make_topics: MakeTopics, consumer_group: str
) -> None:
    (topic,) = await make_topics("telemetry", partitions=4)
    sent = [
        (f"device-{i % 5}".encode(), f"payload-{i}".encode(), [("kind", b"heartbeat")])
        for i in range(40)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in sent:
            await producer.send(topic, value, key=key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()

    records = await consume(kafka_bootstrap, topic, len(sent), group_id=consumer_group)

    assert sorted((r.key, r.value, list(r.headers)) for r in records) == sorted(sent)
    # Same key, same partition: per-device order is what the state machine relies on.
    partitions_by_key: dict[bytes | None, set[int]] = {}
    for record in records:
        partitions_by_key.setdefault(record.key, set()).add(record.partition)
    assert all(len(p) == 1 for p in partitions_by_key.values()), partitions_by_key
    for key in partitions_by_key:
        values = [r.value for r in sorted(records, key=lambda r: r.offset) if r.key == key]
        expected = [v for k, v, _ in sent if k == key]
        assert values == expected, f"records of {key!r} out of order"


async def test_topics_are_not_created_by_producing(
    kafka_bootstrap: str, make_topics: MakeTopics, topic_prefix: str
) -> None:
    # auto.create.topics.enable=false: a typo in a topic name must fail, not
    # silently create a topic nobody reads.
    (declared,) = await make_topics("declared")
    missing = topic_prefix + "never-declared"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=3000)
    await producer.start()
    try:
        await producer.send_and_wait(declared, b"ok")
        with pytest.raises(UnknownTopicOrPartitionError):
            await producer.send_and_wait(missing, b"lost")
    finally:
        await producer.stop()

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        topics = await admin.list_topics()
    finally:
        await admin.close()
    assert declared in topics
    assert missing not in topics
