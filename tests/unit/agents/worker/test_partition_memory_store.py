"""The `memory://` store's own rules, without a broker (its bulk read of a changelog is
tested against the broker in tests/integration)."""

from __future__ import annotations

import weakref
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.streams import _current_event
from faust.types import TP, Message

from agents.worker.store import PartitionMemoryStore

CHANGELOG = "app-device-state-changelog"


@pytest.fixture
def store() -> PartitionMemoryStore:
    app = faust.App("store-test", broker="kafka://127.0.0.1:1")
    return PartitionMemoryStore("memory://", app, None, table_name="device-state")  # type: ignore[arg-type]


def changelog_record(partition: int, offset: int, key: bytes, value: bytes | None) -> Any:
    """What Faust's recovery hands a store: an event carrying the changelog message."""
    message = Message(CHANGELOG, partition, offset, 0.0, 0, {}, key, value, None)
    return SimpleNamespace(message=message)


def test_faust_recovery_batches_go_to_their_partition_and_tombstones_delete(
    store: PartitionMemoryStore,
) -> None:
    store.apply_changelog_batch(
        [
            changelog_record(0, 0, b"dev-1", b"v1"),
            changelog_record(1, 0, b"dev-1", b"on partition 1"),
            changelog_record(0, 1, b"dev-2", b"v1"),
            changelog_record(0, 2, b"dev-1", b"v2"),
            changelog_record(0, 3, b"dev-2", None),
        ],
        to_key=lambda k: k,
        to_value=lambda v: v,
    )

    assert store.partition(0) == {b"dev-1": b"v2"}
    assert store.partition(1) == {b"dev-1": b"on partition 1"}
    assert store.persisted_offset(TP(CHANGELOG, 0)) == 3
    assert store.persisted_offset(TP(CHANGELOG, 1)) == 0


def test_an_acked_write_moves_the_persisted_offset_only_of_a_partition_held_from_its_start(
    store: PartitionMemoryStore,
) -> None:
    held, never_read = TP(CHANGELOG, 0), TP(CHANGELOG, 1)
    store.apply_changelog_batch([changelog_record(0, 4, b"dev-1", b"v1")], lambda k: k, lambda v: v)

    store.set_persisted_offset(held, 9)
    store.set_persisted_offset(held, 7)  # an older batch acked late moves nothing back
    # A partition revoked before its write was acked (or never read) is not held: an
    # offset recorded for it would make Faust skip reading it when it comes back.
    store.set_persisted_offset(never_read, 9)

    assert store.persisted_offset(held) == 9
    assert store.persisted_offset(never_read) is None


class _EventOn:
    """What a store reads of Faust's current event: `.message.partition`."""

    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(partition=partition)


def test_faust_reads_and_writes_pick_the_current_events_partition(
    store: PartitionMemoryStore,
) -> None:
    store.partition(0)[b"dev-1"] = b"on 0"
    store.partition(1)[b"dev-1"] = b"on 1"
    event: Any = _EventOn(1)
    token = _current_event.set(weakref.ref(event))
    try:
        assert store._get(b"dev-1") == b"on 1"
        store._set(b"dev-2", b"written on 1")
    finally:
        _current_event.reset(token)

    assert store.partition(1)[b"dev-2"] == b"written on 1"
    assert b"dev-2" not in store.partition(0)
    with pytest.raises(RuntimeError, match="outside of an event"):
        store._set(b"dev-3", b"nowhere")
