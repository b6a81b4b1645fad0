"""The bridge's settings, read from `BACKUPWATCH_CRASHPLAN_*` variables at start.

A secret may be given as the variable itself or as `<variable>_FILE`, the path of a
file holding it (a mounted Kubernetes or Docker secret); never both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import ClassVar
from urllib.parse import urlsplit

from agents.environment import EnvSettings, setting
from agents.errors import ConfigError
from agents.settings import Settings

__all__ = ["VARIABLES", "BridgeSettings"]

_PREFIX = "BACKUPWATCH_CRASHPLAN_"
# At least 5 min: the bridge marks new data with a byte at most once a poll, which
# keeps its marks below what the diagnosis counts as a measured transfer rate
# (`streams.diagnosis.MEASURED_BYTES_PER_DAY`: 288 a day at most against 512).
_POLL_RANGE = (timedelta(minutes=5), timedelta(days=1))


@dataclass(frozen=True, slots=True)
class BridgeSettings(EnvSettings):
    """Where the console is, how to sign in, how often to poll; Kafka as the worker's."""

    PREFIX: ClassVar[str] = _PREFIX

    url: str = ""
    kafka: Settings = setting(default_factory=Settings, read=False)
    api_client_id: str = ""
    api_client_secret: str = setting("", secret=True, from_file=True)
    username: str = ""
    password: str = setting("", secret=True, from_file=True)
    # The base32 seed of the account's authenticator (the secret its QR code holds):
    # the bridge signs in again whenever its token expires, so it makes each code itself.
    totp_secret: str = setting("", secret=True, from_file=True)
    poll_interval: timedelta = setting(
        timedelta(minutes=15), within=_POLL_RANGE, accepted="5m to 1d"
    )
    page_size: int = setting(1000, within=(1, 1000))
    max_attempts: int = setting(6, within=(1, 100))
    web_host: str = "127.0.0.1"
    web_port: int = setting(6069, within=(0, 65535))

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
        self.check_fields()

    @property
    def uses_api_client(self) -> bool:
        return bool(self.api_client_id)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kafka: object) -> BridgeSettings:
        """Read the variables; raise `ConfigError` naming the first bad one."""
        env = os.environ if env is None else env
        connection = Settings.from_env(env, role="crashplan-bridge", **kafka)
        return cls(**cls.read_env(env), kafka=connection)

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


# Every variable the bridge reads of its own (besides the worker's Kafka settings).
VARIABLES = tuple(
    BridgeSettings.variable(f.name) for f in fields(BridgeSettings) if f.name != "kafka"
) + tuple(f"{name}_FILE" for name in BridgeSettings.file_variables())
