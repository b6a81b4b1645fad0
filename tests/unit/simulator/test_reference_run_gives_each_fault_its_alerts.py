"""The ground truth: what the pure core decides for each injected fault over 30 days.

The reference run reads the fleet's events with ticks every 5 simulated minutes, as a
worker reads one partition; the end-to-end tests hold the Kafka pipeline to it. Here
it is held to `EXPECTATIONS`, what each fault should lead to under the default policy.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from agents.simulator import (
    EXPECTATIONS,
    FAULTS,
    HEALTHY,
    Fleet,
    Outcome,
    SimDevice,
    outcomes,
    reference_run,
    tick_times,
)
from schemas import Alert

START = datetime(2026, 11, 2, tzinfo=UTC)
DAYS = 30
FLEET = Fleet(40, seed=1, start=START, every_fault=True)
_ALERTS: list[Alert] = []


def _alerts() -> list[Alert]:
    if not _ALERTS:
        _ALERTS.extend(FLEET.expected_alerts(START + timedelta(days=DAYS)))
    return _ALERTS


def _outcomes(fault: str) -> list[tuple[SimDevice, Outcome | None]]:
    found = outcomes(_alerts())
    pairs = [(d, found.get(d.device_id)) for d in FLEET.devices if d.fault == fault]
    assert pairs, f"no device has {fault}"
    return pairs


# The core names no cause for the backup *warning* of a device that just went silent:
# `streams.diagnosis._backup_causes` yields `no_connection` (and the device-wide
# connection causes) only once the destination's `last_connected` is older than the
# backup warning threshold, but freshness is measured from the last new data, which
# comes before the last contact (the heartbeats after the last session keep touching
# the destination). At the warning the destination was reached less than 3 days ago,
# no transfer cause applies either, and the diagnosis is `undetermined`. The faults
# whose backup alert stops at warning show it in their expected top cause.
BACKUP_WARNING_GAP = pytest.mark.xfail(
    strict=True,
    reason="core: a silent device's backup warning is diagnosed `undetermined`, "
    "not `no_connection` (see BACKUP_WARNING_GAP)",
)


def test_healthy_devices_never_alert() -> None:
    found = outcomes(_alerts())
    for device in FLEET.devices:
        if device.fault == HEALTHY:
            assert device.device_id not in found, (device, found.get(device.device_id))


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_reaches_its_expected_levels(fault: str) -> None:
    expected = EXPECTATIONS[fault]
    for device, outcome in _outcomes(fault):
        assert outcome is not None, f"{device.device_id} ({fault}) never alerted"
        assert outcome.worst == dict(expected.worst), device


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        pytest.param(
            fault,
            kind,
            marks=[BACKUP_WARNING_GAP]
            if (fault, kind) in {("extended_leave", "backup"), ("deactivated", "backup")}
            else [],
        )
        for fault in FAULTS
        for kind in sorted(EXPECTATIONS[fault].top_cause)
    ],
)
def test_each_fault_names_its_top_cause(fault: str, kind: str) -> None:
    expected = EXPECTATIONS[fault].top_cause[kind]
    for device, outcome in _outcomes(fault):
        assert outcome is not None
        assert outcome.top_cause.get(kind) == expected, (device.device_id, outcome)


def test_deactivation_resolves_every_open_alert_and_then_nothing() -> None:
    for device, outcome in _outcomes("deactivated"):
        assert outcome is not None
        assert set(outcome.final.values()) == {"ok"}
        assert outcome.resolved_by == {"deactivated"}
        mine = [a for a in _alerts() if a.device_id == device.device_id]
        resolved = [a for a in mine if a.reason == "deactivated"]
        assert {a.decided_at for a in resolved} == {max(a.decided_at for a in mine)}


def test_an_extended_leave_is_snoozed_before_anything_escalates() -> None:
    for device, outcome in _outcomes("extended_leave"):
        assert outcome is not None, device
        assert set(outcome.worst.values()) == {"warning"}
        assert set(outcome.final.values()) == {"warning"}  # held, not resolved, while away


@BACKUP_WARNING_GAP
def test_the_backup_warning_of_a_silent_device_names_the_lost_connection() -> None:
    silent = {"powered_off", "left_org", "replaced", "uninstalled", "service_stopped"}
    tops = Counter(
        alert.diagnosis[0].code
        for alert in _alerts()
        if alert.kind == "backup"
        and alert.to_state == "warning"
        and FLEET.device(alert.device_id).fault in silent
    )
    assert set(tops) <= {
        "no_connection",
        "left_organization",
        "replaced_by_newer_device",
        "app_uninstalled_or_service_stopped",
    }, tops


def test_alert_ids_are_unique() -> None:
    ids = Counter(a.alert_id for a in _alerts())
    assert [i for i, n in ids.items() if n > 1] == []


def test_the_run_does_not_depend_on_how_the_events_are_cut() -> None:
    # The same events read in one go or as two windows give the same alerts.
    end = START + timedelta(days=7)
    cut = START + timedelta(days=4, hours=3, minutes=7)
    events = list(FLEET.events_between(START, cut)) + list(FLEET.events_between(cut, end))
    ticks = tick_times(START, end, timedelta(minutes=5))
    whole = [a.alert_id for a in FLEET.expected_alerts(end)]
    assert whole, "the first week should already have alerts"
    assert [a.alert_id for a in reference_run(events, ticks)] == whole
