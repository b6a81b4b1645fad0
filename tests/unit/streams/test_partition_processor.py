"""An in-memory worker around `PartitionProcessor`, and the plumbing it relies on.

`Worker` plays the Faust agent of `agents.worker.app`: a dict per partition stands in for the
device-state table, and each batch's writes are stored under the partition the
partitioner gives their key, as the agent does. `Log` plays the broker: it hands out
offsets per topic partition and builds tick records with `agents.worker.ticks`. The
`test_partition_*` modules beside this one drive the processor through both.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from agents.worker.ticks import encode_tick
from schemas.codec import encode
from schemas.models import Alert, BackupProgress, DeviceCommand, Heartbeat, InputRecord
from streams import DEFAULT_POLICY, NO_USER_FACTS, DeviceState, Policy, UserTimeline, decode_state
from streams.pipeline import BatchResult, Envelope, PartitionProcessor, stored_items
from tests.unit.factories import DAY, T0, command, heartbeat, progress

PARTITIONS = 4
TOPICS = (0, 1, 2)  # heartbeats, backup-progress, device-commands
TICK = timedelta(minutes=5)

_TOPIC_OF: dict[type, int] = {Heartbeat: 0, BackupProgress: 1, DeviceCommand: 2}


def partition_of(key: bytes) -> int:
    """A simple deterministic partitioner: `dev-3` → 3 % PARTITIONS; other keys by CRC."""
    head, _, number = key.decode().rpartition("-")
    if head and number.isdigit():
        return int(number) % PARTITIONS
    return zlib.crc32(key) % PARTITIONS


class Worker:
    """The processor with a table: one dict per partition, written after each batch."""

    def __init__(self) -> None:
        self.store: dict[int, dict[str, bytes]] = {p: {} for p in range(PARTITIONS)}
        self.policies: dict[str, Policy] = {}
        self.users: dict[str, UserTimeline] = {}
        # Keys the producers' partitioner sends somewhere else than `partition_of`.
        self.moved: dict[str, int] = {}
        self.processor = self.restart()

    def partition_for(self, key: bytes) -> int:
        return self.moved.get(key.decode(), partition_of(key))

    def policy_for(self, org_id: str) -> Policy:
        return self.policies.get(org_id, DEFAULT_POLICY)

    def user_facts_for(self, user_id: str) -> UserTimeline:
        return self.users.get(user_id, NO_USER_FACTS)

    def restart(self) -> PartitionProcessor:
        """A new processor on the same store, as after a crash or a rebalance."""
        self.processor = PartitionProcessor(
            PARTITIONS,
            load=lambda key, partition: self.store[partition].get(key),
            items_of=lambda partition: list(self.store[partition].items()),
            partition_for=self.partition_for,
            policy_for=self.policy_for,
            user_facts_for=self.user_facts_for,
        )
        return self.processor

    def process(self, batch: Iterable[Envelope]) -> BatchResult:
        result = self.processor.process(list(batch))
        for key, value in result.writes.items():
            # The processor names each write's partition (the one the state lives on);
            # the agent writes there. It is the partitioner's unless that changed its mind.
            home = result.homes[key]
            if key not in self.moved:
                assert home == self.partition_for(key.encode()), (key, home)
            self.store[home][key] = value
        return result

    def run(self, envelopes: Sequence[Envelope], batch_size: int) -> list[BatchResult]:
        return [
            self.process(envelopes[i : i + batch_size])
            for i in range(0, len(envelopes), batch_size)
        ]

    def state(self, device_id: str) -> DeviceState:
        return decode_state(self.store[self.partition_for(device_id.encode())][device_id])

    def states(self) -> dict[str, DeviceState]:
        """Every stored device state (clock keys left out)."""
        return {
            key: decode_state(value)
            for data in self.store.values()
            for key, value in data.items()
            if not key.startswith("~")
        }


class Log:
    """The input topics as the broker hands them out: offsets count per topic partition."""

    def __init__(self) -> None:
        self._next: Counter[tuple[int, int]] = Counter()

    def _offset(self, topic: int, partition: int) -> int:
        offset = self._next[(topic, partition)]
        self._next[(topic, partition)] += 1
        return offset

    def raw(
        self,
        value: bytes,
        *,
        topic: int = 0,
        partition: int | None = None,
        key: bytes | None = b"dev-1",
        at: datetime = T0,
    ) -> Envelope:
        if partition is None:
            partition = partition_of(key) if key is not None else 0
        return Envelope(topic, partition, self._offset(topic, partition), key, value, at)

    def record(
        self, event: InputRecord, *, partition: int | None = None, key: bytes | None = None
    ) -> Envelope:
        """The event as its producer writes it: keyed by device, on the key's partition."""
        at = event.issued_at if isinstance(event, DeviceCommand) else event.event_time
        assert isinstance(at, datetime)  # decoded timestamps are normalized to UTC datetimes
        return self.raw(
            encode(event),
            topic=_TOPIC_OF[type(event)],
            partition=partition,
            key=event.device_id.encode() if key is None else key,
            at=at,
        )

    def tick(self, at: datetime, partition: int, topics: Iterable[int] = TOPICS) -> list[Envelope]:
        """Ticks standing for `at` on `topics` of one partition."""
        value, _headers = encode_tick(at)
        return [
            Envelope(topic, partition, self._offset(topic, partition), None, value, at, tick=True)
            for topic in topics
        ]

    def ticks(self, at: datetime, partitions: Iterable[int] = range(PARTITIONS)) -> list[Envelope]:
        """A tick standing for `at` on every topic of `partitions`."""
        return [envelope for p in partitions for envelope in self.tick(at, p)]


