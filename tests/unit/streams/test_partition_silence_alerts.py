"""A device that falls silent is warned about once at three days and made critical at
five, decided at the partition clock, with a status for each device that changed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.unit.factories import DAY, SECOND, T0, heartbeat, progress
from tests.unit.streams.test_partition_processor import (
    Log,
    Worker,
    alerts_of,
    every,
    partition_of,
    transitions,
)

P = partition_of(b"dev-1")
HOUR = timedelta(hours=1)


def test_a_silent_device_gets_one_connection_warning_at_three_days_and_a_critical_at_five() -> None:
    worker, log = Worker(), Log()
    envelopes = [log.record(heartbeat(T0))]
    for at in every(T0, T0 + 8 * DAY, HOUR):
        envelopes += log.tick(at, P)
    alerts = alerts_of(worker.run(envelopes, 50))
    assert transitions(alerts) == [("opened", T0 + 3 * DAY), ("escalated", T0 + 5 * DAY)]
    assert [a.to_state for a in alerts if a.kind == "connection"] == ["warning", "critical"]
    assert len({a.alert_id for a in alerts}) == len(alerts)


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        (T0 + 3 * DAY - SECOND, []),
        (T0 + 3 * DAY, [("opened", T0 + 3 * DAY)]),
        (T0 + 5 * DAY - SECOND, [("opened", T0 + 3 * DAY)]),
        (T0 + 5 * DAY, [("opened", T0 + 3 * DAY), ("escalated", T0 + 5 * DAY)]),
    ],
)
def test_silence_is_decided_when_the_clock_reaches_the_threshold(
    clock: datetime, expected: list[tuple[str, datetime]]
) -> None:
    worker, log = Worker(), Log()
    steps = sorted({T0, T0 + 3 * DAY, clock})
    envelopes = [log.record(heartbeat(T0))]
    for at in (t for t in steps if t <= clock):
        envelopes += log.tick(at, P)
    assert transitions(alerts_of(worker.run(envelopes, 1))) == expected


@pytest.mark.parametrize("late", [timedelta(0), 7 * timedelta(minutes=1), 13 * HOUR])
def test_alerts_carry_the_clock_that_decided_them(late: timedelta) -> None:
    # Ticks rarely fall on a threshold: the alert is decided at the first clock past it.
    worker, log = Worker(), Log()
    worker.process([log.record(heartbeat(T0))] + log.tick(T0, P))
    result = worker.process(log.tick(T0 + 3 * DAY + late, P))
    connection = [a for a in result.alerts if a.kind == "connection"]
    assert [(a.transition, a.decided_at) for a in connection] == [("opened", T0 + 3 * DAY + late)]
    assert connection[0].episode_start == T0
    assert connection[0].days_observed == round((3 * DAY + late) / DAY, 3)


def test_a_device_that_keeps_heartbeating_is_never_warned() -> None:
    worker, log = Worker(), Log()
    envelopes = []
    for at in every(T0, T0 + 8 * DAY, HOUR):
        envelopes += log.tick(at, P) + [log.record(heartbeat(at + timedelta(minutes=1)))]
    alerts = alerts_of(worker.run(envelopes, 100))
    assert transitions(alerts) == []


def test_statuses_are_sent_for_the_devices_that_changed_at_a_decision() -> None:
    worker, log = Worker(), Log()
    worker.process([log.record(heartbeat(T0, "dev-1")), log.record(heartbeat(T0, "dev-5"))])
    first = worker.process(log.tick(T0, P))
    assert sorted(s.device_id for s in first.statuses) == ["dev-1", "dev-5"]
    assert {s.stream_time for s in first.statuses} == {T0}

    # Only dev-5 heard from since: only dev-5 changes at the next decision.
    worker.process(
        log.tick(T0 + HOUR, P)
        + [log.record(heartbeat(T0 + HOUR, "dev-5")), log.record(progress(T0 + HOUR, "dev-5"))]
    )
    second = worker.process(log.tick(T0 + 2 * HOUR, P))
    assert [s.device_id for s in second.statuses] == ["dev-5"]
    assert second.statuses[0].last_heartbeat == T0 + HOUR

    # At three days dev-1 turns to warning; dev-5, heard from an hour later, is not due.
    third = worker.process(log.tick(T0 + 3 * DAY, P))
    assert [(s.device_id, s.alert_states["connection"]) for s in third.statuses] == [
        ("dev-1", "warning")
    ]
    assert third.statuses[0].stream_time == T0 + 3 * DAY
    assert worker.state("dev-1").connection.level == "warning"
