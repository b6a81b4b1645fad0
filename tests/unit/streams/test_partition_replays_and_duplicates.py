"""Records read again at their own offsets change nothing ("replayed"); the same event
written again at a new offset changes nothing either ("duplicate")."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from schemas.models import InputRecord
from streams.pipeline import Envelope
from tests.unit.factories import DAY, T0, command, heartbeat, progress
from tests.unit.streams.test_partition_processor import Log, Worker, every, partition_of

P = partition_of(b"dev-1")
HOUR = timedelta(hours=1)


def history(log: Log) -> list[Envelope]:
    """Three days of one device on partition P: silence, alerts, a snooze, recovery."""
    envelopes = [log.record(heartbeat(T0)), log.record(progress(T0))]
    for at in every(T0, T0 + 4 * DAY, 6 * HOUR):
        envelopes += log.tick(at, P)
    envelopes.append(log.record(command("snooze", T0 + 4 * DAY, snooze_until=T0 + 5 * DAY)))
    envelopes += [log.record(heartbeat(T0 + 4 * DAY)), log.record(progress(T0 + 4 * DAY))]
    envelopes += log.tick(T0 + 4 * DAY + HOUR, P)
    return envelopes


@pytest.mark.parametrize("rebalance", [False, True], ids=["same processor", "new processor"])
def test_reprocessing_records_whose_writes_are_stored_changes_nothing(rebalance: bool) -> None:
    worker, log = Worker(), Log()
    envelopes = history(log)
    first = worker.run(envelopes, 7)
    assert any(result.alerts for result in first)
    stored = {p: dict(data) for p, data in worker.store.items()}
    if rebalance:
        worker.restart()
    again = worker.run(envelopes, 7)
    assert [result.alerts for result in again] == [[] for _ in again]
    assert [result.statuses for result in again] == [[] for _ in again]
    assert all(result.writes == {} for result in again)
    assert worker.store == stored
    outcomes = sum((result.outcomes for result in again), Counter())
    assert outcomes == Counter((e.topic, "tick" if e.tick else "replayed") for e in envelopes)
    assert outcomes[(0, "replayed")] == 2
    assert outcomes[(2, "replayed")] == 1


@pytest.mark.parametrize(
    "event",
    [
        heartbeat(T0 + HOUR),
        progress(T0 + HOUR),
        command("snooze", T0 + HOUR, snooze_until=T0 + DAY),
    ],
    ids=["heartbeat", "progress", "command"],
)
def test_the_same_event_at_a_new_offset_is_a_duplicate(event: InputRecord) -> None:
    worker, log = Worker(), Log()
    worker.process([log.record(heartbeat(T0))] + log.tick(T0 + HOUR, P))
    original = log.record(event)
    assert worker.process([original]).outcomes == {(original.topic, "accepted"): 1}
    stored = dict(worker.store[P])
    copy = log.record(event)
    assert copy.offset > original.offset
    result = worker.process([copy])
    assert result.outcomes == {(copy.topic, "duplicate"): 1}
    assert (result.writes, result.alerts, result.statuses) == ({}, [], [])
    assert worker.store[P] == stored


def test_a_duplicate_within_one_batch_is_recognized_too() -> None:
    worker, log = Worker(), Log()
    event = heartbeat(T0)
    result = worker.process([log.record(event), log.record(progress(T0)), log.record(event)])
    assert result.outcomes == {(0, "accepted"): 1, (1, "accepted"): 1, (0, "duplicate"): 1}
    assert [b.heartbeats for b in worker.state("dev-1").days] == [1]
