"""The notifier's settings: one typed object from `BACKUPWATCH_*` variables, validated.

The shared variables (`BACKUPWATCH_BOOTSTRAP_SERVERS`, `BACKUPWATCH_TOPIC_PREFIX`,
`BACKUPWATCH_LOG_LEVEL`) mean what they mean for the worker; everything else is
`BACKUPWATCH_NOTIFY_*`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from agents.kafka.connection import KafkaConnection
from agents.notify.errors import ConfigError
from agents.settings import check_bootstrap_servers, check_replication_factor
from schemas.recipients import is_email_address, is_http_url, redact_url

__all__ = ["SMTP_TLS_MODES", "NotifySettings", "variable"]

SMTP_TLS_MODES = ("none", "starttls", "tls")
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# The port each TLS mode is usually served on, when BACKUPWATCH_NOTIFY_SMTP_PORT is unset.
_SMTP_PORTS = {"none": 25, "starttls": 587, "tls": 465}
_SECRETS = ("smtp_password", "webhook_secret")
_LONGEST_BACKOFF = 86400.0

# field -> environment variable where it is not BACKUPWATCH_NOTIFY_<FIELD>.
_SHARED = {
    "bootstrap_servers": "BACKUPWATCH_BOOTSTRAP_SERVERS",
    "topic_prefix": "BACKUPWATCH_TOPIC_PREFIX",
    "log_level": "BACKUPWATCH_LOG_LEVEL",
    "replication_factor": "BACKUPWATCH_REPLICATION_FACTOR",
    "create_topics": "BACKUPWATCH_CREATE_TOPICS",
    "from_address": "BACKUPWATCH_NOTIFY_FROM",
}


def variable(field: str) -> str:
    """The environment variable a field is read from."""
    return _SHARED.get(field) or f"BACKUPWATCH_NOTIFY_{field.upper()}"


@dataclass(frozen=True, slots=True)
class NotifySettings:
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "backupwatch."
    log_level: str = "info"
    # Of the topics the notifier creates (what it delivered, its dead letters): as the
    # worker's, so that a cluster that wants 3 replicas gets them for these too.
    replication_factor: int = 1
    # False: the notifier's topics were created by an admin, and are only checked.
    create_topics: bool = True
    # How to reach and log in to the brokers (BACKUPWATCH_KAFKA_*), as the worker's.
    kafka: KafkaConnection = KafkaConnection(role="notifier")
    # The notifier's own consumer group on the alerts topic.
    group: str = "backupwatch-notify"
    # No SMTP host: email is off, and an org policy naming addresses gets its alerts
    # dead-lettered (reason `not_configured`) rather than silently dropped.
    smtp_host: str = ""
    # 0: the usual port of the TLS mode (25, 587, 465).
    smtp_port: int = 0
    smtp_tls: str = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    from_address: str = "backupwatch@localhost"
    # Recipients of orgs whose policy names none.
    emails: tuple[str, ...] = ()
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str = ""
    # Base URL of the dashboard; each email links `<base>/#/devices/<device_id>`.
    dashboard_url: str = ""
    # Attempts per delivery before it goes to the dead letters.
    max_attempts: int = 8
    # One email per org and recipient every N minutes instead of one per alert; 0 = off.
    digest_minutes: int = 0
    web_host: str = "127.0.0.1"
    web_port: int = 6067
    # Backoff: attempt n waits a random time in [0, min(retry_max, retry_base * 2**(n-1))].
    retry_base: float = 1.0
    retry_max: float = 300.0
    # Seconds one SMTP or HTTP attempt may take.
    timeout: float = 10.0

    def __post_init__(self) -> None:
        check_bootstrap_servers(self.bootstrap_servers)
        if self.kafka.bootstrap_servers != self.bootstrap_servers:
            # Frozen: the one place the connection follows the servers (a replace() too).
            object.__setattr__(
                self, "kafka", replace(self.kafka, bootstrap_servers=self.bootstrap_servers)
            )
        if not self.group.strip():
            raise ConfigError("BACKUPWATCH_NOTIFY_GROUP is empty")
        if self.log_level not in _LOG_LEVELS:
            raise ConfigError(
                f"BACKUPWATCH_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, "
                f"got {self.log_level!r}"
            )
        if self.smtp_tls not in SMTP_TLS_MODES:
            raise ConfigError(
                f"BACKUPWATCH_NOTIFY_SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}, "
                f"got {self.smtp_tls!r}"
            )
        for name in ("smtp_port", "web_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise ConfigError(f"{variable(name)} must be 0..65535, got {getattr(self, name)}")
        if bool(self.smtp_username) != bool(self.smtp_password):
            raise ConfigError(
                "BACKUPWATCH_NOTIFY_SMTP_USERNAME and BACKUPWATCH_NOTIFY_SMTP_PASSWORD "
                "go together: set both or neither"
            )
        if not is_email_address(self.from_address):
            raise ConfigError(
                f"BACKUPWATCH_NOTIFY_FROM must be an email address, got {self.from_address!r}"
            )
        for address in self.emails:
            if not is_email_address(address):
                raise ConfigError(f"BACKUPWATCH_NOTIFY_EMAILS: {address!r} is not an email address")
        if self.emails and not self.smtp_host:
            raise ConfigError(
                "BACKUPWATCH_NOTIFY_EMAILS is set but BACKUPWATCH_NOTIFY_SMTP_HOST is empty"
            )
        for url in self.webhook_urls:
            if not is_http_url(url):
                raise ConfigError(
                    f"BACKUPWATCH_NOTIFY_WEBHOOK_URLS: {redact_url(url)!r} is not an http(s) URL"
                )
        if self.webhook_urls and not self.webhook_secret:
            raise ConfigError(
                "BACKUPWATCH_NOTIFY_WEBHOOK_URLS is set but BACKUPWATCH_NOTIFY_WEBHOOK_SECRET "
                "is empty: receivers could not tell our requests from forged ones"
            )
        if self.dashboard_url and not is_http_url(self.dashboard_url):
            raise ConfigError(
                f"BACKUPWATCH_NOTIFY_DASHBOARD_URL must be an http(s) URL, "
                f"got {self.dashboard_url!r}"
            )
        check_replication_factor(self.replication_factor)
        if not 1 <= self.max_attempts <= 100:
            raise ConfigError(
                f"BACKUPWATCH_NOTIFY_MAX_ATTEMPTS must be 1..100, got {self.max_attempts}"
            )
        if not 0 <= self.digest_minutes <= 7 * 24 * 60:
            raise ConfigError(
                f"BACKUPWATCH_NOTIFY_DIGEST_MINUTES must be 0..10080, got {self.digest_minutes}"
            )
        # A retrying delivery holds its lane and its partition's committed offset while
        # it waits: an endless cap would let one failing recipient stall both for good.
        if not 0 < self.retry_max <= _LONGEST_BACKOFF:
            raise ConfigError(
                f"BACKUPWATCH_NOTIFY_RETRY_MAX must be 0..{_LONGEST_BACKOFF:g} s (a day), "
                f"got {self.retry_max:g}"
            )
        if not 0 < self.retry_base <= self.retry_max:
            raise ConfigError(
                "BACKUPWATCH_NOTIFY_RETRY_BASE must be > 0 and at most "
                f"BACKUPWATCH_NOTIFY_RETRY_MAX, got {self.retry_base:g} and {self.retry_max:g}"
            )
        if not 0 < self.timeout <= 600:
            raise ConfigError(f"BACKUPWATCH_NOTIFY_TIMEOUT must be 0..600 s, got {self.timeout:g}")

    @property
    def smtp_port_or_default(self) -> int:
        return self.smtp_port or _SMTP_PORTS[self.smtp_tls]

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host)

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> NotifySettings:
        """Read every field's variable; raise `ConfigError` naming a bad one."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {"kafka": KafkaConnection.from_env(env, role="notifier")}
        fallback = env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        if fallback:
            values["bootstrap_servers"] = fallback
        defaults = cls()
        for field in fields(cls):
            if field.name == "kafka":
                continue
            name = variable(field.name)
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                continue
            values[field.name] = _parse(name, raw, getattr(defaults, field.name))
        return replace(defaults, **{**values, **overrides})

    def as_env(self) -> dict[str, str]:
        """The variables `from_env` reads back into these settings."""
        env = self.kafka.as_env()
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "kafka":
                continue
            if isinstance(value, bool):
                value = str(value).lower()
            elif isinstance(value, tuple):
                value = ",".join(value)
            elif isinstance(value, float):
                value = f"{value:g}"
            env[variable(field.name)] = str(value)
        return env

    def describe(self) -> str:
        """The settings, one per line; secrets masked, webhook URLs shown without their
        path (chat webhooks carry their token there)."""
        lines: list[str] = []
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "kafka":
                lines.extend(f"  {name:<16} {shown}" for name, shown in self.kafka.describe())
                continue
            if field.name in _SECRETS:
                value = "****" if value else "(none)"
            elif field.name == "webhook_urls":
                value = ", ".join(redact_url(url) for url in value) or "(none)"
            elif isinstance(value, tuple):
                value = ", ".join(value) or "(none)"
            elif field.name == "smtp_host" and not value:
                value = "(none: email off)"
            lines.append(f"  {field.name:<16} {value}")
        return "\n".join(lines)


def _parse(name: str, raw: str, default: object) -> object:
    text = raw.strip()
    try:
        if isinstance(default, tuple):
            return tuple(part.strip() for part in text.split(",") if part.strip())
        if isinstance(default, bool):
            if text.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                return text.lower() in ("1", "true", "yes", "on")
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        kind = type(default).__name__
        raise ConfigError(f"{name}={raw!r} is not a valid {kind}") from None
    if name in ("BACKUPWATCH_LOG_LEVEL", "BACKUPWATCH_NOTIFY_SMTP_TLS"):
        return text.lower()
    return text
