"""The bridge's settings: read from `BACKUPWATCH_CRASHPLAN_*` at start, a bad one named
in the error, secrets from the variable or its `_FILE`, never printed; and the command
stops in one line, exit 2, when the console cannot be reached or refuses the
credentials (before Kafka is asked)."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest

from agents.bridge.crashplan.settings import BridgeSettings
from agents.cli import main
from agents.errors import ConfigError
from tests.crashplan_console import running_console

API = {
    "BACKUPWATCH_CRASHPLAN_URL": "https://console.us1.crashplan.com",
    "BACKUPWATCH_CRASHPLAN_API_CLIENT_ID": "key-1",
    "BACKUPWATCH_CRASHPLAN_API_CLIENT_SECRET": "s3cr3t-value",
}


def test_an_api_client_s_settings_with_their_defaults() -> None:
    settings = BridgeSettings.from_env(API)

    assert settings.uses_api_client
    assert settings.poll_interval == timedelta(minutes=15)
    assert (settings.page_size, settings.max_attempts, settings.web_port) == (1000, 6, 6069)


def test_secrets_are_never_described() -> None:
    env = {
        "BACKUPWATCH_CRASHPLAN_URL": "https://c.example",
        "BACKUPWATCH_CRASHPLAN_USERNAME": "admin@example.com",
        "BACKUPWATCH_CRASHPLAN_PASSWORD": "pa55-word-value",
        "BACKUPWATCH_CRASHPLAN_TOTP_SECRET": "JBSWY3DPEHPK3PXP",
    }
    settings = BridgeSettings.from_env(env)

    text = settings.describe() + repr(settings)
    assert "pa55-word-value" not in text and "JBSWY3DPEHPK3PXP" not in text
    assert "local account admin@example.com with TOTP" in text


def test_a_secret_is_read_from_its_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("from-a-file\n")
    env = {**API, "BACKUPWATCH_CRASHPLAN_API_CLIENT_SECRET": ""}
    env["BACKUPWATCH_CRASHPLAN_API_CLIENT_SECRET_FILE"] = str(path)

    assert BridgeSettings.from_env(env).api_client_secret == "from-a-file"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"BACKUPWATCH_CRASHPLAN_URL": ""}, "BACKUPWATCH_CRASHPLAN_URL"),
        ({"BACKUPWATCH_CRASHPLAN_URL": "ftp://console"}, "BACKUPWATCH_CRASHPLAN_URL"),
        ({"BACKUPWATCH_CRASHPLAN_API_CLIENT_SECRET": ""}, "go together"),
        ({"BACKUPWATCH_CRASHPLAN_USERNAME": "admin"}, "one of the two"),
        ({"BACKUPWATCH_CRASHPLAN_POLL_INTERVAL": "4m"}, "POLL_INTERVAL must be 5m to 1d"),
        ({"BACKUPWATCH_CRASHPLAN_POLL_INTERVAL": "often"}, "POLL_INTERVAL"),
        ({"BACKUPWATCH_CRASHPLAN_PAGE_SIZE": "1001"}, "PAGE_SIZE must be 1..1000"),
        ({"BACKUPWATCH_CRASHPLAN_API_CLIENT_SECRET_FILE": "/nonexistent"}, "not both"),
        ({"BACKUPWATCH_CRASHPLAN_TOTP_SECRET": "X"}, "TOTP_SECRET is for a local account"),
    ],
)
def test_a_bad_setting_is_named(change: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        BridgeSettings.from_env({**API, **change})


def _last_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_the_bridge_refused_by_the_console_stops_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_console() as console:
        monkeypatch.setenv("BACKUPWATCH_CRASHPLAN_URL", console.url)
        monkeypatch.setenv("BACKUPWATCH_CRASHPLAN_API_CLIENT_ID", "key-1")
        monkeypatch.setenv("BACKUPWATCH_CRASHPLAN_API_CLIENT_SECRET", "wrong")

        code = main(["bridge", "crashplan", "--once"])

    assert code == 2
    line = _last_line(capsys)
    assert line.startswith("backupwatch: the CrashPlan console at ")
    assert "refused the credentials of API client key-1" in line
    assert "wrong" not in line


def test_the_bridge_at_an_address_without_a_console_stops_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        monkeypatch.setenv("BACKUPWATCH_CRASHPLAN_URL", url)
        monkeypatch.setenv("BACKUPWATCH_CRASHPLAN_API_CLIENT_ID", "key-1")
        monkeypatch.setenv("BACKUPWATCH_CRASHPLAN_API_CLIENT_SECRET", "secret-1")

        code = main(["bridge", "crashplan", "--once"])

    assert code == 2
    assert _last_line(capsys).startswith(
        f"backupwatch: no CrashPlan console answered at BACKUPWATCH_CRASHPLAN_URL={url}"
    )


def test_a_bad_setting_stops_the_bridge_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BACKUPWATCH_CRASHPLAN_URL", raising=False)

    code = main(["bridge", "crashplan", "--once"])

    assert code == 2
    assert _last_line(capsys).startswith("backupwatch: BACKUPWATCH_CRASHPLAN_URL must be")
