"""A fleet whose users' leaves and departures are recorded for the user (a leave, a
deactivation on the user-facts topic) rather than as commands to each device: the
reference run decides each device of those users under its user's facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.simulator import USER_FACT_EXPECTATIONS, USER_FAULTS, Fleet, outcomes
from schemas import Alert

START = datetime(2026, 11, 2, tzinfo=UTC)
END = START + timedelta(days=30)
FLEET = Fleet(40, seed=1, start=START, every_fault=True, user_facts=True)
_ALERTS: list[Alert] = []


def _alerts() -> list[Alert]:
    if not _ALERTS:
        _ALERTS.extend(FLEET.expected_alerts(END))
    return _ALERTS


def test_each_user_with_a_user_fault_has_one_record_and_no_device_commands() -> None:
    records = FLEET.user_facts_records()
    faulty_users = {d.user_id for d in FLEET.devices if d.fault in USER_FAULTS}
    assert {record.user_id for _, record in records} == faulty_users
    for at, record in records:
        (period,) = record.periods
        assert period.start == at
    commands = [e.record for e in FLEET.events_between(START, END) if e.topic == "device-commands"]
    assert {c.device_id for c in commands}.isdisjoint(
        {d.device_id for d in FLEET.devices if d.fault in USER_FAULTS}
    )


@pytest.mark.parametrize("fault", sorted(USER_FAULTS))
def test_each_user_fault_reaches_its_expected_outcome(fault: str) -> None:
    expected = USER_FACT_EXPECTATIONS[fault]
    found = outcomes(_alerts())
    devices = [d for d in FLEET.devices if d.fault == fault]
    assert devices
    for device in devices:
        assert expected.mismatches(found.get(device.device_id)) == [], device


def test_a_leave_holds_back_the_escalation_until_it_ends() -> None:
    leaves = {r.user_id: r.periods[0] for _, r in FLEET.user_facts_records()}
    for device in (d for d in FLEET.devices if d.fault == "extended_leave"):
        leave = leaves[device.user_id]
        mine = [a for a in _alerts() if a.device_id == device.device_id]
        assert mine
        during = [a for a in mine if leave.start <= a.decided_at < leave.end]  # type: ignore[operator]
        assert during == []
        after = [a for a in mine if a.decided_at >= leave.end]  # type: ignore[operator]
        assert {(a.to_state, a.reason) for a in after} == {("critical", "leave_ended")}
