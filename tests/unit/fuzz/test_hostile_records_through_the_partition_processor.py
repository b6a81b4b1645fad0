"""Batches of hostile records on every input topic, ticks among them (some hostile too),
under org policies from hostile policy records, through the `PartitionProcessor`: every
record is applied (accepted, duplicate, ignored, replayed, rerouted, or parked until its
clock) or dead-lettered with a known reason — never an unexpected error — no batch
raises, the counts add up, and everything the processor hands out can be written and
read back: states decode, alerts and statuses encode and decode as their readers do."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any, get_args

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from agents.books.policies import PolicyBook
from agents.metrics import WorkerMetrics
from agents.settings import Settings
from schemas.codec import decode_as, encode
from schemas.errors import Reason
from schemas.models import Alert, DeviceStatus
from streams.state import decode_state
from tests.hostile import TRIED, damaged_state, fuzz_settings, hostile, legal, seed
from tests.unit.factories import T0
from tests.unit.streams.test_partition_processor import PARTITIONS, Log, Worker, partition_of

KNOWN_REASONS = set(get_args(Reason)) | {"wrong_key", "reserved_id", "invalid_tick"}
OUTCOMES = {"accepted", "invalid", "replayed", "duplicate", "rerouted", "ignored", "tick"}
TOPIC_SCHEMAS = ("heartbeat", "backup_progress", "device_command")
DEVICES = ["dev-000123", "dev-2", "dev-3", "dev-4"]
ORG = seed("heartbeat")["org_id"]


def parsed(value: bytes) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return None


def with_device(value: bytes, device: str) -> bytes:
    document = parsed(value)
    if isinstance(document, dict) and document.get("device_id") == DEVICES[0]:
        document["device_id"] = device
        return json.dumps(document).encode()
    return value


def key_of(value: bytes, fallback: str) -> bytes | None:
    """What a producer would key the record by: its device id, when it has one."""
    document = parsed(value)
    device = document.get("device_id") if isinstance(document, dict) else None
    try:
        return device.encode() if isinstance(device, str) else fallback.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return fallback.encode()


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """A sequence of records and ticks: ("record", (topic, value, key)), ("tick", value
    or None for a valid tick of the next minute)."""
    out: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 24))):
        what = draw(st.sampled_from(["hostile", "legal", "legal", "tick", "bad tick"]))
        if what in ("hostile", "legal"):
            topic = draw(st.integers(0, 2))
            schema = draw(st.sampled_from(TOPIC_SCHEMAS)) if what == "hostile" else None
            value = draw(hostile(schema) if schema else legal(TOPIC_SCHEMAS[topic]))
            device = draw(st.sampled_from(DEVICES))
            value = with_device(value, device)
            key = draw(st.sampled_from([key_of(value, device), None, b"\xff\xfe", b"dev-2"]))
            out.append(("record", (topic, value, key)))
        elif what == "tick":
            out.append(("tick", None))
        else:
            out.append(("tick", draw(st.binary(max_size=24) | st.sampled_from([b"0", b"-1"]))))
    return out


@fuzz_settings()
@given(
    st.lists(legal("org_policy") | hostile("org_policy"), max_size=3),
    st.lists(steps(), min_size=1, max_size=4),
)
def test_hostile_records_are_applied_or_dead_lettered_and_the_counts_add_up(
    policies: list[bytes], batches: list[list[tuple[str, Any]]]
) -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    book = PolicyBook(Settings(), metrics=metrics)
    for value in policies:
        book.apply_record(with_org(value), ORG.encode())
        TRIED["policies"] += 1
    assert book.unexpected_errors == 0
    worker, log = Worker(), Log()
    worker.policy_for = book.policy_for  # type: ignore[method-assign]
    worker.restart()
    clock = T0
    sent = 0
    outcomes: Counter[tuple[int, str]] = Counter()
    for batch in batches:
        envelopes = []
        for kind, item in batch:
            if kind == "record":
                topic, value, key = item
                partition = partition_of(key) if key and key.isascii() else 0
                envelopes.append(log.raw(value, topic=topic, key=key, partition=partition))
                TRIED["processor"] += 1
            else:
                clock += timedelta(hours=7)
                ticks = [t for p in range(PARTITIONS) for t in log.tick(clock, p)]
                if item is not None:
                    for tick in ticks[:: len(ticks) // 3]:
                        tick.value = item
                envelopes.extend(ticks)
        sent += len(envelopes)
        result = worker.process(envelopes)
        assert not result.failures, result.failures
        for letter in result.dead_letters:
            assert letter.reason in KNOWN_REASONS, (letter.reason, letter.message)
            assert letter.message
            letter.message.encode()  # as the agent writes it, in a header
        assert set(o for _, o in result.outcomes) <= OUTCOMES
        invalid = sum(n for (_, o), n in result.outcomes.items() if o == "invalid")
        assert invalid == len(result.dead_letters) == sum(result.invalid.values())
        outcomes.update(result.outcomes)
        for alert in result.alerts:
            assert decode_as(encode(alert), Alert) == alert
        for status in result.statuses:
            decode_as(encode(status), DeviceStatus)
        for key, value in result.writes.items():
            if not key.startswith("~"):
                assert decode_state(value).device_id == key
    parked = sum(len(state.parked) for state in worker.states().values())
    assert sum(outcomes.values()) + parked == sent
    # What a restarted worker indexes from the store is what it was left with.
    before = worker.processor.device_counts()
    worker.restart()
    for partition in range(PARTITIONS):
        worker.processor.ensure(partition)
    assert worker.processor.device_counts() == before


def with_org(value: bytes) -> bytes:
    document = parsed(value)
    if isinstance(document, dict) and "org_id" in document:
        document["org_id"] = ORG
        return json.dumps(document).encode()
    return value


@fuzz_settings(scale=0.4)
@given(
    st.lists(
        st.sampled_from(DEVICES).flatmap(lambda d: st.tuples(st.just(d), damaged_state(d))),
        min_size=1,
        max_size=3,
    ),
    st.lists(steps(), min_size=1, max_size=3),
)
def test_a_damaged_stored_state_fails_its_devices_records_only(
    damaged: list[tuple[str, bytes]], batches: list[list[tuple[str, Any]]]
) -> None:
    # The changelog is a topic too: a producer with rights on it can replace a state.
    worker, log = Worker(), Log()
    worker.process(log.ticks(T0) + [log.record(heartbeat_of(d, T0)) for d in DEVICES])
    tampered = dict(damaged)
    for device, value in tampered.items():
        worker.store[partition_of(device.encode())][device] = value
    TRIED["stored states"] += len(tampered)
    worker.restart()
    clock = T0
    for batch in batches:
        envelopes = []
        for kind, item in batch:
            if kind == "record":
                topic, value, key = item
                partition = partition_of(key) if key and key.isascii() else 0
                envelopes.append(log.raw(value, topic=topic, key=key, partition=partition))
                TRIED["processor"] += 1
            else:
                clock += timedelta(hours=7)
                envelopes.extend(t for p in range(PARTITIONS) for t in log.tick(clock, p))
        result = worker.process(envelopes)
        assert set(result.failures) <= {"record", "decision", "stored_state"}
        for letter in result.dead_letters:
            if letter.reason == "unexpected_error":
                assert letter.envelope.key is not None
                assert letter.envelope.key.decode() in tampered, letter.message
            else:
                assert letter.reason in KNOWN_REASONS, (letter.reason, letter.message)
        for alert in result.alerts:
            assert decode_as(encode(alert), Alert) == alert
        for status in result.statuses:
            decode_as(encode(status), DeviceStatus)
    worker.restart()
    for partition in range(PARTITIONS):
        worker.processor.ensure(partition)


def heartbeat_of(device: str, at: Any) -> Any:
    from tests.unit.factories import heartbeat

    return heartbeat(at, device)
