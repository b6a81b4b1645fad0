"""The notifier's settings: one typed object from `BACKUPWATCH_*` variables, validated.

The shared variables (`BACKUPWATCH_BOOTSTRAP_SERVERS`, `BACKUPWATCH_TOPIC_PREFIX`,
`BACKUPWATCH_LOG_LEVEL`) mean what they mean for the worker; everything else is
`BACKUPWATCH_NOTIFY_*`.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import orjson

from agents import webhook_targets
from agents.kafka.connection import KafkaConnection
from agents.notify.errors import ConfigError
from agents.settings import (
    check_bootstrap_servers,
    check_replication_factor,
    check_web_max_connections,
)
from schemas.recipients import is_email_address, is_http_url, is_target_name, redact_url

__all__ = ["APPRISE_PREFIX", "FILE_VARIABLES", "SMTP_TLS_MODES", "NotifySettings", "variable"]

SMTP_TLS_MODES = ("none", "starttls", "tls")
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# The port each TLS mode is usually served on, when BACKUPWATCH_NOTIFY_SMTP_PORT is unset.
_SMTP_PORTS = {"none": 25, "starttls": 587, "tls": 465}
_SECRETS = ("smtp_password", "webhook_secret")
# `BACKUPWATCH_NOTIFY_APPRISE_OPS_SLACK=slack://…` names the Apprise target `ops-slack`.
APPRISE_PREFIX = "BACKUPWATCH_NOTIFY_APPRISE_"
# Secrets may come from a file instead (a mounted Kubernetes or Docker secret):
# `<VARIABLE>_FILE=/path` reads the value from /path.
FILE_VARIABLES = (
    "BACKUPWATCH_NOTIFY_SMTP_PASSWORD",
    "BACKUPWATCH_NOTIFY_WEBHOOK_SECRET",
    "BACKUPWATCH_NOTIFY_SECRETS",
)
# Standard Webhooks: a secret of 24 to 64 random bytes, base64, usually `whsec_…`.
_SECRET_BYTES = (24, 64)
_LONGEST_BACKOFF = 86400.0

# field -> environment variable where it is not BACKUPWATCH_NOTIFY_<FIELD>.
_SHARED = {
    "bootstrap_servers": "BACKUPWATCH_BOOTSTRAP_SERVERS",
    "topic_prefix": "BACKUPWATCH_TOPIC_PREFIX",
    "log_level": "BACKUPWATCH_LOG_LEVEL",
    "log_format": "BACKUPWATCH_LOG_FORMAT",
    "replication_factor": "BACKUPWATCH_REPLICATION_FACTOR",
    "create_topics": "BACKUPWATCH_CREATE_TOPICS",
    "from_address": "BACKUPWATCH_NOTIFY_FROM",
    "webhook_internal_hosts": "BACKUPWATCH_WEBHOOK_INTERNAL_HOSTS",
    # Both come from one YAML (or JSON) document of secrets; Apprise targets may also
    # be given one variable each (APPRISE_PREFIX).
    "apprise": "BACKUPWATCH_NOTIFY_SECRETS",
    "webhook_secrets": "BACKUPWATCH_NOTIFY_SECRETS",
}


def variable(field: str) -> str:
    """The environment variable a field is read from."""
    return _SHARED.get(field) or f"BACKUPWATCH_NOTIFY_{field.upper()}"


@dataclass(frozen=True, slots=True)
class NotifySettings:
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "backupwatch."
    log_level: str = "info"
    # `text` or `json` (one JSON object a line), as for the worker.
    log_format: str = "text"
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
    # The Standard Webhooks signing secret of orgs without one of their own; two, separated
    # by a space, while rotating (both signatures are sent).
    webhook_secret: str = ""
    # Hosts webhooks may point at although they are loopback or link-local
    # (agents.webhook_targets); shared with the worker, whose API checks policies.
    webhook_internal_hosts: tuple[str, ...] = ()
    # Webhooks without a signing secret are sent unsigned only when this says so.
    webhook_unsigned: bool = False
    # Per org id (or per webhook URL): its signing secrets, the newest first.
    webhook_secrets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Apprise targets by name: policies name them, the URLs (tokens inside) stay here.
    apprise: tuple[tuple[str, str], ...] = ()
    # Base URL of the dashboard; each email links `<base>/#/devices/<device_id>`.
    dashboard_url: str = ""
    # Attempts per delivery before it goes to the dead letters.
    max_attempts: int = 8
    # One email per org and recipient every N minutes instead of one per alert; 0 = off.
    digest_minutes: int = 0
    web_host: str = "127.0.0.1"
    web_port: int = 6067
    # Connections the web server holds at once, as BACKUPWATCH_WEB_MAX_CONNECTIONS.
    web_max_connections: int = 1000
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
        if self.log_format not in ("text", "json"):
            raise ConfigError(
                f"BACKUPWATCH_LOG_FORMAT must be text or json, got {self.log_format!r}"
            )
        if self.smtp_tls not in SMTP_TLS_MODES:
            raise ConfigError(
                f"BACKUPWATCH_NOTIFY_SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}, "
                f"got {self.smtp_tls!r}"
            )
        for name in ("smtp_port", "web_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise ConfigError(f"{variable(name)} must be 0..65535, got {getattr(self, name)}")
        check_web_max_connections(self.web_max_connections, variable("web_max_connections"))
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
            refused = webhook_targets.refusal(url, self.webhook_internal_hosts)
            if refused is not None:
                raise ConfigError(
                    f"BACKUPWATCH_NOTIFY_WEBHOOK_URLS: {redact_url(url)!r}: {refused}; "
                    f"{webhook_targets.RULE}"
                )
        if self.webhook_urls and not self.webhook_secret and not self.webhook_unsigned:
            raise ConfigError(
                "BACKUPWATCH_NOTIFY_WEBHOOK_URLS is set but BACKUPWATCH_NOTIFY_WEBHOOK_SECRET "
                "is empty: receivers could not tell our requests from forged ones "
                "(BACKUPWATCH_NOTIFY_WEBHOOK_UNSIGNED=true sends them unsigned)"
            )
        _check_signing_secrets("BACKUPWATCH_NOTIFY_WEBHOOK_SECRET", self.default_secrets)
        for owner, secrets in self.webhook_secrets:
            shown = redact_url(owner) if "://" in owner else owner
            if not secrets:
                raise ConfigError(
                    f"BACKUPWATCH_NOTIFY_SECRETS: webhook_secrets of {shown!r} is empty"
                )
            _check_signing_secrets(
                f"BACKUPWATCH_NOTIFY_SECRETS: webhook_secrets of {shown!r}", secrets
            )
        for name, url in self.apprise:
            if not is_target_name(name):
                raise ConfigError(
                    f"Apprise target name {name!r} must be lower-case letters, digits, '-' "
                    "and '_' (at most 64)"
                )
            from agents.notify.channels.apprise import url_problem

            problem = url_problem(url)
            if problem is not None:
                raise ConfigError(f"Apprise target {name!r}: {problem}")
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
    def default_secrets(self) -> tuple[str, ...]:
        return tuple(self.webhook_secret.split())

    def secrets_for(self, org_id: str, url: str) -> tuple[str, ...]:
        """The signing secrets of a webhook: its own, else its org's, else the default."""
        own = dict(self.webhook_secrets)
        return own.get(url) or own.get(org_id) or self.default_secrets

    @property
    def apprise_names(self) -> tuple[str, ...]:
        return tuple(sorted(name for name, _ in self.apprise))

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
            if name == "BACKUPWATCH_NOTIFY_SECRETS":
                continue
            raw = _value(env, name)
            if raw is None or raw.strip() == "":
                continue
            values[field.name] = _parse(name, raw, getattr(defaults, field.name))
        document = _value(env, "BACKUPWATCH_NOTIFY_SECRETS")
        apprise, webhook_secrets = _secrets_document(document or "")
        for name, raw in env.items():
            if name.startswith(APPRISE_PREFIX) and raw.strip():
                target = name[len(APPRISE_PREFIX) :]
                if target.endswith("_FILE"):
                    target, raw = target[: -len("_FILE")], _read_file(name, raw)
                apprise[target.lower().replace("_", "-")] = raw.strip()
        values["apprise"] = tuple(sorted(apprise.items()))
        values["webhook_secrets"] = tuple(sorted(webhook_secrets.items()))
        return replace(defaults, **{**values, **overrides})

    def as_env(self) -> dict[str, str]:
        """The variables `from_env` reads back into these settings."""
        env = self.kafka.as_env()
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in ("kafka", "apprise", "webhook_secrets"):
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, tuple):
                value = ",".join(value)
            elif isinstance(value, float):
                value = f"{value:g}"
            env[variable(field.name)] = str(value)
        env["BACKUPWATCH_NOTIFY_SECRETS"] = orjson.dumps(
            {
                "apprise": dict(self.apprise),
                "webhook_secrets": {k: list(v) for k, v in self.webhook_secrets},
            }
        ).decode()
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
            elif field.name == "apprise":
                # The scheme says which service; the rest of the URL is its token.
                value = ", ".join(f"{n} ({u.partition(':')[0]}://****)" for n, u in value)
                value = value or "(none)"
            elif field.name == "webhook_secrets":
                value = ", ".join(
                    f"{redact_url(k) if '://' in k else k}: {len(v)} × ****" for k, v in value
                )
                value = value or "(none)"
            elif field.name == "webhook_urls":
                value = ", ".join(redact_url(url) for url in value) or "(none)"
            elif isinstance(value, tuple):
                value = ", ".join(value) or "(none)"
            elif field.name == "smtp_host" and not value:
                value = "(none: email off)"
            lines.append(f"  {field.name:<16} {value}")
        return "\n".join(lines)


