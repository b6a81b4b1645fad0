"""Where a reporter sends: an ingest URL and its token, or Kafka; read from
`BACKUPWATCH_REPORT_*` variables (flags override), validated before anything is read."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from agents.environment import EnvSettings, read_secret_file, setting
from agents.errors import ConfigError

__all__ = ["ReportSettings", "variable"]


@dataclass(frozen=True, slots=True)
class ReportSettings(EnvSettings):
    PREFIX: ClassVar[str] = "BACKUPWATCH_REPORT_"

    # The ingest endpoint, e.g. https://backupwatch.example.com/api/ingest; none = send
    # straight to Kafka (BACKUPWATCH_BOOTSTRAP_SERVERS, BACKUPWATCH_TOPIC_PREFIX).
    url: str = ""
    token: str = setting("", secret=True)
    # A file holding the token (a systemd credential, a secret mounted by Kubernetes);
    # read when sending, so that a token rotated there is the one sent.
    token_file: str = ""
    # The org the device belongs to.
    org: str = "default"

    def __post_init__(self) -> None:
        self.check_fields()
        if self.url:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(
                    f"BACKUPWATCH_REPORT_URL must be an http(s) URL, got {self.url!r}"
                )
            if not self.bearer():
                raise ConfigError(
                    "BACKUPWATCH_REPORT_URL needs a token: BACKUPWATCH_REPORT_TOKEN or "
                    "BACKUPWATCH_REPORT_TOKEN_FILE"
                )
        if not 1 <= len(self.org) <= 256:
            raise ConfigError("BACKUPWATCH_REPORT_ORG must be 1 to 256 characters")

    def bearer(self) -> str:
        if self.token:
            return self.token
        if not self.token_file:
            return ""
        return read_secret_file(self.variable("token_file"), self.token_file).strip()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ReportSettings:
        """Read the variables, then `overrides` (the command's flags) that are given."""
        env = os.environ if env is None else env
        given = {name: value for name, value in overrides.items() if value is not None}
        return cls(**{**cls.read_env(env), **given})


def variable(field: str) -> str:
    """The environment variable a field is read from."""
    return ReportSettings.variable(field)
