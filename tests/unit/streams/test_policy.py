"""Policy defaults, org overrides and validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import OrgPolicy
from streams import DEFAULT_POLICY, InvalidPolicy, Policy, Thresholds, policy_from_record


def test_defaults_are_the_consoles() -> None:
    p = DEFAULT_POLICY
    assert (p.connection.warning, p.connection.critical) == (timedelta(days=3), timedelta(days=5))
    assert (p.backup.warning, p.backup.critical) == (timedelta(days=3), timedelta(days=7))
    assert (p.completion.warning, p.completion.critical) == (timedelta(days=7), timedelta(days=14))
    assert p.online_window == timedelta(minutes=15)
    assert p.reminder_interval is None
    assert p.max_skew == timedelta(minutes=5)


def test_an_org_record_overrides_only_what_it_names() -> None:
    record = OrgPolicy(
        org_id="org-1",
        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
        backup_warning_days=1,
        reminder_hours=6,
        minimum_app_version="11.2",
    )
    policy = policy_from_record(record)
    assert policy.backup == Thresholds(timedelta(days=1), timedelta(days=7))
    assert policy.connection == DEFAULT_POLICY.connection
    assert policy.reminder_interval == timedelta(hours=6)
    assert policy.version_outdated("11.1.9")
    assert not policy.version_outdated("11.10")


@pytest.mark.parametrize(
    ("warning", "critical", "message"),
    [
        (5, 3, "must come before critical"),
        (3, 3, "must come before critical"),
        (0, 3, "positive"),
    ],
)
def test_thresholds_that_cannot_work_are_refused_with_a_clear_error(
    warning: float, critical: float, message: str
) -> None:
    with pytest.raises(InvalidPolicy, match=message):
        Thresholds(timedelta(days=warning), timedelta(days=critical))


def test_an_org_record_with_warning_after_critical_is_refused() -> None:
    record = OrgPolicy(
        org_id="org-1",
        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
        connection_warning_days=6,
    )
    with pytest.raises(InvalidPolicy, match=r"warning \(6.0 days\) must come before critical"):
        policy_from_record(record)


def test_negative_skew_and_reminders_are_refused() -> None:
    with pytest.raises(InvalidPolicy):
        Policy(max_skew=timedelta(minutes=-1))
    with pytest.raises(InvalidPolicy):
        Policy(reminder_interval=timedelta(0))
