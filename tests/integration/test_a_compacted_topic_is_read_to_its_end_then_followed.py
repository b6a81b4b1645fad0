"""The one follower of a compacted topic (agents/kafka/follower.py), against the real
broker: it waits for a topic created after it starts, is caught up once it has taken what
the topic held, keeps taking what is written later, skips a record it cannot take, and
never leaves a caller of `reached_end` waiting on a reader that has stopped."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from agents.kafka.connection import KafkaConnection
from agents.kafka.follower import Record, TopicFollower
from tests.kafka_harness import MakeTopics, eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def _send(bootstrap: str, topic: str, records: list[tuple[bytes, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def test_a_topic_created_later_is_read_to_its_end_then_followed(
    kafka_bootstrap: str, make_topics: MakeTopics, topic_prefix: str
) -> None:
    taken: list[tuple[bytes | None, bytes | None, int]] = []
    follower = TopicFollower(
        KafkaConnection(bootstrap_servers=kafka_bootstrap),
        f"{topic_prefix}later",
        lambda r: taken.append((r.key, r.value, r.partition)),
    )
    task = asyncio.create_task(follower.run())
    try:
        # The follower starts on a topic that does not exist: it waits for it.
        assert not follower.caught_up.is_set()
        (later,) = await make_topics("later", partitions=3, config={"cleanup.policy": "compact"})
        before = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(30)]
        await _send(kafka_bootstrap, later, before)
        await eventually(lambda: len(taken) >= 30, what="the 30 records written before")
        await eventually(follower.caught_up.is_set, what="the follower to be caught up")
        assert sorted((k, v) for k, v, _ in taken) == sorted(before)
        assert {p for _, _, p in taken} == {0, 1, 2}

        await _send(kafka_bootstrap, later, [(b"k1", b"newer"), (b"k2", None)])
        await asyncio.wait_for(follower.reached_end(), 60)
        assert [(k, v) for k, v, _ in taken[30:]] == [(b"k1", b"newer"), (b"k2", None)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_record_that_cannot_be_taken_is_skipped_and_counted(
    kafka_bootstrap: str, make_topics: MakeTopics
) -> None:
    (topic,) = await make_topics("book", partitions=1, config={"cleanup.policy": "compact"})
    await _send(kafka_bootstrap, topic, [(b"a", b"1"), (b"b", b"boom"), (b"c", b"3")])
    taken: list[bytes | None] = []
    errors: list[None] = []

    def take(record: Record) -> None:
        if record.value == b"boom":
            raise ValueError("a record this version cannot read")
        taken.append(record.value)

    follower = TopicFollower(
        KafkaConnection(bootstrap_servers=kafka_bootstrap),
        topic,
        take,
        on_error=lambda: errors.append(None),
    )
    await follower.start(timeout=120)
    try:
        assert taken == [b"1", b"3"]
        assert follower.unexpected_errors == 1
        assert errors == [None]
        assert follower.records == 3
    finally:
        await follower.stop()


async def test_reading_to_the_end_only_returns_at_the_end(
    kafka_bootstrap: str, make_topics: MakeTopics
) -> None:
    (topic,) = await make_topics("published", partitions=2, config={"cleanup.policy": "compact"})
    await _send(kafka_bootstrap, topic, [(f"d{i}".encode(), b"x") for i in range(10)])
    taken: list[bytes | None] = []
    follower = TopicFollower(
        KafkaConnection(bootstrap_servers=kafka_bootstrap), topic, lambda r: taken.append(r.key)
    )
    await asyncio.wait_for(follower.run(to_end_only=True), 120)
    assert sorted(k or b"" for k in taken) == sorted(f"d{i}".encode() for i in range(10))

    (empty,) = await make_topics("empty", config={"cleanup.policy": "compact"})
    nothing = TopicFollower(KafkaConnection(bootstrap_servers=kafka_bootstrap), empty, print)
    await asyncio.wait_for(nothing.run(to_end_only=True), 120)
    assert nothing.caught_up.is_set() and nothing.records == 0


async def test_a_caller_waiting_for_the_end_is_woken_when_the_reader_stops(
    kafka_bootstrap: str, make_topics: MakeTopics
) -> None:
    (topic,) = await make_topics("facts", config={"cleanup.policy": "compact"})

    def take(record: Record) -> None:
        if record.value == b"stop":
            task.cancel()  # the reader stops before it counts this record as read

    follower = TopicFollower(KafkaConnection(bootstrap_servers=kafka_bootstrap), topic, take)
    task = asyncio.create_task(follower.run())
    try:
        await eventually(follower.caught_up.is_set, what="the follower to be caught up")
        await _send(kafka_bootstrap, topic, [(b"u", b"stop")])
        # Returns whether it saw the record read or the reader stop; never waits for good.
        await asyncio.wait_for(follower.reached_end(), 60)
        await asyncio.gather(task, return_exceptions=True)
        assert task.done()
        await asyncio.wait_for(follower.reached_end(), 5)  # not running: at once
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
