"""An alert's email: a subject readable in a mailbox listing, a body with the facts,
the ranked causes with their evidence and actions, and the dashboard link."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest

from agents.notify.channels.email import EMAIL, build_email
from agents.notify.plan import Delivery, Item
from agents.notify.render import device_link, render_alert, subject
from agents.notify.settings import NotifySettings
from tests.unit.agents.notify.alerts import cause, example_alert


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {
                "kind": "backup",
                "destination_id": None,
                "days_observed": 7.0,
                "to_state": "critical",
            },
            "[CRITICAL] laptop-123 has not backed up for 7 days (up from warning)",
        ),
        (
            {"kind": "backup", "transition": "opened", "from_state": "ok", "to_state": "critical"},
            "[CRITICAL] laptop-123 has not backed up for 5 days",
        ),
        (
            {
                "kind": "backup",
                "transition": "opened",
                "from_state": "ok",
                "to_state": "warning",
                "destination_id": "cloud-eu",
                "days_observed": 3.04,
            },
            "[WARNING] laptop-123 has not backed up to cloud-eu for 3 days",
        ),
        (
            {
                "transition": "opened",
                "from_state": "ok",
                "to_state": "warning",
                "days_observed": 3.5,
            },
            "[WARNING] laptop-123 has not connected to a backup destination for 3.5 days",
        ),
        (
            {
                "kind": "completion",
                "transition": "opened",
                "from_state": "ok",
                "to_state": "critical",
                "destination_id": "nas",
                "days_observed": 14.0,
            },
            "[CRITICAL] laptop-123 has not completed a backup to nas for 14 days",
        ),
        (
            {
                "transition": "deescalated",
                "from_state": "critical",
                "to_state": "warning",
                "days_observed": 1.0,
            },
            "[WARNING] laptop-123 has not connected to a backup destination for 1 day "
            "(down from critical)",
        ),
        (
            {
                "kind": "backup",
                "transition": "resolved",
                "from_state": "critical",
                "to_state": "ok",
                "reason": "new_event",
            },
            "[RESOLVED] laptop-123 is backing up again",
        ),
        (
            {
                "transition": "resolved",
                "from_state": "critical",
                "to_state": "ok",
                "reason": "new_event",
            },
            "[RESOLVED] laptop-123 is connecting to its backup destinations again",
        ),
        (
            {
                "transition": "resolved",
                "from_state": "warning",
                "to_state": "ok",
                "reason": "deactivated",
            },
            "[RESOLVED] laptop-123 was deactivated; its alert is closed",
        ),
        (
            {
                "kind": "backup",
                "transition": "reminder",
                "from_state": "critical",
                "to_state": "critical",
                "days_observed": 9.0,
            },
            "[CRITICAL] Reminder: laptop-123 still has not backed up for 9 days",
        ),
        (
            {
                "hostname": "",
                "transition": "opened",
                "from_state": "ok",
                "to_state": "warning",
                "days_observed": 3.0,
            },
            "[WARNING] dev-000123 has not connected to a backup destination for 3 days",
        ),
    ],
)
def test_the_subject_says_severity_device_what_and_how_long(
    changes: dict[str, object], expected: str
) -> None:
    assert subject(example_alert(**changes)) == expected


def test_the_body_lists_the_facts_and_every_cause_in_rank_order() -> None:
    alert = example_alert(
        kind="backup",
        destination_id="cloud-eu",
        days_observed=7.0,
        threshold_days=7.0,
        diagnosis=[
            cause("locked_files"),
            cause(
                "network_throttled",
                summary="Network throttling slows the upload",
                evidence={"network_limit_kbps": 256},
                action="Raise or remove the upload limit",
            ),
        ],
    )
    content = render_alert(alert, "https://bw.example.com/")
    for body in (content.text, content.html):
        for fact in ("laptop-123", "dev-000123", "user-0042", "org-acme", "cloud-eu", "7 days"):
            assert fact in body
        first = body.index("Locked files keep the backup from finishing")
        second = body.index("Network throttling slows the upload")
        assert first < second
        assert "locked_files" in body and "12" in body and "network_limit_kbps" in body
        assert "Close the application holding the files" in body
        assert "Raise or remove the upload limit" in body
        assert "https://bw.example.com/#/devices/dev-000123" in body
        assert alert.alert_id in body
    assert "Threshold:" in content.text


def test_evidence_figures_read_with_units_and_separators() -> None:
    alert = example_alert(
        kind="completion",
        diagnosis=[
            cause(
                "backup_interval_too_short",
                evidence={
                    "todo_bytes": 36_649_989_611,
                    "bytes_sent_14d": 512,
                    "locked_files": 12_345,
                    "estimated_hours_to_finish": 255.234,
                    "backup_interval_hours": 4.0,
                    "backup_paused": True,
                    "session_state": "sending",
                    "last_heartbeat": "2026-11-03T03:57:35+00:00",
                    "local_time": "2026-11-03T03:57:35+02:00",
                    "newer_device_last_seen": None,
                    "reachable": ["cloud-eu", "nas-office"],
                },
            )
        ],
    )
    content = render_alert(alert)
    for line in (
        "todo_bytes: 34.1 GiB (36,649,989,611 bytes)",
        "bytes_sent_14d: 512 bytes",
        "locked_files: 12,345",
        "estimated_hours_to_finish: 255.23",
        "backup_interval_hours: 4",
        "backup_paused: yes",
        "session_state: sending",
        "last_heartbeat: 2026-11-03 03:57 UTC",
        "local_time: 2026-11-03T03:57:35+02:00",
        "newer_device_last_seen: none",
        "reachable: cloud-eu, nas-office",
    ):
        assert f"     {line}\n" in content.text
        name, value = line.split(": ", 1)
        assert f"<code>{name}</code>: {value}</li>" in content.html


def test_without_a_dashboard_there_is_no_link() -> None:
    content = render_alert(example_alert(), "")
    assert "#/devices/" not in content.text and "#/devices/" not in content.html


def test_device_ids_are_quoted_in_the_link() -> None:
    assert device_link("https://bw", "dev/1 2") == "https://bw/#/devices/dev%2F1%202"


def test_the_html_body_escapes_what_devices_report() -> None:
    alert = example_alert(hostname="<script>alert(1)</script>")
    content = render_alert(alert)
    assert "<script>" not in content.html
    assert "&lt;script&gt;" in content.html


def test_the_message_has_both_bodies_and_a_message_id_fixed_by_alert_and_recipient() -> None:
    alert = example_alert()
    settings = NotifySettings(smtp_host="h", from_address="backupwatch@example.com")
    item = Item(alert, b"{}", "t", 0, 0)

    def message(recipient: str) -> EmailMessage:
        return build_email(Delivery(EMAIL, recipient, alert.device_id, (item,)), settings)

    first = message("ops@example.com")
    parsed = message_from_bytes(first.as_bytes(), policy=default)
    assert parsed["Subject"] == subject(alert)
    assert parsed["To"] == "ops@example.com"
    assert parsed["X-Backupwatch-Alert-Id"] == alert.alert_id
    types = [part.get_content_type() for part in parsed.walk()]
    assert "text/plain" in types and "text/html" in types
    assert first["Message-ID"] == message("ops@example.com")["Message-ID"]
    assert first["Message-ID"] != message("it@example.com")["Message-ID"]
    assert first["Message-ID"].endswith("@example.com>")
    # 7-bit on the wire, the text intact once decoded.
    assert first.as_bytes().isascii()
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and "→" in body.get_content()