def _read_file(name: str, path: str) -> str:
    try:
        return Path(path.strip()).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"{name}: cannot read {path.strip()!r} ({err.__class__.__name__})"
        ) from None


def _value(env: Mapping[str, str], name: str) -> str | None:
    """A variable's value, or the content of the file its `_FILE` variant names."""
    raw = env.get(name)
    if (raw is None or not raw.strip()) and name in FILE_VARIABLES and env.get(f"{name}_FILE"):
        return _read_file(f"{name}_FILE", env[f"{name}_FILE"]).strip()
    return raw


def _secrets_document(text: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """`apprise: {name: url}` and `webhook_secrets: {org id or URL: secret or [secrets]}`
    from YAML (or JSON, which is YAML)."""
    if not text.strip():
        return {}, {}
    import yaml

    where = "BACKUPWATCH_NOTIFY_SECRETS"
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{where} is not YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{where} must be a mapping with `apprise` and/or `webhook_secrets`")
    unknown = sorted(set(document) - {"apprise", "webhook_secrets"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known: apprise, webhook_secrets")
    apprise = document.get("apprise") or {}
    signing = document.get("webhook_secrets") or {}
    if not isinstance(apprise, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in apprise.items()
    ):
        raise ConfigError(f"{where}: `apprise` must map target names to Apprise URLs")
    if not isinstance(signing, dict):
        raise ConfigError(f"{where}: `webhook_secrets` must map org ids (or URLs) to secrets")
    secrets: dict[str, tuple[str, ...]] = {}
    for owner, value in signing.items():
        listed = [value] if isinstance(value, str) else value
        if not isinstance(owner, str) or not isinstance(listed, list):
            raise ConfigError(f"{where}: `webhook_secrets` must map org ids to secrets")
        secrets[owner] = tuple(str(v).strip() for v in listed)
    return {k: v.strip() for k, v in apprise.items()}, secrets


def _check_signing_secrets(where: str, secrets: tuple[str, ...]) -> None:
    if len(secrets) > 2:
        raise ConfigError(f"{where}: at most two secrets (the new and the old while rotating)")
    low, high = _SECRET_BYTES
    for index, secret in enumerate(secrets, 1):
        raw = secret.removeprefix("whsec_")
        try:
            size = len(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError):
            size = -1
        if not low <= size <= high:
            raise ConfigError(
                f"{where}: secret {index} must be `whsec_` and the base64 of {low} to {high} "
                "random bytes (e.g. `echo whsec_$(openssl rand -base64 32)`)"
            )


def _parse(name: str, raw: str, default: object) -> object:
    text = raw.strip()
    try:
        if isinstance(default, tuple):
            return tuple(part.strip() for part in text.split(",") if part.strip())
        if isinstance(default, bool):
            if text.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError(text)
            return text.lower() in ("1", "true", "yes", "on")
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
