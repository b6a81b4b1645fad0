"""`backupwatch notify` with a bad setting stops at once, naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[4]


def test_a_bad_setting_stops_the_notifier_with_a_message_naming_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agents.cli", "notify"],
        cwd=REPO,
        env={"BACKUPWATCH_NOTIFY_SMTP_TLS": "ssl", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "BACKUPWATCH_NOTIFY_SMTP_TLS must be one of none, starttls, tls" in done.stderr


def test_an_apprise_url_apprise_cannot_use_stops_the_notifier_naming_the_target() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agents.cli", "notify"],
        cwd=REPO,
        env={"BACKUPWATCH_NOTIFY_APPRISE_OPS_CHAT": "nosuch://TOKEN@x", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("backupwatch: Apprise target 'ops-chat': Apprise cannot use")
    assert "TOKEN" not in line
