"""A record that arrived on another partition than its key's goes back to its home
partition unapplied; a device already known on a partition stays there."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.models import InputRecord
from streams import decode_state
from tests.unit.factories import DAY, T0, command, heartbeat, progress
from tests.unit.streams.test_partition_processor import PARTITIONS, Log, Worker, partition_of

MINUTE = timedelta(minutes=1)
HOME = partition_of(b"dev-1")


@pytest.mark.parametrize(
    "event",
    [heartbeat(T0), progress(T0), command("deactivate", T0)],
    ids=["heartbeat", "progress", "command"],
)
@pytest.mark.parametrize("arrived_on", [p for p in range(PARTITIONS) if p != HOME])
def test_a_record_on_another_partition_is_rerouted_to_its_home_not_applied(
    event: InputRecord, arrived_on: int
) -> None:
    worker, log = Worker(), Log()
    stray = log.record(event, partition=arrived_on)
    valid = log.record(heartbeat(T0, "dev-6"))
    result = worker.process([stray, valid])
    assert [(r.envelope, r.partition) for r in result.reroutes] == [(stray, HOME)]
    assert result.outcomes == {(stray.topic, "rerouted"): 1, (0, "accepted"): 1}
    assert list(result.writes) == ["dev-6"]
    assert result.dead_letters == []
    assert all("dev-1" not in data for data in worker.store.values())


def test_a_device_known_on_its_partition_is_not_checked_again() -> None:
    # The producers' partitioner changed its mind (say the partition count grew); the
    # device keeps its state where it is rather than splitting it over two partitions.
    worker, log = Worker(), Log()
    worker.process([log.record(heartbeat(T0))])
    worker.moved["dev-1"] = (HOME + 1) % PARTITIONS
    later = log.record(heartbeat(T0 + MINUTE), partition=HOME)
    result = worker.process([later])
    assert result.reroutes == []
    assert result.outcomes == {(0, "accepted"): 1}


def test_a_rerouted_record_is_applied_once_it_arrives_home() -> None:
    worker, log = Worker(), Log()
    stray = log.record(heartbeat(T0), partition=(HOME + 2) % PARTITIONS)
    (reroute,) = worker.process([stray]).reroutes
    home = log.raw(stray.value, topic=stray.topic, partition=reroute.partition, key=stray.key)
    assert worker.process([home]).outcomes == {(0, "accepted"): 1}
    assert worker.state("dev-1").last_heartbeat == T0


@pytest.mark.parametrize("stray_offset", ["lower", "higher"])
def test_a_stray_record_is_rerouted_even_when_its_device_was_read_earlier_in_the_batch(
    stray_offset: str,
) -> None:
    # The batch reads the device on its home partition first: that must not make it
    # known on the other partition, nor mix the two partitions' offsets.
    worker, log = Worker(), Log()
    elsewhere = (HOME + 1) % PARTITIONS
    if stray_offset == "higher":
        for _ in range(5):  # offsets taken by other records on that partition
            log.raw(b"{}", topic=0, partition=elsewhere, key=b"dev-9")
    home = log.record(heartbeat(T0))
    stray = log.record(heartbeat(T0 + MINUTE), partition=elsewhere)
    result = worker.process([home, stray])
    assert [(r.envelope, r.partition) for r in result.reroutes] == [(stray, HOME)]
    assert result.outcomes == {(0, "accepted"): 1, (0, "rerouted"): 1}
    # The home partition's offsets alone decide what is a replay there.
    assert worker.state("dev-1").offsets[0] == home.offset
    following = worker.process([log.record(heartbeat(T0 + 2 * MINUTE))])
    assert following.outcomes == {(0, "accepted"): 1}


@pytest.mark.parametrize("restart", [False, True], ids=["same processor", "new processor"])
@pytest.mark.parametrize("left_out", ["deactivated", "every alert critical"])
def test_a_device_stored_on_its_partition_but_without_a_deadline_is_not_checked_again(
    left_out: str, restart: bool
) -> None:
    # Neither a deactivated device nor one whose every alert is critical (no reminders)
    # has a deadline: the deadline index leaves them out, the stored state does not.
    worker, log = Worker(), Log()
    worker.process(
        log.ticks(T0) + [log.record(heartbeat(T0 + MINUTE)), log.record(progress(T0 + MINUTE))]
    )
    if left_out == "deactivated":
        worker.process([log.record(command("deactivate", T0 + 2 * MINUTE))])
    for day in range(1, 16):
        worker.process(log.ticks(T0 + day * DAY))
    if restart:
        worker.restart()
        worker.processor.ensure(HOME)
    assert worker.processor.devices_indexed() == 0
    worker.moved["dev-1"] = (HOME + 1) % PARTITIONS
    later = log.record(heartbeat(T0 + 15 * DAY + MINUTE), partition=HOME)
    result = worker.process([later])
    assert result.reroutes == []
    assert result.outcomes == {(0, "accepted"): 1}
    assert [p for p, data in worker.store.items() if "dev-1" in data] == [HOME]
    assert decode_state(worker.store[HOME]["dev-1"]).last_heartbeat == later.timestamp
