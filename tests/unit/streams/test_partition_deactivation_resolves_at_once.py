"""A deactivation resolves the device's open alerts in the batch that carries it, at the
partition clock, without waiting for a tick, and the device is not decided again."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.factories import DAY, T0, command, heartbeat, progress
from tests.unit.streams.test_partition_processor import Log, Worker, partition_of

P = partition_of(b"dev-1")


def test_a_deactivation_resolves_the_open_alerts_in_its_own_batch() -> None:
    worker, log = Worker(), Log()
    worker.process([log.record(heartbeat(T0)), log.record(progress(T0))] + log.tick(T0, P))
    opened = worker.process(log.tick(T0 + 5 * DAY, P)).alerts
    assert sorted((a.kind, a.to_state) for a in opened) == [
        ("backup", "warning"),
        ("connection", "critical"),
    ]

    deactivation = log.record(command("deactivate", T0 + 5 * DAY + timedelta(minutes=1)))
    result = worker.process([deactivation])
    assert result.ticks == []
    assert sorted((a.kind, a.transition, a.reason) for a in result.alerts) == [
        ("backup", "resolved", "deactivated"),
        ("connection", "resolved", "deactivated"),
    ]
    # Decided at the partition clock, as the alerts they close.
    assert {a.decided_at for a in result.alerts} == {T0 + 5 * DAY}
    # They close the episodes that were opened.
    assert {(a.kind, a.episode_start) for a in result.alerts} == {
        (a.kind, a.episode_start) for a in opened
    }
    assert [(s.device_id, s.deactivated, s.worst_state) for s in result.statuses] == [
        ("dev-1", True, "ok")
    ]
    state = worker.state("dev-1")
    assert state.deactivated
    assert state.connection.level == "ok"

    later = worker.process(log.tick(T0 + 30 * DAY, P))
    assert (later.alerts, later.statuses) == ([], [])


def test_a_deactivation_of_a_device_without_alerts_sends_no_alert() -> None:
    worker, log = Worker(), Log()
    worker.process([log.record(heartbeat(T0))] + log.tick(T0 + DAY, P))
    result = worker.process([log.record(command("deactivate", T0 + DAY))])
    assert result.outcomes == {(2, "accepted"): 1}
    assert result.alerts == []
    assert worker.state("dev-1").deactivated
