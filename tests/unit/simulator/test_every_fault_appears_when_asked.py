"""`every_fault` places each fault at least once; otherwise `fault_share` sets the mix."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.simulator import EXPECTATIONS, FAULTS, HEALTHY, USER_FAULTS, Fleet
from streams.diagnosis import CAUSES

START = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.mark.parametrize("seed", range(5))
def test_every_fault_appears_at_least_once(seed: int) -> None:
    fleet = Fleet(30, seed=seed, start=START, every_fault=True)
    assert set(FAULTS) <= {d.fault for d in fleet.devices}


def test_a_fleet_smaller_than_the_fault_list_cannot_hold_every_fault() -> None:
    with pytest.raises(ValueError, match="at least"):
        Fleet(len(FAULTS) - 1, seed=1, start=START, every_fault=True)


def test_no_fault_share_means_a_healthy_fleet() -> None:
    fleet = Fleet(200, seed=1, start=START, fault_share=0.0)
    assert {d.fault for d in fleet.devices} == {HEALTHY}


def test_the_fault_share_sets_the_share_of_faulty_devices() -> None:
    fleet = Fleet(3000, seed=1, start=START, fault_share=0.3)
    # Replacement devices are extra (and healthy): count the fleet as it was built.
    built = [d for d in fleet.devices if d.replaces is None]
    faulty = sum(d.fault != HEALTHY for d in built)
    assert len(built) == 3000
    assert 0.25 < faulty / len(built) < 0.35
    assert set(FAULTS) <= {d.fault for d in built}


def test_a_user_fault_hits_every_device_of_the_user_at_once() -> None:
    fleet = Fleet(400, seed=4, start=START, fault_share=0.5)
    by_user: dict[str, set[tuple[str, datetime | None]]] = {}
    for device in fleet.devices:
        if device.replaces is None:
            by_user.setdefault(device.user_id, set()).add((device.fault, device.fault_at))
    for user, faults in by_user.items():
        if any(fault in USER_FAULTS for fault, _ in faults):
            assert len(faults) == 1, f"{user} has a user fault on only some devices: {faults}"


def test_faults_start_within_the_fault_days() -> None:
    fleet = Fleet(200, seed=9, start=START, fault_days=(2.0, 3.0))
    for device in fleet.devices:
        if device.fault == HEALTHY:
            assert device.fault_at is None
        else:
            assert device.fault_at is not None
            assert 2.0 <= (device.fault_at - START).total_seconds() / 86400 <= 3.0


def test_the_faults_cover_every_cause_of_the_diagnosis() -> None:
    # Every cause the core can name is the expected top cause of some fault, except
    # the fallback for when none stands out, and `no_connection`: it comes first only
    # when one destination is out of reach while the device reaches others, which no
    # fault simulates (a silent device is diagnosed by why it is silent).
    named = {cause for e in EXPECTATIONS.values() for cause in e.top_cause.values()}
    assert named == set(CAUSES) - {"undetermined", "no_connection"}
    assert set(EXPECTATIONS) == {HEALTHY, *FAULTS}
