"""The bridge's settings, read from `BACKUPWATCH_CRASHPLAN_*` variables at start.

A secret may be given as the variable itself or as `<variable>_FILE`, the path of a
file holding it (a mounted Kubernetes or Docker secret); never both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from agents.errors import ConfigError
from agents.settings import Settings, _duration

__all__ = ["VARIABLES", "BridgeSettings"]

_PREFIX = "BACKUPWATCH_CRASHPLAN_"
_SECRETS = ("api_client_secret", "password", "totp_secret")
# At least 5 min: the bridge marks new data with a byte at most once a poll, which
# keeps its marks below what the diagnosis counts as a measured transfer rate
# (`streams.diagnosis.MEASURED_BYTES_PER_DAY`: 288 a day at most against 512).
_POLL_RANGE = (timedelta(minutes=5), timedelta(days=1))
_NAMES = (
    "url",
    "api_client_id",
    "api_client_secret",
    "username",
    "password",
    "totp_secret",
    "poll_interval",
    "page_size",
    "max_attempts",
    "web_host",
    "web_port",
)
# Every variable the bridge reads of its own (besides the worker's Kafka settings).
VARIABLES = tuple(f"{_PREFIX}{name.upper()}" for name in _NAMES) + tuple(
    f"{_PREFIX}{name.upper()}_FILE" for name in _SECRETS
)


def _secret(env: Mapping[str, str], name: str) -> str:
    variable = f"{_PREFIX}{name.upper()}"
    value, path = env.get(variable, ""), env.get(f"{variable}_FILE", "")
    if value and path:
        raise ConfigError(f"give {variable} or {variable}_FILE, not both")
    if not path:
        return value
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(f"{variable}_FILE={path}: {err.strerror or err}") from None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    variable = f"{_PREFIX}{name.upper()}"
    raw = env.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{variable}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{variable} must be {low}..{high}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """Where the console is, how to sign in, how often to poll; Kafka as the worker's."""

    url: str
    kafka: Settings = field(default_factory=Settings)
    api_client_id: str = ""
    api_client_secret: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    # The base32 seed of the account's authenticator (the secret its QR code holds):
    # the bridge signs in again whenever its token expires, so it makes each code itself.
    totp_secret: str = field(default="", repr=False)
    poll_interval: timedelta = timedelta(minutes=15)
    page_size: int = 1000
    max_attempts: int = 6
    web_host: str = "127.0.0.1"
    web_port: int = 6069

    def __post_init__(self) -> None:
        parts = urlsplit(self.url if "://" in self.url else f"https://{self.url}")
        if not self.url or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"{_PREFIX}URL must be the console's address, such as "
                f"https://console.us1.crashplan.com, got {self.url!r}"
            )
        api_client = bool(self.api_client_id or self.api_client_secret)
        account = bool(self.username or self.password)
        if api_client == account:
            raise ConfigError(
                f"sign in with an API client ({_PREFIX}API_CLIENT_ID and "
                f"{_PREFIX}API_CLIENT_SECRET) or a local account ({_PREFIX}USERNAME and "
                f"{_PREFIX}PASSWORD), one of the two"
            )
        if api_client and not (self.api_client_id and self.api_client_secret):
            raise ConfigError(f"{_PREFIX}API_CLIENT_ID and {_PREFIX}API_CLIENT_SECRET go together")
        if account and not (self.username and self.password):
            raise ConfigError(f"{_PREFIX}USERNAME and {_PREFIX}PASSWORD go together")
        if self.totp_secret and not account:
            raise ConfigError(f"{_PREFIX}TOTP_SECRET is for a local account")
        low, high = _POLL_RANGE
        if not low <= self.poll_interval <= high:
            raise ConfigError(
                f"{_PREFIX}POLL_INTERVAL must be 5m to 1d, "
                f"got {self.poll_interval.total_seconds():g}s"
            )

    @property
    def uses_api_client(self) -> bool:
        return bool(self.api_client_id)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kafka: object) -> BridgeSettings:
        """Read the variables; raise `ConfigError` naming the first bad one."""
        env = os.environ if env is None else env
        raw_interval = env.get(f"{_PREFIX}POLL_INTERVAL", "").strip()
        interval = timedelta(minutes=15)
        if raw_interval:
            parsed = _duration(raw_interval)
            if parsed is None:
                raise ConfigError(
                    f"{_PREFIX}POLL_INTERVAL={raw_interval!r} is not a duration such as 15m"
                )
            interval = parsed
        return cls(
            url=env.get(f"{_PREFIX}URL", "").strip(),
            kafka=Settings.from_env(env, role="crashplan-bridge", **kafka),
            api_client_id=env.get(f"{_PREFIX}API_CLIENT_ID", "").strip(),
            api_client_secret=_secret(env, "api_client_secret"),
            username=env.get(f"{_PREFIX}USERNAME", "").strip(),
            password=_secret(env, "password"),
            totp_secret=_secret(env, "totp_secret"),
            poll_interval=interval,
            page_size=_int(env, "page_size", 1000, 1, 1000),
            max_attempts=_int(env, "max_attempts", 6, 1, 100),
            web_host=env.get(f"{_PREFIX}WEB_HOST", "").strip() or "127.0.0.1",
            web_port=_int(env, "web_port", 6069, 0, 65535),
        )

    def describe(self) -> str:
        """The settings, one per line, secrets masked."""
        signed_in = (
            f"API client {self.api_client_id}"
            if self.uses_api_client
            else f"local account {self.username}" + (" with TOTP" if self.totp_secret else "")
        )
        lines = [
            f"  {'console':<18} {self.url}",
            f"  {'sign-in':<18} {signed_in} (secret ****)",
            f"  {'poll_interval':<18} {self.poll_interval.total_seconds():g}s",
            f"  {'page_size':<18} {self.page_size}",
            f"  {'max_attempts':<18} {self.max_attempts}",
            f"  {'metrics':<18} http://{self.web_host}:{self.web_port}/metrics",
            f"  {'bootstrap_servers':<18} {self.kafka.bootstrap_servers}",
            f"  {'topic_prefix':<18} {self.kafka.topic_prefix}",
        ]
        return "\n".join(lines)
