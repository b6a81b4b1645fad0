"""On the real broker, through a real worker and its API: a user's leave covers their
devices, one that first reports during it included, and they alert when it ends; a
user's deactivation resolves every device's alerts; a command sent before a device's
first telemetry is honoured, a worker restart in between."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from schemas.models import Alert
from tests.api_harness import TOKEN, call, until
from tests.unit.factories import DAY, T0, heartbeat, progress
from tests.worker_harness import Pipeline, WorkerRun

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)


async def _report(pipeline: Pipeline, devices: dict[str, str], at: datetime) -> None:
    """A heartbeat and a finished backup of each device (device -> user), then a tick."""
    records: list[Any] = []
    for device, user in devices.items():
        records += [heartbeat(at, device, user_id=user), progress(at, device, user_id=user)]
    await pipeline.send(records)
    await pipeline.tick(at + HOUR / 2)


async def _stream_time_reached(worker: WorkerRun, at: datetime) -> None:
    """Wait until the worker's report view has its clocks at `at` or later: the API
    takes an admin's action to hold from there."""

    def reached() -> bool:
        status, body, _ = call(worker, "/api/summary", token=TOKEN)
        if status != 200:  # the report reader is starting
            return False
        seen = body["view"]["stream_time"]
        return bool(seen and datetime.fromisoformat(seen) >= at)

    await until(reached, f"the report view to reach {at}")


async def _decided(worker: WorkerRun, at: datetime, partitions: int) -> None:
    """Wait until every partition's clock is at `at` or later (from /readyz)."""

    def reached() -> bool:
        try:
            clocks = worker.clocks()
        except OSError:
            return False
        return len(clocks) == partitions and all(
            c is not None and datetime.fromisoformat(c) >= at for c in clocks.values()
        )

    await until(reached, f"every partition's clock to reach {at}")


def _of(alerts: list[Alert], *devices: str) -> list[tuple[str, str, str, str]]:
    return sorted(
        (a.device_id, a.kind, a.to_state, a.reason) for a in alerts if a.device_id in devices
    )


async def test_a_users_leave_covers_every_device_of_theirs_and_alerts_resume_after_it(
    pipeline: Pipeline,
) -> None:
    worker = pipeline.worker(api_token=TOKEN)
    worker.start()
    worker.wait_ready()
    # dev-a and dev-b (user-l) and dev-x (another user) report hourly for a day.
    for h in range(24):
        await _report(
            pipeline, {"dev-a": "user-l", "dev-b": "user-l", "dev-x": "user-x"}, T0 + h * HOUR
        )
    start = T0 + 23 * HOUR + HOUR / 2
    await _stream_time_reached(worker, start)
    until_at = T0 + 12 * DAY
    status, answer, _ = call(
        worker,
        "/api/users/user-l/leave",
        method="POST",
        body={"until": until_at.isoformat(), "reason": "parental leave"},
        token=TOKEN,
    )
    assert status == 202, answer
    assert answer["effective_at"] == start.isoformat()
    # dev-c, user-l's new laptop, first reports during the leave, then is silent too.
    await pipeline.send([heartbeat(T0 + 2 * DAY, "dev-c", user_id="user-l")])
    for day in range(2, 12):
        await pipeline.tick(T0 + day * DAY)
    await _decided(worker, T0 + 11 * DAY, pipeline.settings.partitions)
    during = await pipeline.alerts()
    assert _of(during, "dev-a", "dev-b", "dev-c") == [], during
    # dev-x has no leave: it alerts all along.
    assert ("dev-x", "connection", "critical", "threshold") in _of(during, "dev-x")

    def on_leave() -> Any:
        status, body, _ = call(worker, "/api/users/user-l", token=TOKEN)
        rows = {row["device_id"]: row for row in body.get("device_list", [])}
        if status != 200 or set(rows) != {"dev-a", "dev-b", "dev-c"}:
            return None
        holds = {row["hold"]["text"] if row["hold"] else None for row in rows.values()}
        return body if holds == {f"on leave until {until_at.date()}, by user"} else None

    page = await until(on_leave, "user-l's devices to show the leave")
    assert page["facts"]["hold"]["reason"] == "parental leave"

    await pipeline.tick(T0 + 12 * DAY)
    ended = await pipeline.wait_for_alerts(
        lambda alerts: len(_of(alerts, "dev-a", "dev-b", "dev-c")) == 6,
        what="the three devices' connection and backup alerts at the leave's end",
    )
    assert _of(ended, "dev-a", "dev-b", "dev-c") == sorted(
        (device, kind, "critical", "leave_ended")
        for device in ("dev-a", "dev-b", "dev-c")
        for kind in ("backup", "connection")
    )
    assert {a.decided_at for a in ended if a.reason == "leave_ended"} == {T0 + 12 * DAY}


