"""The notifier's settings: one typed object from `BACKUPWATCH_*` variables, validated
at start (agents/environment.py, as every process's).

The shared variables (`BACKUPWATCH_BOOTSTRAP_SERVERS`, `BACKUPWATCH_TOPIC_PREFIX`,
`BACKUPWATCH_LOG_LEVEL`, ...) mean what they mean for the worker; everything else is
`BACKUPWATCH_NOTIFY_*`.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import orjson

from agents import webhook_targets
from agents.environment import read_secret, setting
from agents.kafka.connection import KafkaConnection
from agents.notify.errors import ConfigError
from agents.settings import (
    ProcessSettings,
    create_topics_setting,
    follow_servers,
    replication_factor_setting,
    web_max_connections_setting,
)
from schemas.recipients import is_email_address, is_http_url, is_target_name, redact_url

__all__ = ["APPRISE_PREFIX", "FILE_VARIABLES", "SMTP_TLS_MODES", "NotifySettings", "variable"]

SMTP_TLS_MODES = ("none", "starttls", "tls")
# The port each TLS mode is usually served on, when BACKUPWATCH_NOTIFY_SMTP_PORT is unset.
_SMTP_PORTS = {"none": 25, "starttls": 587, "tls": 465}
# `BACKUPWATCH_NOTIFY_APPRISE_OPS_SLACK=slack://…` names the Apprise target `ops-slack`.
APPRISE_PREFIX = "BACKUPWATCH_NOTIFY_APPRISE_"
# One YAML (or JSON) document of secrets: Apprise targets and webhook signing secrets.
_SECRETS = "BACKUPWATCH_NOTIFY_SECRETS"
# Standard Webhooks: a secret of 24 to 64 random bytes, base64, usually `whsec_…`.
_SECRET_BYTES = (24, 64)
_LONGEST_BACKOFF = 86400.0


def _required(value: str, variable: str) -> None:
    if not value.strip():
        raise ConfigError(f"{variable} is empty")


def _show_apprise(apprise: tuple[tuple[str, str], ...]) -> str:
    # The scheme says which service; the rest of the URL is its token.
    shown = ", ".join(f"{n} ({u.partition(':')[0]}://****)" for n, u in apprise)
    return shown or "(none)"


def _show_signing(secrets: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    shown = ", ".join(f"{redact_url(k) if '://' in k else k}: {len(v)} × ****" for k, v in secrets)
    return shown or "(none)"


def _show_urls(urls: tuple[str, ...]) -> str:
    # Chat webhooks carry their token in the path: shown without it.
    return ", ".join(redact_url(url) for url in urls) or "(none)"


@dataclass(frozen=True, slots=True)
class NotifySettings(ProcessSettings):
    PREFIX: ClassVar[str] = "BACKUPWATCH_NOTIFY_"
    DESCRIBE_WIDTH: ClassVar[int] = 16

    # Of the topics the notifier creates (what it delivered, its dead letters): as the
    # worker's, so that a cluster that wants 3 replicas gets them for these too.
    replication_factor: int = replication_factor_setting()
    # False: the notifier's topics were created by an admin, and are only checked.
    create_topics: bool = create_topics_setting()
    # How to reach and log in to the brokers (BACKUPWATCH_KAFKA_*), as the worker's.
    kafka: KafkaConnection = setting(KafkaConnection(role="notifier"), read=False)
    # The notifier's own consumer group on the alerts topic.
    group: str = setting("backupwatch-notify", check=_required)
    # No SMTP host: email is off, and an org policy naming addresses gets its alerts
    # dead-lettered (reason `not_configured`) rather than silently dropped.
    smtp_host: str = setting("", empty="(none: email off)")
    # 0: the usual port of the TLS mode (25, 587, 465).
    smtp_port: int = setting(0, within=(0, 65535))
    smtp_tls: str = setting("starttls", choices=SMTP_TLS_MODES, case="lower")
    smtp_username: str = ""
    smtp_password: str = setting("", secret=True, from_file=True)
    from_address: str = setting("backupwatch@localhost", variable="BACKUPWATCH_NOTIFY_FROM")
    # Recipients of orgs whose policy names none.
    emails: tuple[str, ...] = ()
    webhook_urls: tuple[str, ...] = setting((), show=_show_urls)
    # The Standard Webhooks signing secret of orgs without one of their own; two, separated
    # by a space, while rotating (both signatures are sent).
    webhook_secret: str = setting("", secret=True, from_file=True)
    # Hosts webhooks may point at although they are loopback or link-local
    # (agents.webhook_targets); shared with the worker, whose API checks policies.
    webhook_internal_hosts: tuple[str, ...] = setting(
        (), variable="BACKUPWATCH_WEBHOOK_INTERNAL_HOSTS"
    )
    # Webhooks without a signing secret are sent unsigned only when this says so.
    webhook_unsigned: bool = False
    # Per org id (or per webhook URL): its signing secrets, the newest first. Read, with
    # `apprise`, from the one document of secrets.
    webhook_secrets: tuple[tuple[str, tuple[str, ...]], ...] = setting(
        (), variable=_SECRETS, read=False, show=_show_signing
    )
    # Apprise targets by name: policies name them, the URLs (tokens inside) stay here;
    # also one variable each (APPRISE_PREFIX).
    apprise: tuple[tuple[str, str], ...] = setting(
        (), variable=_SECRETS, read=False, show=_show_apprise
    )
    # Base URL of the dashboard; each email links `<base>/#/devices/<device_id>`.
    dashboard_url: str = ""
    # Attempts per delivery before it goes to the dead letters.
    max_attempts: int = setting(8, within=(1, 100))
    # One email per org and recipient every N minutes instead of one per alert; 0 = off.
    digest_minutes: int = setting(0, within=(0, 7 * 24 * 60))
    web_host: str = "127.0.0.1"
    web_port: int = setting(6067, within=(0, 65535))
    # Connections the web server holds at once, as BACKUPWATCH_WEB_MAX_CONNECTIONS.
    web_max_connections: int = web_max_connections_setting()
    # Backoff: attempt n waits a random time in [0, min(retry_max, retry_base * 2**(n-1))].
    retry_base: float = 1.0
    retry_max: float = 300.0
    # Seconds one SMTP or HTTP attempt may take.
    timeout: float = 10.0

    def __post_init__(self) -> None:
        follow_servers(self)
        self.check_fields()
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> NotifySettings:
        """Read every field's variable; raise `ConfigError` naming a bad one."""
        env = os.environ if env is None else env
        values = cls.read_env(env)
        values["kafka"] = KafkaConnection.from_env(env, role="notifier")
        apprise, webhook_secrets = _secrets_document(read_secret(env, _SECRETS) or "")
        targets = {
            name[len(APPRISE_PREFIX) :].removesuffix("_FILE")
            for name, raw in env.items()
            if name.startswith(APPRISE_PREFIX) and raw.strip()
        }
        for target in sorted(targets):
            url = read_secret(env, f"{APPRISE_PREFIX}{target}")
            if url and url.strip():
                apprise[target.lower().replace("_", "-")] = url.strip()
        values["apprise"] = tuple(sorted(apprise.items()))
        values["webhook_secrets"] = tuple(sorted(webhook_secrets.items()))
        return replace(cls(), **{**values, **overrides})

    def as_env(self) -> dict[str, str]:
        """The variables `from_env` reads back into these settings."""
        env = {**self.kafka.as_env(), **super(NotifySettings, self).as_env()}
        env[_SECRETS] = orjson.dumps(
            {
                "apprise": dict(self.apprise),
                "webhook_secrets": {k: list(v) for k, v in self.webhook_secrets},
            }
        ).decode()
        env[f"{_SECRETS}_FILE"] = ""
        return env


def variable(field: str) -> str:
    """The environment variable a field is read from."""
    return NotifySettings.variable(field)


# Secrets may come from a file instead (a mounted Kubernetes or Docker secret):
# `<VARIABLE>_FILE=/path` reads the value from /path.
FILE_VARIABLES = (*NotifySettings.file_variables(), _SECRETS)


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
