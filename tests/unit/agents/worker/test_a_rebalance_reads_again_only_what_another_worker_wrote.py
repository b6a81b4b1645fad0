"""What a worker reads and indexes again after a rebalance (agents/worker/resume.py,
agents/worker/store.py "After an assignment", docs/architecture.md §6): a partition it
kept, that no other worker wrote meanwhile, is neither read nor indexed again; the rest
is read outside the assignment callback, and their records wait until it is done."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.types import TP, Message

from agents.settings import Settings
from agents.worker import store as store_module
from agents.worker.app import Backupwatch
from agents.worker.resume import ChangelogRead, changelog_reads, indexes_kept
from agents.worker.store import PartitionMemoryStore

CHANGELOG = "app-device-state-changelog"


def tp(partition: int) -> TP:
    return TP(CHANGELOG, partition)


# -- which changelog partitions are read ------------------------------------------------


def test_a_kept_partition_held_up_to_its_end_is_not_read_again() -> None:
    assigned = [tp(0), tp(1), tp(2), tp(3)]
    held = {tp(0): 99, tp(1): 40}  # 0 and 1 kept; 2 and 3 newly assigned
    ends = {tp(0): 100, tp(1): 100, tp(2): 100, tp(3): 0}

    reads = changelog_reads(assigned, held, ends)

    assert reads == {
        # kept, but another worker wrote 41..99 meanwhile: only that part is read
        tp(1): ChangelogRead(start=40, last=99),
        # newly assigned: read from the beginning
        tp(2): ChangelogRead(start=None, last=99),
    }  # 0: held to its end; 3: empty


@pytest.mark.parametrize(
    ("through", "held", "kept"),
    [
        (99, 99, True),  # nobody wrote it but this worker
        (None, None, True),  # empty, and still empty
        (99, 120, False),  # another worker wrote it meanwhile
        (None, 5, False),
        (99, None, False),  # not held any more
    ],
)
def test_a_kept_index_stands_only_if_the_store_holds_nothing_beyond_it(
    through: int | None, held: int | None, kept: bool
) -> None:
    assert (indexes_kept({7: through}, {7: held}) == {7}) is kept


# -- the memory store -------------------------------------------------------------------


@pytest.fixture
def store() -> PartitionMemoryStore:
    app = faust.App("store-test", broker="kafka://127.0.0.1:1")
    return PartitionMemoryStore("memory://", app, None, table_name="device-state")  # type: ignore[arg-type]


def changelog_record(partition: int, offset: int, key: bytes, value: bytes | None) -> Any:
    message = Message(CHANGELOG, partition, offset, 0.0, 0, {}, key, value, None)
    return SimpleNamespace(message=message)


async def test_records_recovery_brings_for_an_unread_partition_are_applied_after_its_read(
    store: PartitionMemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = ChangelogRead(start=None, last=5)
    store._unread[0] = (tp(0), read)
    store._offsets[tp(0)] = read.last
    store.partition(0)
    store.apply_changelog_batch(
        [
            changelog_record(0, 4, b"dev-1", b"old"),  # the read applies it
            changelog_record(0, 6, b"dev-1", b"written since"),
            changelog_record(0, 7, b"dev-2", None),
        ],
        lambda k: k,
        lambda v: v,
    )
    assert store.partition(0) == {}  # nothing applied before the read
    assert store.unread(0)
    assert store.persisted_offset(tp(0)) == 7

    async def fake_read(
        connection: Any,
        starts: Mapping[TP, int | None],
        partitions: Mapping[int, dict[bytes, bytes]],
        ends: Mapping[TP, int] | None = None,
    ) -> dict[TP, int]:
        assert starts == {tp(0): None}
        assert ends == {tp(0): 6}  # up to the offset recorded at assignment, not beyond
        partitions[0].update({b"dev-1": b"v5", b"dev-2": b"v5"})
        return {tp(0): 5}

    monkeypatch.setattr(store_module, "read_changelog", fake_read)
    monkeypatch.setattr(store_module, "connection_of", lambda app: None)
    await store._read({tp(0): read})

    assert store.partition(0) == {b"dev-1": b"written since"}
    assert not store.unread(0)
    assert store.partitions_read == 1


async def test_a_read_cut_short_by_a_rebalance_leaves_what_was_held_before(
    store: PartitionMemoryStore,
) -> None:
    store._unread[0] = (tp(0), ChangelogRead(start=None, last=50))
    store._unread[1] = (tp(1), ChangelogRead(start=20, last=50))
    store._offsets.update({tp(0): 50, tp(1): 50})

    await store._stop_reading()

    # Read again from the start, or from 20: applying a partition's records again from
    # there ends in the same dict, whatever part of them the cancelled read applied.
    assert store.persisted_offset(tp(0)) is None
    assert store.persisted_offset(tp(1)) == 20
    assert not store.unread(0) and not store.unread(1)


# -- the worker's deadline indexes --------------------------------------------------------


async def test_a_kept_partition_keeps_its_index_unless_another_worker_wrote_it(
    tmp_path: Path,
) -> None:
    worker = Backupwatch(Settings(store="memory://", data_dir=tmp_path, partitions=4))
    store: PartitionMemoryStore = worker.table.data  # type: ignore[assignment]
    changelog = worker.table.changelog_topic.get_topic_name()
    for partition in range(4):
        store._offsets[TP(changelog, partition)] = 10
        worker._index_current(partition)
        worker.processor.ensure(partition)
    assert sorted(worker.processor.clocks()) == [0, 1, 2, 3]
    counted = worker.metrics.partitions_indexed._value.get()
    assert counted == 4

    # A second worker joins: this one keeps 0 and 1. Partition 1 was handed to another
    # worker and back meanwhile (its changelog moved on); 0 was not.
    worker.assigned([0, 1])
    await asyncio.sleep(0)  # the indexes handed over are dropped just after
    assert sorted(worker.processor.clocks()) == [0, 1]
    store._offsets[TP(changelog, 1)] = 25
    for partition in (0, 1):
        worker._index_current(partition)
        worker.processor.ensure(partition)

    assert worker.metrics.partitions_indexed._value.get() == counted + 1  # only 1 again
    assert worker._indexed_through == {0: 10, 1: 25}


# -- records of a partition being read wait for it ---------------------------------------


async def test_a_batch_of_a_partition_being_read_waits_until_it_is_read(
    store: PartitionMemoryStore,
) -> None:
    store._unread[1] = (tp(1), ChangelogRead(start=None, last=5))
    other = asyncio.create_task(store.wait_read({0}))
    waiting = asyncio.create_task(store.wait_read({0, 1}))
    await asyncio.sleep(0.01)
    assert other.done()  # partition 0 is not being read: nothing to wait for
    assert not waiting.done()

    del store._unread[1]
    store._reads_ended()
    await asyncio.wait_for(waiting, 1)


async def test_an_assignment_reads_nothing_in_the_callback_and_holds_empty_partitions_whole(
    store: PartitionMemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store._offsets[tp(0)] = 99  # kept, up to its end
    started: list[Any] = []

    async def ends(self: PartitionMemoryStore, tps: Any) -> dict[TP, int]:
        return {tp(0): 100, tp(1): 0, tp(2): 50}

    def read_later(self: PartitionMemoryStore, reads: Mapping[TP, ChangelogRead]) -> Any:
        started.append(dict(reads))
        return _nothing()

    monkeypatch.setattr(PartitionMemoryStore, "_ends", ends)
    monkeypatch.setattr(PartitionMemoryStore, "_read", read_later)
    await store.defer_reads([tp(0), tp(1), tp(2)])

    # Only the newly assigned partition with records is read, later, up to where it
    # ended at the assignment; Faust's recovery starts after that.
    assert started == [{tp(2): ChangelogRead(start=None, last=49)}]
    assert [store.unread(p) for p in (0, 1, 2)] == [False, False, True]
    assert store.persisted_offset(tp(2)) == 49
    # The empty one is held from its start: the worker's writes to it move this on,
    # and the next rebalance knows what the store holds of it.
    assert store.persisted_offset(tp(1)) == -1
    store.set_persisted_offset(tp(1), 7)
    assert store.persisted_offset(tp(1)) == 7
    assert store.persisted_offset(tp(0)) == 99


async def _nothing() -> None:
    return None


async def test_an_assignment_of_kept_partitions_only_asks_the_broker_nothing(
    store: PartitionMemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store._offsets.update({tp(0): 99, tp(1): -1})

    async def ends(self: PartitionMemoryStore, tps: Any) -> dict[TP, int]:
        raise AssertionError("no end offsets needed: every partition is held")

    monkeypatch.setattr(PartitionMemoryStore, "_ends", ends)
    await store.defer_reads([tp(0), tp(1)])

    assert not store.reading
    assert (store.persisted_offset(tp(0)), store.persisted_offset(tp(1))) == (99, -1)
