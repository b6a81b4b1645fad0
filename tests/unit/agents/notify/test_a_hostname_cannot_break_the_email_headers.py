"""A device reports its own hostname, and the subject carries it: a line break or other
control character in it must neither stop the email nor add a header to it."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default

import pytest

from agents.notify.channels.email import EMAIL, build_email
from agents.notify.plan import Delivery, Item
from agents.notify.settings import NotifySettings
from tests.unit.agents.notify.alerts import example_alert

SETTINGS = NotifySettings(smtp_host="h", from_address="backupwatch@example.com")


@pytest.mark.parametrize(
    "hostname",
    ["laptop\nX-Injected: 1", "laptop\r\nX-Injected: 1", "laptop\rX-Injected: 1"],
)
def test_a_line_break_in_the_hostname_becomes_a_space_in_the_subject(hostname: str) -> None:
    alert = example_alert(hostname=hostname)
    item = Item(alert, b"{}", "t", 0, 0)

    message = build_email(Delivery(EMAIL, "ops@example.com", alert.device_id, (item,)), SETTINGS)

    parsed = message_from_bytes(message.as_bytes(), policy=default)
    assert parsed["Subject"].startswith("[CRITICAL] laptop X-Injected: 1 has not connected")
    assert parsed["X-Injected"] is None


def test_other_control_characters_become_spaces_too() -> None:
    alert = example_alert(hostname="lap\ttop\x00\x1b[31m\u2028x")
    item = Item(alert, b"{}", "t", 0, 0)

    message = build_email(Delivery(EMAIL, "ops@example.com", alert.device_id, (item,)), SETTINGS)

    assert str(message["Subject"]).startswith("[CRITICAL] lap top [31m x has not connected")


def test_a_digest_subject_is_made_safe_as_well() -> None:
    alert = example_alert(org_id="org\nX-Injected: 1")
    item = Item(alert, b"{}", "t", 0, 0)
    delivery = Delivery(
        EMAIL, "ops@example.com", "digest:org", (item,), digest_org="org\nX-Injected: 1"
    )

    parsed = message_from_bytes(build_email(delivery, SETTINGS).as_bytes(), policy=default)

    assert parsed["Subject"].startswith("[backupwatch] org X-Injected: 1: 1 alert")
    assert parsed["X-Injected"] is None
