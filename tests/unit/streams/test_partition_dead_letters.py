"""Records that do not decode, or whose key is not their device, become dead letters
with their reason, are counted, and do not hold up the valid records around them."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from agents.worker.ticks import encode_tick
from schemas.codec import MAX_RECORD_BYTES, encode
from schemas.types import EARLIEST, LATEST
from tests.unit.factories import DAY, T0, command, heartbeat, progress
from tests.unit.streams.test_partition_processor import Log, Worker, partition_of

P = partition_of(b"dev-1")
MINUTE = timedelta(minutes=1)
HEARTBEAT = json.loads(encode(heartbeat(T0, "dev-1")))


def as_bytes(record: dict[str, object]) -> bytes:
    return json.dumps(record).encode()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2, 3]", "invalid_json"),
        (as_bytes({**HEARTBEAT, "schema": "heartbeat/9"}), "unknown_schema"),
        (as_bytes({k: v for k, v in HEARTBEAT.items() if k != "schema"}), "missing_schema"),
        (as_bytes({**HEARTBEAT, "cpu_limit_percent": 0}), "invalid_field"),
        (as_bytes({**HEARTBEAT, "event_time": "yesterday"}), "invalid_field"),
        (as_bytes({**HEARTBEAT, "hostname": "h" * MAX_RECORD_BYTES}), "oversized"),
    ],
    ids=[
        "malformed",
        "not an object",
        "unknown schema",
        "no schema",
        "out of range",
        "not a time",
        "oversized",
    ],
)
def test_an_invalid_record_is_a_dead_letter_with_the_codecs_reason(
    value: bytes, reason: str
) -> None:
    worker, log = Worker(), Log()
    before = log.record(heartbeat(T0, "dev-1"))
    invalid = log.raw(value, topic=0, key=b"dev-1")
    after = log.record(heartbeat(T0, "dev-5"))
    result = worker.process([before, invalid, after])
    assert [(d.envelope, d.reason) for d in result.dead_letters] == [(invalid, reason)]
    assert result.dead_letters[0].message
    assert result.invalid == {reason: 1}
    assert result.outcomes == {(0, "accepted"): 2, (0, "invalid"): 1}
    assert sorted(result.writes) == ["dev-1", "dev-5"]


@pytest.mark.parametrize(
    ("key", "partition"),
    [(b"dev-5", P), (b"dev-2", 2), (None, P)],
    ids=["other", "other partition", "none"],
)
def test_a_record_keyed_by_anything_but_its_device_is_a_wrong_key_dead_letter(
    key: bytes | None, partition: int
) -> None:
    worker, log = Worker(), Log()
    wrong = log.raw(encode(heartbeat(T0, "dev-1")), topic=0, key=key, partition=partition)
    valid = log.record(heartbeat(T0, "dev-9"))
    result = worker.process([wrong, valid])
    assert [(d.envelope, d.reason) for d in result.dead_letters] == [(wrong, "wrong_key")]
    assert result.invalid == {"wrong_key": 1}
    assert result.outcomes == {(0, "invalid"): 1, (0, "accepted"): 1}
    assert list(result.writes) == ["dev-9"]
    assert result.reroutes == []


def test_dead_letters_are_counted_per_topic_and_reason() -> None:
    worker, log = Worker(), Log()
    batch = [
        log.raw(b"{", topic=0),
        log.raw(b"{", topic=1),
        log.raw(b"{", topic=1),
        log.raw(as_bytes({**HEARTBEAT, "schema": "x/1"}), topic=2),
        log.record(heartbeat(T0, "dev-1"), key=b"dev-2"),
    ]
    result = worker.process(batch)
    assert result.invalid == {"invalid_json": 3, "unknown_schema": 1, "wrong_key": 1}
    assert result.outcomes == Counter({(0, "invalid"): 2, (1, "invalid"): 2, (2, "invalid"): 1})
    assert len(result.dead_letters) == 5
    assert worker.store[P] == {}


BAD_TICKS = {
    "not a number": b"not-a-number",
    "empty": b"",
    "not utf-8": b"\xff\xfe",
    "a fraction": b"1793779200000.5",
    "too large for a float": b"9" * 400,
    "too large for a time": b"99999999999999999999",
    "too long for an int": b"9" * 5000,
    "before 2000": encode_tick(EARLIEST - MINUTE)[0],
    "2100 or later": encode_tick(LATEST)[0],
    "year 2999": encode_tick(datetime(2999, 1, 1, tzinfo=UTC))[0],
    "seconds for milliseconds": str(int(T0.timestamp())).encode(),
}


@pytest.mark.parametrize("value", BAD_TICKS.values(), ids=BAD_TICKS.keys())
def test_a_tick_whose_value_is_no_time_from_2000_to_2099_is_an_invalid_tick_dead_letter(
    value: bytes,
) -> None:
    worker, log = Worker(), Log()
    worker.process(log.tick(T0, P) + [log.record(heartbeat(T0 + MINUTE))])
    bad = log.tick(T0, P, [0])[0]
    bad.value = value
    result = worker.process([bad, log.record(heartbeat(T0 + 2 * MINUTE))])
    assert [(d.envelope, d.reason) for d in result.dead_letters] == [(bad, "invalid_tick")]
    assert "2000" in result.dead_letters[0].message
    assert result.invalid == {"invalid_tick": 1}
    # Counted as invalid, like any record sent to dead letters, not as a tick.
    assert result.outcomes == {(0, "invalid"): 1, (0, "accepted"): 1}
    assert (result.parked, list(result.writes)) == (0, ["dev-1"])
    # The topic's time is where it was: the next ticks move the clock, and the records
    # after them are applied, not parked for good.
    heard = [log.record(heartbeat(T0 + n * DAY + MINUTE)) for n in range(1, 4)]
    for n, record in enumerate(heard, start=1):
        result = worker.process(log.tick(T0 + n * DAY, P) + [record])
        assert result.parked == 0
        assert worker.processor.clock(P) == T0 + n * DAY
    assert worker.state("dev-1").last_heartbeat == heard[-1].timestamp
    assert worker.state("dev-1").connection.level == "ok"


@pytest.mark.parametrize(
    "device",
    ["the partition's clock key", "~clock~", "~clock~laptop", "~clock~1~0"],
)
@pytest.mark.parametrize("kind", ["heartbeat", "progress", "command"])
def test_a_device_id_in_the_clock_keys_namespace_is_a_reserved_id_dead_letter(
    device: str, kind: str
) -> None:
    worker, log = Worker(), Log()
    if device == "the partition's clock key":
        device = worker.processor.clock_key(P)
    worker.process(log.ticks(T0) + [log.record(heartbeat(T0 + MINUTE))])
    stored = {p: dict(data) for p, data in worker.store.items()}
    event = {
        "heartbeat": heartbeat(T0 + MINUTE, device),
        "progress": progress(T0 + MINUTE, device),
        "command": command("deactivate", T0 + MINUTE, device),
    }[kind]
    reserved = log.record(event, partition=P)
    valid = log.record(heartbeat(T0 + 2 * MINUTE))
    result = worker.process([reserved, valid])
    assert [(d.envelope, d.reason) for d in result.dead_letters] == [(reserved, "reserved_id")]
    assert "~clock~" in result.dead_letters[0].message
    assert result.invalid == {"reserved_id": 1}
    assert result.outcomes == {(reserved.topic, "invalid"): 1, (0, "accepted"): 1}
    assert (result.reroutes, result.parked, list(result.writes)) == ([], 0, ["dev-1"])
    stored[P]["dev-1"] = worker.store[P]["dev-1"]
    assert worker.store == stored
    # Nor does the partition's clock or its devices' count change.
    worker.restart()
    worker.processor.ensure(P)
    assert worker.processor.clock(P) == T0
    assert worker.processor.device_counts()[("connection", "ok")] == 1
