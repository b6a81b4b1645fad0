"""After `user_facts_changed(user)`, each partition's next clock step decides the
user's devices under the facts that hold at its clock — devices that a deactivation
left with no deadline included; and a command before a device's first report is kept
in its partition, across a restart, until the device reports."""

from __future__ import annotations

from datetime import timedelta

from streams import timeline_from_record
from streams.users import deactivate_user, put_on_leave, reactivate_user
from tests.unit.factories import DAY, T0, command, heartbeat, progress
from tests.unit.streams.test_partition_processor import Log, Worker, partition_of

STEP = timedelta(minutes=5)
EDIT = T0 + 100 * DAY
# dev-1 and dev-5 share a partition; dev-2 is on another.
P = partition_of(b"dev-1")
assert partition_of(b"dev-5") == P and partition_of(b"dev-2") != P


def _fleet() -> tuple[Worker, Log]:
    """dev-1 and dev-2 of user-1, dev-5 of user-2, all silent since T0."""
    worker, log = Worker(), Log()
    batch = []
    for device, user in (("dev-1", "user-1"), ("dev-2", "user-1"), ("dev-5", "user-2")):
        batch += [
            log.record(heartbeat(T0, device, user_id=user)),
            log.record(progress(T0, device, user_id=user)),
        ]
    worker.process(batch + log.ticks(T0))
    return worker, log


def _alerts(result):  # type: ignore[no-untyped-def]
    return sorted((a.device_id, a.kind, a.to_state, a.reason) for a in result.alerts)


def test_a_user_deactivated_resolves_every_device_of_theirs_and_reactivated_reopens() -> None:
    worker, log = _fleet()
    result = worker.process(log.ticks(T0 + 6 * DAY))
    assert {a.device_id for a in result.alerts} == {"dev-1", "dev-2", "dev-5"}

    gone = deactivate_user(None, "user-1", at=T0 + 6 * DAY, reason="left", updated_at=EDIT)
    worker.users["user-1"] = timeline_from_record(gone)
    worker.processor.user_facts_changed("user-1")
    result = worker.process(log.ticks(T0 + 6 * DAY + STEP))
    assert {(a.device_id, a.to_state, a.reason) for a in result.alerts} == {
        ("dev-1", "ok", "user_deactivated"),
        ("dev-2", "ok", "user_deactivated"),
    }
    assert len(result.alerts) == 4  # connection and backup of each
    assert worker.state("dev-1").user_hold is not None
    # Nothing more while the user is gone, however long (dev-5, user-2's, goes on).
    later = worker.process(log.ticks(T0 + 30 * DAY)).alerts
    assert {a.device_id for a in later} == {"dev-5"}

    # A restart in between: the held devices are found again from the table.
    worker.restart()
    back = reactivate_user(gone, "user-1", at=T0 + 30 * DAY, updated_at=EDIT + DAY)
    worker.users["user-1"] = timeline_from_record(back)
    worker.processor.ensure(P)
    worker.processor.ensure(partition_of(b"dev-2"))
    worker.processor.user_facts_changed("user-1")
    result = worker.process(log.ticks(T0 + 30 * DAY + STEP))
    assert {(a.device_id, a.to_state) for a in result.alerts} == {
        ("dev-1", "critical"),
        ("dev-2", "critical"),
    }


def test_a_leave_reaches_a_device_that_first_reports_during_it() -> None:
    worker, log = _fleet()
    leave = put_on_leave(
        None, "user-1", at=T0 + DAY, until=T0 + 10 * DAY, reason="parental", updated_at=EDIT
    )
    worker.users["user-1"] = timeline_from_record(leave)
    worker.processor.user_facts_changed("user-1")
    worker.process(log.ticks(T0 + DAY))
    # dev-9 (user-1's new laptop) first reports on day 2, then is silent.
    worker.process([log.record(heartbeat(T0 + 2 * DAY, "dev-9", user_id="user-1"))])
    quiet = [worker.process(log.ticks(T0 + n * DAY)) for n in range(2, 10)]
    assert {a.device_id for r in quiet for a in r.alerts} == {"dev-5"}
    assert worker.state("dev-9").user_hold is not None
    result = worker.process(log.ticks(T0 + 10 * DAY))
    ended = {(a.device_id, a.kind, a.to_state, a.reason) for a in result.alerts}
    assert ("dev-9", "connection", "critical", "leave_ended") in ended
    assert ("dev-1", "connection", "critical", "leave_ended") in ended
    assert ("dev-2", "backup", "critical", "leave_ended") in ended


def test_a_command_before_the_first_report_is_kept_across_a_restart() -> None:
    worker, log = _fleet()
    sent = worker.process([log.record(command("deactivate", T0 + DAY, "dev-13"))])
    assert sent.outcomes[(2, "accepted")] == 1 and not sent.dead_letters
    assert worker.processor.device_counts()[("connection", "ok")] == 3
    worker.restart()
    worker.processor.ensure(partition_of(b"dev-13"))
    worker.process([log.record(heartbeat(T0 + 2 * DAY, "dev-13"))] + log.ticks(T0 + 2 * DAY))
    assert worker.state("dev-13").deactivated and worker.state("dev-13").reporting
    results = [worker.process(log.ticks(T0 + n * DAY)) for n in (3, 6, 9, 20)]
    assert [a for r in results for a in r.alerts if a.device_id == "dev-13"] == []