def every(start: datetime, end: datetime, step: timedelta = TICK) -> list[datetime]:
    """`start`, `start + step`, … up to and including `end`."""
    times = []
    at = start
    while at <= end:
        times.append(at)
        at += step
    return times


def history(log: Log, until: datetime, step: timedelta = TICK) -> list[Envelope]:
    """A fleet over every partition, in stream order, with ticks every `step` to `until`.

    Each step is a round of ticks on every topic of every partition, then what the
    devices sent in the minutes after it (well within the allowed skew):

    * dev-0 and dev-4 heartbeat and complete a backup every hour, all along;
    * dev-1 is heard from once, at T0, then never again;
    * dev-2 heartbeats hourly but falls silent from day 1 to day 4.5;
    * dev-3 heartbeats hourly but never sends a backup;
    * dev-5 is silent after T0 and deactivated at day 4, reactivated at day 6;
    * dev-6 heartbeats hourly, every heartbeat written twice;
    * dev-7 is silent after T0 and snoozed from day 2 to day 5;
    * now and then an invalid record, a record keyed by another device, and a record
      of dev-9 (heard of nowhere else) on another partition than its key's.
    """
    minute = timedelta(minutes=1)
    envelopes: list[Envelope] = []
    for at in every(T0, until, step):
        envelopes += log.ticks(at)
        elapsed = at - T0
        hourly = elapsed % timedelta(hours=1) < step
        sent = at + 2 * minute
        if elapsed == timedelta(0):
            for n in range(8):
                device = f"dev-{n}"
                envelopes += [log.record(heartbeat(sent, device))]
                if n != 3:
                    envelopes += [log.record(progress(sent, device))]
        elif hourly:
            for device in ("dev-0", "dev-4"):
                envelopes += [
                    log.record(heartbeat(sent, device)),
                    log.record(progress(sent, device, bytes_sent=int(elapsed.total_seconds()))),
                ]
            if not timedelta(days=1) <= elapsed < timedelta(days=4.5):
                envelopes.append(log.record(heartbeat(sent, "dev-2")))
            envelopes.append(log.record(heartbeat(sent, "dev-3")))
            twice = heartbeat(sent, "dev-6")
            envelopes += [log.record(twice), log.record(twice)]
        if elapsed % timedelta(hours=7) < step:
            envelopes.append(log.raw(b"{not json", topic=1, key=b"dev-3", at=sent))
            envelopes.append(log.record(heartbeat(sent, "dev-3"), key=b"dev-2"))
        if elapsed % timedelta(hours=11) < step:
            envelopes.append(log.record(heartbeat(sent, "dev-9"), partition=3))
        for day, action, device, extra in _COMMANDS:
            if elapsed == day * DAY:
                envelopes.append(log.record(command(action, sent, device, **extra)))
    return envelopes


_COMMANDS: list[tuple[float, str, str, dict[str, Any]]] = [
    (2, "snooze", "dev-7", {"snooze_until": T0 + 5 * DAY}),
    (4, "deactivate", "dev-5", {}),
    (6, "reactivate", "dev-5", {}),
]


def alerts_of(results: Iterable[BatchResult]) -> list[Alert]:
    return [alert for result in results for alert in result.alerts]


def transitions(alerts: Iterable[Alert], kind: str = "connection") -> list[tuple[str, datetime]]:
    """(transition, decided_at) of the alerts of one kind."""
    return [(a.transition, a.decided_at) for a in alerts if a.kind == kind]


# -- the plumbing -----------------------------------------------------------------


@pytest.mark.parametrize("partition", range(PARTITIONS))
def test_a_partitions_clock_key_is_a_key_the_partitioner_sends_to_that_partition(
    partition: int,
) -> None:
    processor = Worker().processor
    key = processor.clock_key(partition)
    assert key.startswith("~clock~")
    assert partition_of(key.encode()) == partition


def test_stored_items_keeps_only_the_keys_the_partitioner_sends_to_the_partition() -> None:
    data = {f"dev-{n}": f"state of dev-{n}".encode() for n in range(10)}
    items = dict(stored_items(data, 2, partition_of))
    assert items == {"dev-2": b"state of dev-2", "dev-6": b"state of dev-6"}
    assert sorted(dict(stored_items(data, 2, lambda key: 2))) == sorted(data)
    assert list(stored_items(data, 2, lambda key: 0)) == []


def test_a_batch_writes_each_changed_device_once_with_its_last_state() -> None:
    worker, log = Worker(), Log()
    batch = [log.record(heartbeat(T0 + n * timedelta(minutes=1), "dev-1")) for n in range(5)]
    result = worker.process(batch)
    assert list(result.writes) == ["dev-1"]
    assert worker.state("dev-1").last_heartbeat == T0 + 4 * timedelta(minutes=1)
    assert worker.state("dev-1").offsets[0] == batch[-1].offset
