"""A worker that stops midway and is replaced by a new processor on the same store, then
reads on from a little before where it stopped, decides exactly what one uninterrupted
worker decides: the same alerts, the same stored states."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from schemas.codec import encode
from schemas.models import Alert
from streams.pipeline import Envelope
from tests.unit.factories import DAY, SECOND, T0, heartbeat
from tests.unit.streams.test_partition_processor import (
    Log,
    Worker,
    alerts_of,
    history,
    partition_of,
    transitions,
)

STEP = timedelta(minutes=20)
BATCH = 50
ENVELOPES = history(Log(), T0 + 6 * DAY + 12 * STEP, STEP)


def first_tick_of_round(at: timedelta, partition: int) -> int:
    """The index just after the first tick of `partition`'s round at T0 + `at`."""
    for i, envelope in enumerate(ENVELOPES):
        if envelope.tick and envelope.partition == partition and envelope.timestamp == T0 + at:
            return i + 1
    raise AssertionError(f"no tick at T0 + {at} on partition {partition}")


Outcome = tuple[list[Alert], dict[int, dict[str, bytes]]]


@pytest.fixture(scope="module")
def uninterrupted() -> Outcome:
    worker = Worker()
    alerts = alerts_of(worker.run(ENVELOPES, BATCH))
    assert {a.transition for a in alerts} >= {"opened", "escalated", "resolved"}
    return alerts, worker.store


SPLITS = {
    "early": len(ENVELOPES) // 5,
    "midway": len(ENVELOPES) // 2,
    "late": len(ENVELOPES) * 9 // 10 + 7,
    # Inside the round of ticks of a partition whose devices heartbeat right after it.
    "inside a round of ticks": first_tick_of_round(3 * DAY, partition_of(b"dev-6")),
    "at the first command": next(
        i + 1 for i, e in enumerate(ENVELOPES) if e.topic == 2 and not e.tick
    ),
}


@pytest.mark.parametrize("replayed", [0, 3, 40])
@pytest.mark.parametrize("split", SPLITS)
def test_a_restart_midway_decides_what_one_uninterrupted_run_decides(
    uninterrupted: Outcome, split: str, replayed: int
) -> None:
    alerts, store = uninterrupted
    at = SPLITS[split]
    worker = Worker()
    before = alerts_of(worker.run(ENVELOPES[:at], BATCH))
    worker.restart()
    after = alerts_of(worker.run(ENVELOPES[at - replayed :], BATCH))
    # The replayed records decide nothing again: not even a duplicate alert.
    assert Counter(a.alert_id for a in before + after) == Counter(a.alert_id for a in alerts)
    assert sorted(encode(a) for a in before + after) == sorted(encode(a) for a in alerts)
    assert worker.store == store


def test_a_restart_after_some_topics_ticked_decides_at_the_same_point_of_the_stream() -> None:
    # The worker stops after two topics' ticks of a step were read (and committed);
    # it must not wait for their next ticks while reading the telemetry after them.
    p = partition_of(b"dev-1")
    warn = T0 + 3 * DAY
    tick = 30 * SECOND
    log = Log()
    envelopes: list[Envelope] = [log.record(heartbeat(T0))] + log.tick(T0, p)
    envelopes += log.tick(warn - tick, p)
    envelopes += log.tick(warn, p, [0, 1])  # committed before the worker stopped
    stopped_at = len(envelopes)
    envelopes += log.tick(warn, p, [2])
    envelopes.append(log.record(heartbeat(warn + 10 * SECOND)))
    envelopes += log.tick(warn + tick, p) + log.tick(warn + 2 * tick, p)

    uninterrupted = alerts_of(Worker().run(envelopes, 1))
    assert transitions(uninterrupted) == [("opened", warn), ("resolved", warn + tick)]

    worker = Worker()
    restarted = alerts_of(worker.run(envelopes[:stopped_at], 1))
    worker.restart()
    restarted += alerts_of(worker.run(envelopes[stopped_at:], 1))
    assert transitions(restarted) == transitions(uninterrupted)
