"""A resolved alert's email says what closed it, and claims the device is back only
when new data (or contact) closed it: a policy change or the end of a snooze closes an
alert with nothing new from the device, and a deactivation closes it outright."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agents.notify.render import render_alert, subject
from streams import DEFAULT_POLICY, Policy, Thresholds, advance
from streams.status import to_alert
from tests.unit.agents.notify.alerts import example_alert
from tests.unit.factories import DAY, T0, command, healthy, run

LOOSE = Policy(connection=Thresholds(timedelta(days=10), timedelta(days=20)), revision="loose")


@pytest.mark.parametrize(
    ("reason", "kind", "destination_id", "expected"),
    [
        (
            "new_event",
            "connection",
            None,
            "[RESOLVED] laptop-123 is connecting to its backup destinations again",
        ),
        ("new_event", "backup", "cloud", "[RESOLVED] laptop-123 is backing up to cloud again"),
        (
            "new_event",
            "completion",
            "nas",
            "[RESOLVED] laptop-123 completed its backup to nas again",
        ),
        (
            "deactivated",
            "backup",
            "cloud",
            "[RESOLVED] laptop-123 was deactivated; its alert is closed",
        ),
        (
            "policy_changed",
            "connection",
            None,
            "[RESOLVED] laptop-123 has not connected to a backup destination for 4 days, "
            "within the org's new thresholds",
        ),
        (
            "policy_changed",
            "backup",
            "cloud",
            "[RESOLVED] laptop-123 has not backed up to cloud for 4 days, "
            "within the org's new thresholds",
        ),
        (
            "policy_changed",
            "completion",
            "nas",
            "[RESOLVED] laptop-123 has not completed a backup to nas for 4 days, "
            "within the org's new thresholds",
        ),
        (
            "snooze_ended",
            "backup",
            "cloud",
            "[RESOLVED] laptop-123 has not backed up to cloud for 4 days, "
            "within the thresholds when its snooze ended",
        ),
        (
            "leave_ended",
            "backup",
            "cloud",
            "[RESOLVED] laptop-123 has not backed up to cloud for 4 days, "
            "within the thresholds when its user's leave ended",
        ),
        (
            "user_deactivated",
            "connection",
            None,
            "[RESOLVED] laptop-123 belongs to a deactivated user (left the organization); "
            "its alert is closed",
        ),
    ],
)
def test_the_subject_of_a_resolution_follows_its_reason(
    reason: str, kind: str, destination_id: str | None, expected: str
) -> None:
    alert = example_alert(
        kind=kind,
        destination_id=destination_id,
        transition="resolved",
        from_state="warning",
        to_state="ok",
        reason=reason,
        days_observed=4.0,
        threshold_days=None,
    )
    assert subject(alert) == expected


def test_an_unknown_reason_closes_the_alert_without_claiming_why() -> None:
    alert = example_alert(
        kind="backup",
        destination_id="cloud",
        transition="resolved",
        from_state="warning",
        to_state="ok",
        reason="reactivated",
        days_observed=4.0,
    )
    assert subject(alert) == (
        "[RESOLVED] laptop-123 has not backed up to cloud for 4 days; its alert is closed "
        "(reactivated)"
    )


def test_a_looser_policy_resolves_without_saying_the_device_is_back() -> None:
    state, _ = advance(healthy(), T0 + 4 * DAY, DEFAULT_POLICY)
    state, transitions = advance(state, T0 + 4 * DAY + timedelta(minutes=5), LOOSE)
    (resolution,) = transitions

    content = render_alert(to_alert(resolution, state, resolution.decided_at, LOOSE))

    assert content.subject == (
        "[RESOLVED] dev-1-host has not connected to a backup destination for 4 days, "
        "within the org's new thresholds"
    )
    assert "again" not in content.text and "again" not in content.html


def test_a_policy_loosened_over_a_snooze_does_not_say_the_device_is_back() -> None:
    state, _ = advance(healthy(), T0 + 4 * DAY, DEFAULT_POLICY)
    snooze = command("snooze", T0 + 4 * DAY, snooze_until=T0 + 6 * DAY)
    state, _ = run([snooze], now=T0 + 4 * DAY, state=state)
    state, _ = advance(state, T0 + 5 * DAY, LOOSE)
    state, transitions = advance(state, T0 + 6 * DAY, LOOSE)
    (resolution,) = transitions
    # What closed it is the policy, not the snooze's end.
    assert resolution.reason == "policy_changed"

    content = render_alert(to_alert(resolution, state, resolution.decided_at, LOOSE))

    assert content.subject == (
        "[RESOLVED] dev-1-host has not connected to a backup destination for 6 days, "
        "within the org's new thresholds"
    )
    assert "again" not in content.text
