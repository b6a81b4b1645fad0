"""Each fault leaves the traces the console's article describes, in the raw telemetry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest

from agents.simulator import Fleet, SimDevice, SimEvent
from schemas import BackupProgress, DeviceCommand, Heartbeat, InputRecord

START = datetime(2026, 11, 2, tzinfo=UTC)
FLEET = Fleet(40, seed=1, start=START, every_fault=True, fault_days=(0.5, 2.0))


@cache
def _events() -> list[SimEvent]:
    return list(FLEET.events_between(START, START + timedelta(days=8)))


def _device(fault: str) -> SimDevice:
    return next(d for d in FLEET.devices if d.fault == fault)


def _after(device: SimDevice) -> Iterator[InputRecord]:
    assert device.fault_at is not None
    for event in _events():
        if event.key == device.device_id and event.at >= device.fault_at:
            yield event.record


def _progress(device: SimDevice) -> list[BackupProgress]:
    return [r for r in _after(device) if isinstance(r, BackupProgress)]


def _heartbeats(device: SimDevice) -> list[Heartbeat]:
    return [r for r in _after(device) if isinstance(r, Heartbeat)]


def _commands(device: SimDevice) -> list[DeviceCommand]:
    return [r for r in _after(device) if isinstance(r, DeviceCommand)]


@pytest.mark.parametrize("fault", ["powered_off", "extended_leave", "left_org", "deactivated"])
def test_a_silent_device_sends_nothing_after_its_fault(fault: str) -> None:
    device = _device(fault)
    assert _heartbeats(device) == []
    assert _progress(device) == []


@pytest.mark.parametrize(
    ("fault", "action"),
    [
        ("extended_leave", "snooze"),
        ("left_org", "user_left_org"),
        ("deactivated", "deactivate"),
        ("replaced", "replaced"),
    ],
)
def test_admins_act_on_the_faults_that_call_for_it(fault: str, action: str) -> None:
    for device in FLEET.devices:
        if device.fault == fault:
            assert [c.action for c in _commands(device)] == [action]


def test_a_replaced_device_names_its_successor_which_carries_on() -> None:
    old = _device("replaced")
    (command,) = _commands(old)
    assert command.replaced_by == old.replaced_by
    successor = [e for e in _events() if e.key == old.replaced_by]
    assert successor and all(e.at >= old.fault_at for e in successor)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("fault", "state"), [("uninstalled", "uninstalling"), ("service_stopped", "stopping")]
)
def test_the_last_word_of_a_stopped_app_is_its_service_state(fault: str, state: str) -> None:
    device = _device(fault)
    beats = [
        e.record for e in _events() if e.key == device.device_id and isinstance(e.record, Heartbeat)
    ]
    assert beats[-1].service_state == state
    assert {b.service_state for b in beats[:-1]} == {"running"}
    assert _progress(device) == []


@pytest.mark.parametrize(
    ("fault", "error"), [("blocked_network", "blocked"), ("interfering_app", "local_interference")]
)
def test_an_unreachable_destination_shows_in_heartbeats_that_go_on(fault: str, error: str) -> None:
    device = _device(fault)
    beats = _heartbeats(device)
    assert len(beats) > 24
    assert all(b.reachable_destinations == () and b.connect_error == error for b in beats)
    assert _progress(device) == []


def test_a_paused_device_says_so_and_sends_nothing() -> None:
    device = _device("paused")
    assert all(b.backup_paused for b in _heartbeats(device))
    progress = _progress(device)
    assert progress and all(p.session_state == "paused" and p.bytes_sent == 0 for p in progress)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("locked_files", "locked"),
        ("temp_files_vanish", "vanished"),
        ("churning_files", "changed_during_backup"),
    ],
)
def test_file_errors_keep_data_flowing_short_of_100_percent(fault: str, error: str) -> None:
    progress = _progress(_device(fault))
    assert sum(p.bytes_sent for p in progress) > 0
    assert all(p.percent_complete < 100 for p in progress)
    assert all(getattr(p.file_errors, error) > 0 for p in progress)


def test_permission_denied_files_stop_new_data() -> None:
    progress = _progress(_device("permission_denied"))
    assert progress and all(p.bytes_sent == 0 for p in progress)
    assert all(p.file_errors.permission_denied > 0 for p in progress)


@pytest.mark.parametrize("fault", ["cpu_throttled", "network_throttled"])
def test_a_throttled_device_sends_but_never_catches_up(fault: str) -> None:
    device = _device(fault)
    progress = _progress(device)
    assert sum(p.bytes_sent for p in progress) > 0
    assert all(p.percent_complete < 100 for p in progress)
    if fault == "cpu_throttled":
        assert all(p.cpu_throttled for p in progress)
        assert all(b.cpu_limit_percent < 50 for b in _heartbeats(device))
    else:
        assert all(p.network_throttled for p in progress)
        assert all(b.network_limit_kbps is not None for b in _heartbeats(device))


def test_a_backup_set_too_large_needs_longer_than_a_session() -> None:
    progress = _progress(_device("backup_set_too_large"))
    ends = [p for p in progress if p.session_state != "sending"]
    sent_per_day = sum(p.bytes_sent for p in progress) / 6.0  # about 6 days after the fault
    for report in ends:
        eta_s = report.todo_bytes / sent_per_day * 86400
        assert eta_s > 4 * report.backup_interval_s
        assert report.percent_complete < 100
