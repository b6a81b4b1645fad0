"""A worker listening beyond loopback with no token would show every device, user and
org to anyone who reaches its port: it refuses to start, in one line before Kafka is
asked, unless BACKUPWATCH_ALLOW_ANONYMOUS_READS=true says it is meant. Tokens come from
variables or files and are never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.cli import main
from agents.errors import ConfigError
from agents.settings import Settings


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_a_worker_on_loopback_may_serve_anyone(host: str) -> None:
    Settings(web_host=host).check_read_access()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "worker.example.com"])  # noqa: S104
def test_a_worker_beyond_loopback_needs_a_token_or_a_decision(host: str) -> None:
    with pytest.raises(ConfigError, match="BACKUPWATCH_ALLOW_ANONYMOUS_READS=true"):
        Settings(web_host=host).check_read_access()

    Settings(web_host=host, viewer_tokens=("viewer-1",)).check_read_access()
    Settings(web_host=host, api_token="admin-1").check_read_access()
    Settings(web_host=host, allow_anonymous_reads=True).check_read_access()


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_the_worker_and_report_server_commands_refuse_in_one_line_before_kafka(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No broker listens there: a refusal that came too late would name it instead.
    monkeypatch.setenv("BACKUPWATCH_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("BACKUPWATCH_WEB_HOST", "0.0.0.0")  # noqa: S104

    code = main([command])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("backupwatch: BACKUPWATCH_WEB_HOST=0.0.0.0 is not a loopback")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("value", "allowed"), [("true", True), ("1", True), ("FALSE", False), ("no", False)]
)
def test_allow_anonymous_reads_is_a_yes_or_no(value: str, allowed: bool) -> None:
    settings = Settings.from_env({"BACKUPWATCH_ALLOW_ANONYMOUS_READS": value})
    assert settings.allow_anonymous_reads is allowed
    with pytest.raises(ConfigError, match="is not true or false"):
        Settings.from_env({"BACKUPWATCH_ALLOW_ANONYMOUS_READS": "maybe"})


def test_tokens_come_from_files_and_survive_the_round_trip(tmp_path: Path) -> None:
    admin = tmp_path / "admin"
    admin.write_text("admin-token\n")
    viewers = tmp_path / "viewers"
    viewers.write_text("# one a line\nviewer-1\n\nviewer-2, viewer-3\n")
    settings = Settings.from_env(
        {
            "BACKUPWATCH_API_TOKEN_FILE": str(admin),
            "BACKUPWATCH_VIEWER_TOKENS_FILE": str(viewers),
        }
    )

    assert settings.api_token == "admin-token"
    assert settings.viewer_tokens == ("viewer-1", "viewer-2", "viewer-3")
    # A subprocess is handed the files, not the secrets.
    env = settings.as_env()
    assert "admin-token" not in "".join(env.values())
    assert "viewer-1" not in "".join(env.values())
    assert Settings.from_env(env) == settings


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"BACKUPWATCH_API_TOKEN": "a", "BACKUPWATCH_API_TOKEN_FILE": "{dir}/admin"},
            "set BACKUPWATCH_API_TOKEN or BACKUPWATCH_API_TOKEN_FILE, not both",
        ),
        (
            {"BACKUPWATCH_VIEWER_TOKENS_FILE": "{dir}/missing"},
            "BACKUPWATCH_VIEWER_TOKENS_FILE='{dir}/missing' cannot be read",
        ),
        ({"BACKUPWATCH_API_TOKEN_FILE": "{dir}/two"}, "must hold one token"),
        ({"BACKUPWATCH_VIEWER_TOKENS": "has space"}, "BACKUPWATCH_VIEWER_TOKENS must be"),
        ({"BACKUPWATCH_API_TOKEN": "tab\there"}, "BACKUPWATCH_API_TOKEN must be visible"),
    ],
)
def test_a_bad_token_setting_is_refused_naming_it(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    (tmp_path / "admin").write_text("admin\n")
    (tmp_path / "two").write_text("one\ntwo\n")
    env = {k: v.format(dir=tmp_path) for k, v in env.items()}

    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert message.format(dir=tmp_path) in str(refused.value)


def test_tokens_are_never_printed() -> None:
    described = Settings(api_token="hunter2", viewer_tokens=("opensesame", "letmein")).describe()
    assert "hunter2" not in described
    assert "opensesame" not in described and "letmein" not in described
    assert "2 token(s)" in described
