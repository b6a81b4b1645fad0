"""`backupwatch alerts` prints one line per alert: a hostname or id with a line break,
a NUL or a bidirectional override (a producer's to choose) is escaped, not printed raw."""

from __future__ import annotations

from agents.kafka.follow import describe_alert
from tests.unit.agents.notify.alerts import example_alert


def test_a_hostname_and_ids_with_control_characters_are_escaped() -> None:
    alert = example_alert(
        hostname="laptop\n2026-11-12 19:30 CRITICAL forged",
        org_id="org\r\x00",
        user_id="user\u202e",
        kind="backup",
        destination_id="cloud\x1b[2J",
    )
    line = describe_alert(alert)
    assert line.isprintable()
    assert "laptop\\x0a2026-11-12 19:30 CRITICAL forged" in line
    assert "[org\\x0d\\x00/user\\u202e]" in line
    assert "cloud\\x1b[2J" in line


def test_an_ordinary_alert_reads_as_before() -> None:
    line = describe_alert(example_alert())
    assert line.isprintable()
    assert "[org-acme/user-0042]" in line
