"""The `memory://` store's bulk read of a changelog (agents.worker.store.read_changelog), against
the real broker: what it holds afterwards is what replaying the changelog record by
record gives."""

from __future__ import annotations

from collections import defaultdict

import pytest
from aiokafka import AIOKafkaProducer
from faust.types import TP

from agents.kafka import KafkaConnection
from agents.worker.store import read_changelog
from tests.kafka_harness import MakeTopics

pytestmark = pytest.mark.integration

Record = tuple[int, bytes | None, bytes | None]  # partition, key, value


async def produce(bootstrap: str, topic: str, records: list[Record]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition, key, value in records:
            await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


def replayed(records: list[Record]) -> dict[int, dict[bytes, bytes]]:
    """Each partition's keys after applying its records one by one, in order."""
    held: dict[int, dict[bytes, bytes]] = defaultdict(dict)
    for partition, key, value in records:
        if key is None:
            continue
        if value is None:
            held[partition].pop(key, None)
        else:
            held[partition][key] = value
    return {p: data for p, data in held.items()}


FIRST: list[Record] = [
    (0, b"dev-1", b"dev-1 v1"),
    (0, b"dev-2", b"dev-2 v1"),
    (1, b"dev-1", b"dev-1 on partition 1"),  # a key of partition 0 written to 1 stays in 1
    (0, b"dev-1", b"dev-1 v2"),
    (0, b"dev-3", b"dev-3 v1"),
    (0, b"dev-3", None),  # a tombstone deletes the key
    (1, b"dev-4", b"dev-4 v1"),
    (0, None, b"no key"),  # skipped, as Faust's stores refuse it
    (1, b"dev-4", b"dev-4 v2"),
]
LATER: list[Record] = [
    (0, b"dev-2", b"dev-2 v2"),
    (0, b"dev-1", None),  # deletes a key read the first time
    (0, b"dev-3", b"dev-3 back"),
]


async def test_the_newest_value_per_key_wins_tombstones_delete_and_partitions_stay_apart(
    kafka_bootstrap: str, make_topics: MakeTopics
) -> None:
    (topic,) = await make_topics("device-state-changelog", partitions=3)
    await produce(kafka_bootstrap, topic, FIRST)
    held: dict[int, dict[bytes, bytes]] = {0: {}, 1: {}, 2: {}}

    reached = await read_changelog(
        KafkaConnection(bootstrap_servers=kafka_bootstrap),
        {TP(topic, 0): None, TP(topic, 1): None, TP(topic, 2): None},
        held,
    )

    assert held == {**replayed(FIRST), 2: {}}
    assert held[0] == {b"dev-1": b"dev-1 v2", b"dev-2": b"dev-2 v1"}
    assert held[1] == {b"dev-1": b"dev-1 on partition 1", b"dev-4": b"dev-4 v2"}
    # The last offset of each partition: what Faust's recovery resumes after.
    assert reached == {TP(topic, 0): 5, TP(topic, 1): 2, TP(topic, 2): -1}


async def test_a_later_read_resumes_after_the_offset_reached(
    kafka_bootstrap: str, make_topics: MakeTopics
) -> None:
    (topic,) = await make_topics("device-state-changelog", partitions=2)
    await produce(kafka_bootstrap, topic, FIRST)
    held: dict[int, dict[bytes, bytes]] = {0: {}, 1: {}}
    reached = await read_changelog(
        KafkaConnection(bootstrap_servers=kafka_bootstrap),
        {TP(topic, 0): None, TP(topic, 1): None},
        held,
    )
    await produce(kafka_bootstrap, topic, LATER)
    # Partition 1's dict is changed behind the reader's back: a read that started over
    # from the beginning instead of after the offset reached would put it back.
    held[1][b"dev-4"] = b"held since"

    reached = await read_changelog(
        KafkaConnection(bootstrap_servers=kafka_bootstrap), reached, held
    )

    assert held[0] == replayed(FIRST + LATER)[0]
    assert held[0] == {b"dev-2": b"dev-2 v2", b"dev-3": b"dev-3 back"}
    assert held[1] == {b"dev-1": b"dev-1 on partition 1", b"dev-4": b"held since"}
    assert reached == {TP(topic, 0): 8, TP(topic, 1): 2}
