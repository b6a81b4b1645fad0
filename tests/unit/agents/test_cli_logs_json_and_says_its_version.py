"""`backupwatch --version`, and BACKUPWATCH_LOG_FORMAT=json for the command line: its
refusals and its notes are JSON objects, one a line, as every log line of the process."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from importlib.metadata import version

import pytest

from agents.logs import JsonFormatter
from tests.kafka_harness import REPO


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agents.cli", *args],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "BACKUPWATCH_BOOTSTRAP_SERVERS": "127.0.0.1:1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_version_is_the_installed_one() -> None:
    result = run("--version")

    assert result.returncode == 0
    assert result.stdout.strip() == f"backupwatch {version('backupwatch')}"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["worker"], {"BACKUPWATCH_PARTITIONS": "x"}, "BACKUPWATCH_PARTITIONS='x' is not"),
        (["notify"], {"BACKUPWATCH_NOTIFY_SMTP_TLS": "ssl"}, "BACKUPWATCH_NOTIFY_SMTP_TLS must"),
        (["produce", "heartbeats", "/nonexistent"], {}, "cannot read /nonexistent"),
        (["check-config"], {"BACKUPWATCH_WEB_HOST": "0.0.0.0"}, "BACKUPWATCH_WEB_HOST=0.0.0.0"),  # noqa: S104
    ],
)
def test_a_refusal_is_one_json_object_when_logs_are_json(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = run(*args, BACKUPWATCH_LOG_FORMAT="json", **env)

    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    entry = json.loads(line)
    assert entry["level"] == "error" and entry["message"].startswith(message), entry
    # As text, the same refusal is the usual one line.
    text = run(*args, **env)
    assert text.returncode == 2
    assert text.stderr.startswith(f"backupwatch: {message}")


def test_an_exception_is_logged_with_its_traceback_in_one_object() -> None:
    try:
        raise ValueError("a bad thing")
    except ValueError:
        record = logging.LogRecord(
            "faust.worker", logging.ERROR, __file__, 1, "failed: %s", ("x",), sys.exc_info()
        )
    entry = json.loads(JsonFormatter().format(record))

    assert entry["logger"] == "faust.worker"
    assert entry["level"] == "error"
    assert entry["message"] == "failed: x"
    assert "ValueError: a bad thing" in entry["error"]
    assert entry["time"].endswith("+00:00")


def test_a_bad_log_format_is_refused_naming_it() -> None:
    result = run("worker", BACKUPWATCH_LOG_FORMAT="yaml")

    assert result.returncode == 2
    assert result.stderr.startswith("backupwatch: BACKUPWATCH_LOG_FORMAT must be text or json")
