"""Users have one to three devices, all in the user's org; devices look like a fleet."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from agents.simulator import MINIMUM_APP_VERSION, Fleet
from schemas import DeviceCommand
from streams.policy import parse_version

START = datetime(2026, 11, 2, tzinfo=UTC)


def test_the_devices_of_a_user_share_user_id_and_org() -> None:
    fleet = Fleet(300, seed=2, start=START)
    orgs_of_user: dict[str, set[str]] = defaultdict(set)
    built: dict[str, int] = defaultdict(int)
    for device in fleet.devices:
        orgs_of_user[device.user_id].add(device.org_id)
        if device.replaces is None:
            built[device.user_id] += 1
    assert all(len(orgs) == 1 for orgs in orgs_of_user.values())
    assert set(built.values()) == {1, 2, 3}
    assert len({d.org_id for d in fleet.devices}) == 4


def test_records_carry_their_device_user_and_org() -> None:
    fleet = Fleet(40, seed=3, start=START, every_fault=True, fault_days=(0.2, 1.0))
    for event in fleet.events_between(START, START + timedelta(days=3)):
        device = fleet.device(event.key)
        record = event.record
        if not isinstance(record, DeviceCommand):
            assert (record.user_id, record.org_id) == (device.user_id, device.org_id)


def test_devices_have_hostnames_destinations_and_some_old_app_versions() -> None:
    fleet = Fleet(300, seed=2, start=START)
    for device in fleet.devices:
        assert re.fullmatch(r"(laptop|desktop|mbp|imac|ws)-\d{4,}", device.hostname)
        assert 1 <= len(device.destinations) <= 2
        assert all(
            d in ("cloud-eu", "cloud-us", f"nas-{device.org_id}") for d in device.destinations
        )
    minimum = parse_version(MINIMUM_APP_VERSION)
    outdated = [d for d in fleet.devices if parse_version(d.app_version) < minimum]
    assert 0 < len(outdated) < len(fleet.devices) / 3


def test_a_replaced_device_is_followed_by_a_new_device_of_the_same_user() -> None:
    fleet = Fleet(40, seed=1, start=START, every_fault=True)
    (old,) = [d for d in fleet.devices if d.fault == "replaced"][:1]
    assert old.replaced_by is not None
    new = fleet.device(old.replaced_by)
    assert new.replaces == old.device_id
    assert (new.user_id, new.org_id) == (old.user_id, old.org_id)
    assert old.fault_at is not None and new.active_from > old.fault_at
