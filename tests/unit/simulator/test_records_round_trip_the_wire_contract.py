"""Every record the fleet sends is valid on the wire: it decodes back to itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.simulator import Fleet
from schemas import OrgPolicy, decode, decode_as, encode

START = datetime(2026, 11, 2, tzinfo=UTC)


def test_every_record_survives_encoding_and_decoding() -> None:
    fleet = Fleet(40, seed=5, start=START, every_fault=True, fault_days=(0.5, 4.0))
    count = 0
    for event in fleet.events_between(START, START + timedelta(days=12)):
        assert decode(encode(event.record)) == event.record, event
        count += 1
    assert count > 10_000


def test_org_policies_are_valid_records() -> None:
    fleet = Fleet(10, seed=1, start=START)
    policies = fleet.org_policies()
    assert [p.org_id for p in policies] == list(fleet.org_ids)
    for policy in policies:
        assert decode_as(encode(policy), OrgPolicy) == policy
