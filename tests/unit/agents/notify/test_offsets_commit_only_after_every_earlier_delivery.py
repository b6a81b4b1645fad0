"""Offsets: committable only up to the first record with a delivery still open."""

from __future__ import annotations

from agents.notify.offsets import OffsetTracker


def test_a_later_record_done_first_does_not_move_the_commit_past_an_open_one() -> None:
    tracker = OffsetTracker()
    tracker.add(0, 10, 2)  # email + webhook
    tracker.add(0, 11, 1)
    tracker.finish(0, 11)
    tracker.finish(0, 10)
    assert tracker.to_commit() == {}
    tracker.finish(0, 10)
    assert tracker.to_commit() == {0: 12}


def test_records_without_deliveries_commit_at_once() -> None:
    tracker = OffsetTracker()
    tracker.add(3, 0, 0)
    assert tracker.to_commit() == {3: 1}


def test_partitions_are_independent() -> None:
    tracker = OffsetTracker()
    tracker.add(0, 5, 1)
    tracker.add(1, 7, 1)
    tracker.finish(1, 7)
    assert tracker.to_commit() == {1: 8}
    assert tracker.open_records() == 1


def test_a_committed_position_is_not_offered_again() -> None:
    tracker = OffsetTracker()
    tracker.add(0, 0, 1)
    tracker.finish(0, 0)
    tracker.committed(tracker.to_commit())
    assert tracker.to_commit() == {}
    tracker.add(0, 1, 1)
    tracker.finish(0, 1)
    assert tracker.to_commit() == {0: 2}


def test_a_delivery_finishing_after_its_partition_was_revoked_counts_for_nothing() -> None:
    tracker = OffsetTracker()
    tracker.add(0, 4, 1)
    old_epoch = tracker.epoch(0)
    tracker.revoke({0})
    # Assigned again: the record is read again from the last commit.
    tracker.add(0, 4, 1)
    tracker.finish(0, 4, old_epoch)
    assert tracker.to_commit() == {}
    tracker.finish(0, 4, tracker.epoch(0))
    assert tracker.to_commit() == {0: 5}
