"""Where a reporter sends: an ingest URL and its token, or Kafka; read from
`BACKUPWATCH_REPORT_*` variables (flags override), validated before anything is read."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agents.errors import ConfigError

__all__ = ["ReportSettings", "variable"]


def variable(field: str) -> str:
    return f"BACKUPWATCH_REPORT_{field.upper()}"


@dataclass(frozen=True, slots=True)
class ReportSettings:
    # The ingest endpoint, e.g. https://backupwatch.example.com/api/ingest; none = send
    # straight to Kafka (BACKUPWATCH_BOOTSTRAP_SERVERS, BACKUPWATCH_TOPIC_PREFIX).
    url: str = ""
    token: str = ""
    # A file holding the token (a systemd credential, a secret mounted by Kubernetes).
    token_file: str = ""
    # The org the device belongs to.
    org: str = "default"

    def __post_init__(self) -> None:
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
        try:
            return Path(self.token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
            raise ConfigError(
                f"BACKUPWATCH_REPORT_TOKEN_FILE={self.token_file}: cannot read it: {reason}"
            ) from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ReportSettings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(variable(field.name), "").strip()
            if raw:
                values[field.name] = raw
        values.update({name: value for name, value in overrides.items() if value is not None})
        return cls(**values)
