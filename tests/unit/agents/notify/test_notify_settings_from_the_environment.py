"""Notifier settings: read from BACKUPWATCH_* variables, refused naming the variable."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from agents.errors import ConfigError
from agents.notify.settings import NotifySettings

WEBHOOK = "https://hooks.example.com/services/T000/SECRET-TOKEN"
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()


def test_defaults_need_no_environment() -> None:
    settings = NotifySettings.from_env({})
    assert settings.group == "backupwatch-notify"
    assert settings.web_port == 6067
    assert settings.digest_minutes == 0
    assert not settings.email_enabled


def test_every_documented_variable_is_read() -> None:
    env = {
        "BACKUPWATCH_BOOTSTRAP_SERVERS": "kafka:9092",
        "BACKUPWATCH_TOPIC_PREFIX": "bw.",
        "BACKUPWATCH_LOG_LEVEL": "DEBUG",
        "BACKUPWATCH_REPLICATION_FACTOR": "3",
        "BACKUPWATCH_NOTIFY_GROUP": "notify-eu",
        "BACKUPWATCH_NOTIFY_SMTP_HOST": "smtp.example.com",
        "BACKUPWATCH_NOTIFY_SMTP_PORT": "2525",
        "BACKUPWATCH_NOTIFY_SMTP_TLS": "TLS",
        "BACKUPWATCH_NOTIFY_SMTP_USERNAME": "alerts",
        "BACKUPWATCH_NOTIFY_SMTP_PASSWORD": "pw",
        "BACKUPWATCH_NOTIFY_FROM": "backupwatch@example.com",
        "BACKUPWATCH_NOTIFY_EMAILS": "ops@example.com, it@example.com",
        "BACKUPWATCH_NOTIFY_WEBHOOK_URLS": WEBHOOK,
        "BACKUPWATCH_NOTIFY_WEBHOOK_SECRET": SECRET,
        "BACKUPWATCH_NOTIFY_WEBHOOK_UNSIGNED": "no",
        "BACKUPWATCH_NOTIFY_DASHBOARD_URL": "https://backupwatch.example.com",
        "BACKUPWATCH_NOTIFY_MAX_ATTEMPTS": "5",
        "BACKUPWATCH_NOTIFY_DIGEST_MINUTES": "60",
        "BACKUPWATCH_NOTIFY_WEB_HOST": "::",
        "BACKUPWATCH_NOTIFY_WEB_PORT": "9000",
    }
    s = NotifySettings.from_env(env)
    assert (s.bootstrap_servers, s.topic_prefix, s.log_level) == ("kafka:9092", "bw.", "debug")
    assert s.replication_factor == 3
    assert (s.group, s.smtp_host, s.smtp_port, s.smtp_tls) == (
        "notify-eu",
        "smtp.example.com",
        2525,
        "tls",
    )
    assert (s.smtp_username, s.smtp_password, s.from_address) == (
        "alerts",
        "pw",
        "backupwatch@example.com",
    )
    assert s.emails == ("ops@example.com", "it@example.com")
    assert s.webhook_urls == (WEBHOOK,)
    assert (s.webhook_secret, s.dashboard_url) == (SECRET, "https://backupwatch.example.com")
    assert s.webhook_unsigned is False
    assert (s.max_attempts, s.digest_minutes, s.web_host, s.web_port) == (5, 60, "::", 9000)


def test_settings_survive_a_round_trip_through_the_environment() -> None:
    settings = NotifySettings(
        smtp_host="127.0.0.1",
        smtp_port=2525,
        smtp_tls="none",
        emails=("a@example.com", "b@example.com"),
        webhook_urls=(WEBHOOK,),
        webhook_secret=f"{SECRET} {OLD_SECRET}",
        webhook_secrets=(("org-acme", (SECRET,)),),
        apprise=(("ops", "json://127.0.0.1:9/hook"),),
        retry_base=0.05,
        retry_max=0.5,
        timeout=2.5,
    )
    assert NotifySettings.from_env(settings.as_env()) == settings


@pytest.mark.parametrize(("smtp_tls", "port"), [("none", 25), ("starttls", 587), ("tls", 465)])
def test_the_smtp_port_defaults_to_the_one_of_its_tls_mode(smtp_tls: str, port: int) -> None:
    assert NotifySettings(smtp_tls=smtp_tls).smtp_port_or_default == port


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BACKUPWATCH_NOTIFY_SMTP_TLS": "ssl"}, "BACKUPWATCH_NOTIFY_SMTP_TLS must be one of"),
        ({"BACKUPWATCH_NOTIFY_SMTP_PORT": "smtp"}, "BACKUPWATCH_NOTIFY_SMTP_PORT='smtp' is not"),
        ({"BACKUPWATCH_NOTIFY_SMTP_PORT": "99999"}, "BACKUPWATCH_NOTIFY_SMTP_PORT must be"),
        ({"BACKUPWATCH_NOTIFY_WEB_PORT": "-1"}, "BACKUPWATCH_NOTIFY_WEB_PORT must be"),
        ({"BACKUPWATCH_NOTIFY_MAX_ATTEMPTS": "0"}, "BACKUPWATCH_NOTIFY_MAX_ATTEMPTS must be"),
        ({"BACKUPWATCH_NOTIFY_DIGEST_MINUTES": "-5"}, "BACKUPWATCH_NOTIFY_DIGEST_MINUTES"),
        ({"BACKUPWATCH_NOTIFY_FROM": "nobody"}, "BACKUPWATCH_NOTIFY_FROM must be an email"),
        (
            {"BACKUPWATCH_NOTIFY_SMTP_HOST": "h", "BACKUPWATCH_NOTIFY_EMAILS": "ops"},
            "BACKUPWATCH_NOTIFY_EMAILS: 'ops' is not an email address",
        ),
        (
            {"BACKUPWATCH_NOTIFY_EMAILS": "ops@example.com"},
            "BACKUPWATCH_NOTIFY_EMAILS is set but BACKUPWATCH_NOTIFY_SMTP_HOST is empty",
        ),
        (
            {
                "BACKUPWATCH_NOTIFY_WEBHOOK_URLS": "ftp://x/y",
                "BACKUPWATCH_NOTIFY_WEBHOOK_SECRET": SECRET,
            },
            "BACKUPWATCH_NOTIFY_WEBHOOK_URLS: .* is not an http",
        ),
        (
            {"BACKUPWATCH_NOTIFY_WEBHOOK_URLS": WEBHOOK},
            "BACKUPWATCH_NOTIFY_WEBHOOK_SECRET is empty",
        ),
        (
            {"BACKUPWATCH_NOTIFY_DASHBOARD_URL": "backupwatch.example.com"},
            "BACKUPWATCH_NOTIFY_DASHBOARD_URL must be an http",
        ),
        (
            {"BACKUPWATCH_NOTIFY_SMTP_USERNAME": "alerts"},
            "BACKUPWATCH_NOTIFY_SMTP_USERNAME and BACKUPWATCH_NOTIFY_SMTP_PASSWORD go together",
        ),
        ({"BACKUPWATCH_LOG_LEVEL": "loud"}, "BACKUPWATCH_LOG_LEVEL must be one of"),
        ({"BACKUPWATCH_REPLICATION_FACTOR": "0"}, "BACKUPWATCH_REPLICATION_FACTOR must be 1..32"),
        ({"BACKUPWATCH_BOOTSTRAP_SERVERS": "kafka:abc"}, "BACKUPWATCH_BOOTSTRAP_SERVERS must be"),
        (
            {"BACKUPWATCH_NOTIFY_RETRY_MAX": "inf"},
            "BACKUPWATCH_NOTIFY_RETRY_MAX must be 0..86400 s",
        ),
        (
            {"BACKUPWATCH_NOTIFY_RETRY_MAX": "nan"},
            "BACKUPWATCH_NOTIFY_RETRY_MAX must be 0..86400 s",
        ),
        ({"BACKUPWATCH_NOTIFY_RETRY_MAX": "1e300"}, "BACKUPWATCH_NOTIFY_RETRY_MAX must be"),
        ({"BACKUPWATCH_NOTIFY_RETRY_BASE": "nan"}, "BACKUPWATCH_NOTIFY_RETRY_BASE must be > 0"),
        ({"BACKUPWATCH_NOTIFY_TIMEOUT": "inf"}, "BACKUPWATCH_NOTIFY_TIMEOUT must be 0..600 s"),
        ({"BACKUPWATCH_NOTIFY_GROUP": " "}, None),
        (
            {"BACKUPWATCH_NOTIFY_WEBHOOK_SECRET": "s3cret"},
            "BACKUPWATCH_NOTIFY_WEBHOOK_SECRET: secret 1 must be `whsec_`",
        ),
        (
            {"BACKUPWATCH_NOTIFY_WEBHOOK_SECRET": f"{SECRET} {OLD_SECRET} {SECRET}"},
            "at most two secrets",
        ),
        ({"BACKUPWATCH_NOTIFY_WEBHOOK_UNSIGNED": "maybe"}, "WEBHOOK_UNSIGNED='maybe' is not"),
        ({"BACKUPWATCH_NOTIFY_APPRISE_OPS": "nosuch://x"}, "Apprise target 'ops': Apprise cannot"),
        ({"BACKUPWATCH_NOTIFY_SECRETS": "apprise: [1"}, "BACKUPWATCH_NOTIFY_SECRETS is not YAML"),
        ({"BACKUPWATCH_NOTIFY_SECRETS": "slack: x"}, "unknown key 'slack'"),
        ({"BACKUPWATCH_NOTIFY_SECRETS_FILE": "/nonexistent/x"}, "cannot read '/nonexistent/x'"),
        (
            {"BACKUPWATCH_NOTIFY_SECRETS": "webhook_secrets: {org-1: short}"},
            "webhook_secrets of 'org-1': secret 1 must be",
        ),
    ],
)
def test_an_invalid_value_is_refused_naming_the_variable(
    env: dict[str, str], message: str | None
) -> None:
    if message is None:  # blank means unset: the default applies
        assert NotifySettings.from_env(env).group == "backupwatch-notify"
        return
    with pytest.raises(ConfigError, match=message):
        NotifySettings.from_env(env)


def test_secrets_and_webhook_tokens_are_never_printed() -> None:
    described = NotifySettings(
        smtp_host="smtp.example.com",
        smtp_username="alerts",
        smtp_password="hunter2",
        webhook_urls=(WEBHOOK,),
        webhook_secret=SECRET,
        webhook_secrets=(("org-acme", (OLD_SECRET,)),),
        apprise=(("ops-slack", "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"),),
    ).describe()
    assert "hunter2" not in described
    assert SECRET not in described and OLD_SECRET not in described
    assert "TIiajkdnlazkcOXrIdevi7" not in described
    assert "ops-slack (slack://****)" in described
    assert "SECRET-TOKEN" not in described
    assert "https://hooks.example.com/…" in described


def test_apprise_targets_come_from_variables_files_and_the_secrets_document(
    tmp_path: Path,
) -> None:
    (tmp_path / "pager").write_text("json://127.0.0.1:9/pager\n")
    (tmp_path / "secrets.yml").write_text(
        "apprise:\n  ops-chat: ntfy://127.0.0.1:9/backups\n"
        f"webhook_secrets:\n  org-acme: [{SECRET}, {OLD_SECRET}]\n"
        f"  https://hooks.acme.example/x: {SECRET}\n"
    )
    s = NotifySettings.from_env(
        {
            "BACKUPWATCH_NOTIFY_APPRISE_OPS_SLACK": "mmost://127.0.0.1:9/token",
            "BACKUPWATCH_NOTIFY_APPRISE_ON_CALL_FILE": str(tmp_path / "pager"),
            "BACKUPWATCH_NOTIFY_SECRETS_FILE": str(tmp_path / "secrets.yml"),
            "BACKUPWATCH_NOTIFY_WEBHOOK_SECRET": OLD_SECRET,
        }
    )
    assert dict(s.apprise) == {
        "ops-slack": "mmost://127.0.0.1:9/token",
        "on-call": "json://127.0.0.1:9/pager",
        "ops-chat": "ntfy://127.0.0.1:9/backups",
    }
    assert s.apprise_names == ("on-call", "ops-chat", "ops-slack")
    assert s.secrets_for("org-acme", "https://other.example/") == (SECRET, OLD_SECRET)
    assert s.secrets_for("org-acme", "https://hooks.acme.example/x") == (SECRET,)
    assert s.secrets_for("org-else", "https://other.example/") == (OLD_SECRET,)
