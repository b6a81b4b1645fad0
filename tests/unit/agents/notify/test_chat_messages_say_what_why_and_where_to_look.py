"""The message a chat or paging service gets: the email's subject as its title, the top
cause with its action, the dashboard link; a resolution says what closed it; one episode
keeps one de-duplication key from its opening to its resolution."""

from __future__ import annotations

from datetime import timedelta

from agents.notify.render import render_chat, subject
from tests.unit.agents.notify.alerts import cause, example_alert

DASHBOARD = "https://backupwatch.example.com"


def test_an_alert_names_severity_device_what_and_how_long_then_why_and_where() -> None:
    alert = example_alert()
    message = render_chat(alert, DASHBOARD)

    assert message.title == (
        "[CRITICAL] laptop-123 has not connected to a backup destination for 5 days "
        "(up from warning)"
    )
    assert message.severity == "critical"
    lines = message.body.splitlines()
    assert lines[0] == "dev-000123, user user-0042, org org-acme"
    assert lines[1] == f"Likely cause: {alert.diagnosis[0].summary}"
    assert lines[2] == f"What to do: {alert.diagnosis[0].action}"
    assert lines[3] == f"Dashboard: {DASHBOARD}/#/devices/dev-000123"


def test_only_the_top_cause_is_told() -> None:
    alert = example_alert(diagnosis=[cause("first", summary="First"), cause("second")])
    body = render_chat(alert).body
    assert "First" in body and "Locked files" not in body
    assert "Dashboard" not in body  # no dashboard configured


def test_a_resolution_says_what_closed_it_and_closes_its_episode() -> None:
    opened = example_alert(transition="opened", from_state="ok", to_state="warning")
    escalated = example_alert()
    resolved = example_alert(
        alert_id="r1",
        transition="resolved",
        from_state="critical",
        to_state="ok",
        reason="new_event",
        decided_at=escalated.decided_at + timedelta(days=1),
    )
    message = render_chat(resolved, DASHBOARD)

    assert message.title == subject(resolved)
    assert message.title == ("[RESOLVED] laptop-123 is connecting to its backup destinations again")
    assert message.severity == "ok"
    assert "Likely cause" not in message.body
    assert render_chat(opened).severity == "warning"
    assert {render_chat(a).episode for a in (opened, escalated, resolved)} == {message.episode}


def test_another_episode_or_destination_has_a_key_of_its_own() -> None:
    alert = example_alert()
    later = example_alert(episode_start=alert.episode_start + timedelta(days=9))
    elsewhere = example_alert(destination_id="cloud-eu")
    keys = {render_chat(a).episode for a in (alert, later, elsewhere)}
    assert len(keys) == 3
