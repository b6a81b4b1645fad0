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
    [(fault, kind) for fault in FAULTS for kind in sorted(EXPECTATIONS[fault].top_cause)],
)
def test_each_fault_names_its_top_cause_from_warning_to_critical(fault: str, kind: str) -> None:
    expected = EXPECTATIONS[fault].top_cause[kind]
    for device, outcome in _outcomes(fault):
        assert outcome is not None
        assert outcome.top_cause.get(kind) == expected, (device.device_id, outcome)
        tops = {
            alert.diagnosis[0].code
            for alert in _alerts()
            if alert.device_id == device.device_id and alert.kind == kind and alert.to_state != "ok"
        }
        assert tops == {expected}, (device.device_id, kind, tops)


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