async def test_a_deactivated_user_has_every_devices_alerts_resolved(pipeline: Pipeline) -> None:
    worker = pipeline.worker(api_token=TOKEN)
    worker.start()
    worker.wait_ready()
    await _report(pipeline, {"dev-d": "user-d", "dev-e": "user-d", "dev-f": "user-d"}, T0)
    # dev-f keeps reporting: it never alerts; dev-d and dev-e fall silent.
    for day in range(1, 5):
        await _report(pipeline, {"dev-f": "user-d"}, T0 + day * DAY)
    opened = await pipeline.wait_for_alerts(
        lambda alerts: len(_of(alerts, "dev-d", "dev-e")) == 4,
        what="the warnings of the silent devices",
    )
    assert {a.to_state for a in opened} == {"warning"}
    await _stream_time_reached(worker, T0 + 4 * DAY + HOUR / 2)

    status, answer, _ = call(
        worker,
        "/api/users/user-d/deactivate",
        method="POST",
        body={"reason": "left the organization"},
        token=TOKEN,
    )
    assert status == 202, answer
    await pipeline.tick(T0 + 4 * DAY + HOUR)
    resolved = await pipeline.wait_for_alerts(
        lambda alerts: len(_of(alerts, "dev-d", "dev-e")) == 8,
        what="every open alert of user-d's devices resolved",
    )
    closing = [a for a in resolved if a.to_state == "ok"]
    assert {(a.device_id, a.kind, a.reason) for a in closing} == {
        (device, kind, "user_deactivated")
        for device in ("dev-d", "dev-e")
        for kind in ("backup", "connection")
    }
    # And nothing more, however long the silence.
    for day in (6, 10, 20):
        await pipeline.tick(T0 + day * DAY)
    await _decided(worker, T0 + 20 * DAY, pipeline.settings.partitions)
    assert len(_of(await pipeline.alerts(), "dev-d", "dev-e", "dev-f")) == 8
    # A second deactivation contradicts the facts.
    status, answer, _ = call(worker, "/api/users/user-d/deactivate", method="POST", token=TOKEN)
    assert status == 409, answer


async def test_commands_sent_before_a_devices_first_report_are_honoured_after_a_restart(
    pipeline: Pipeline,
) -> None:
    worker = pipeline.worker(api_token=TOKEN, store="rocksdb://")
    worker.start()
    worker.wait_ready()
    await _report(pipeline, {"dev-0": "user-0"}, T0)
    await _stream_time_reached(worker, T0 + HOUR / 2)
    for device, action, body in (
        ("dev-new-1", "deactivate", {"reason": "from the inventory list"}),
        ("dev-new-2", "snooze", {"until": (T0 + 9 * DAY).isoformat()}),
    ):
        status, answer, _ = call(
            worker, f"/api/devices/{device}/{action}", method="POST", body=body, token=TOKEN
        )
        assert status == 202, answer
        assert answer["held"] is True
    await pipeline.tick(T0 + HOUR)

    def known() -> bool:
        status, body, _ = call(worker, "/api/devices/dev-new-1", token=TOKEN)
        return status == 200 and body.get("status") == "known, not yet reporting"

    await until(known, "dev-new-1 to read as known, not yet reporting")
    worker.stop()
    worker.start()
    worker.wait_ready(timeout=120)

    # Their first reports, then silence: dev-new-1 never alerts (deactivated), dev-new-2
    # not before its snooze ends on day 9.
    await _report(pipeline, {"dev-new-1": "user-1", "dev-new-2": "user-2"}, T0 + DAY)
    for day in range(2, 9):
        await pipeline.tick(T0 + day * DAY)
    await _decided(worker, T0 + 8 * DAY, pipeline.settings.partitions)
    assert _of(await pipeline.alerts(), "dev-new-1", "dev-new-2") == []
    status, device, _ = call(worker, "/api/devices/dev-new-1", token=TOKEN)
    assert status == 200 and device["deactivated"] is True and device["user_id"] == "user-1"

    await pipeline.tick(T0 + 9 * DAY)
    alerts = await pipeline.wait_for_alerts(
        lambda alerts: len(_of(alerts, "dev-new-2")) == 2,
        what="dev-new-2's alerts when its snooze ends",
    )
    assert _of(alerts, "dev-new-1", "dev-new-2") == [
        ("dev-new-2", "backup", "critical", "snooze_ended"),
        ("dev-new-2", "connection", "critical", "snooze_ended"),
    ]
    dead = await pipeline.dead_letters(settle=0.5)
    assert dead == []
