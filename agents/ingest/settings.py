"""The ingest endpoint's settings: one typed object from `BACKUPWATCH_*` variables,
validated at start.

The shared variables (`BACKUPWATCH_BOOTSTRAP_SERVERS`, `BACKUPWATCH_TOPIC_PREFIX`,
`BACKUPWATCH_LOG_LEVEL`, `BACKUPWATCH_LOG_FORMAT`, `BACKUPWATCH_API_TOKEN`) mean what
they mean for the worker; everything else is `BACKUPWATCH_INGEST_*`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from agents.ingest.errors import ConfigError
from agents.ingest.tokens import TokenBook, parse_tokens
from agents.settings import check_bootstrap_servers

__all__ = ["IngestSettings", "variable"]

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_SECRETS = ("tokens", "admin_token")
_SHARED = {
    "bootstrap_servers": "BACKUPWATCH_BOOTSTRAP_SERVERS",
    "topic_prefix": "BACKUPWATCH_TOPIC_PREFIX",
    "log_level": "BACKUPWATCH_LOG_LEVEL",
    "log_format": "BACKUPWATCH_LOG_FORMAT",
    "admin_token": "BACKUPWATCH_API_TOKEN",
    "admin_token_file": "BACKUPWATCH_API_TOKEN_FILE",
}


def variable(field: str) -> str:
    """The environment variable a field is read from."""
    return _SHARED.get(field) or f"BACKUPWATCH_INGEST_{field.upper()}"


@dataclass(frozen=True, slots=True)
class IngestSettings:
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "backupwatch."
    log_level: str = "info"
    # `text` lines for a person, `json` objects for a log pipeline.
    log_format: str = "text"
    # Read only to refuse an ingest token equal to it (or to one in its file): an
    # endpoint's token, copied to every machine of a fleet, must never open the admin
    # writes.
    admin_token: str = ""
    admin_token_file: str = ""
    web_host: str = "127.0.0.1"
    web_port: int = 6069
    # `TOKEN` or `TOKEN:ORG`, comma separated; and/or a file of them, one a line.
    tokens: str = ""
    tokens_file: str = ""
    # Requests a second per token, and how many at once after a quiet spell.
    rate: float = 20.0
    burst: int = 40
    # A batch's limits: records, and bytes of the body.
    max_records: int = 1000
    max_bytes: int = 1024 * 1024
    # Seconds to wait for the broker to acknowledge a request's records before the
    # answer is a 503 (and the client sends again).
    ack_timeout: float = 30.0

    def __post_init__(self) -> None:
        check_bootstrap_servers(self.bootstrap_servers)
        if self.log_level not in _LOG_LEVELS:
            raise ConfigError(
                f"BACKUPWATCH_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, "
                f"got {self.log_level!r}"
            )
        if self.log_format not in ("text", "json"):
            raise ConfigError(
                f"BACKUPWATCH_LOG_FORMAT must be text or json, got {self.log_format!r}"
            )
        if not 0 <= self.web_port <= 65535:
            raise ConfigError(f"BACKUPWATCH_INGEST_WEB_PORT must be 0..65535, got {self.web_port}")
        if not 0 < self.rate <= 100_000:
            raise ConfigError(f"BACKUPWATCH_INGEST_RATE must be 0..100000, got {self.rate:g}")
        if not 1 <= self.burst <= 100_000:
            raise ConfigError(f"BACKUPWATCH_INGEST_BURST must be 1..100000, got {self.burst}")
        if not 1 <= self.max_records <= 100_000:
            raise ConfigError(
                f"BACKUPWATCH_INGEST_MAX_RECORDS must be 1..100000, got {self.max_records}"
            )
        # At least one record of the largest size the codec takes; at most what a
        # request may make the server hold in memory.
        if not 64 * 1024 <= self.max_bytes <= 64 * 1024 * 1024:
            raise ConfigError(
                f"BACKUPWATCH_INGEST_MAX_BYTES must be 65536..67108864, got {self.max_bytes}"
            )
        if not 0 < self.ack_timeout <= 600:
            raise ConfigError(
                f"BACKUPWATCH_INGEST_ACK_TIMEOUT must be 0..600 s, got {self.ack_timeout:g}"
            )
        book = self.token_book()
        if not len(book):
            raise ConfigError(
                "no ingest token: set BACKUPWATCH_INGEST_TOKENS or BACKUPWATCH_INGEST_TOKENS_FILE"
            )
        if any(book.holds(admin) for admin in self._admin_tokens()):
            raise ConfigError(
                "an ingest token equals BACKUPWATCH_API_TOKEN: give endpoints tokens of "
                "their own, which cannot change policies or devices"
            )

    def _admin_tokens(self) -> list[str]:
        tokens = [self.admin_token]
        if self.admin_token_file:
            try:
                text = Path(self.admin_token_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                # The worker, which reads it, says what is wrong with it.
                text = ""
            tokens += [line.split("#", 1)[0].strip() for line in text.splitlines()]
        return tokens

    def token_book(self) -> TokenBook:
        """The tokens of both variables; raises `ConfigError` naming a bad one."""
        tokens = parse_tokens(self.tokens.split(","), "BACKUPWATCH_INGEST_TOKENS")
        if self.tokens_file:
            try:
                text = Path(self.tokens_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
                raise ConfigError(
                    f"BACKUPWATCH_INGEST_TOKENS_FILE={self.tokens_file}: cannot read it: {reason}"
                ) from None
            from_file = parse_tokens(text.splitlines(), "BACKUPWATCH_INGEST_TOKENS_FILE")
            offset = len(tokens)
            tokens += [replace(t, name=f"token-{offset + i}") for i, t in enumerate(from_file, 1)]
        return TokenBook(tokens)

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> IngestSettings:
        """Read every field's variable; raise `ConfigError` naming a bad one."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        fallback = env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        if fallback:
            values["bootstrap_servers"] = fallback
        for field in fields(cls):
            name = variable(field.name)
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                continue
            values[field.name] = _parse(name, raw, field.type)
        values.update(overrides)
        # Validated once, with every value in place (the defaults alone have no token).
        return cls(**values)

    def as_env(self) -> dict[str, str]:
        """The variables `from_env` reads back into these settings."""
        env = {}
        for field in fields(self):
            value = getattr(self, field.name)
            env[variable(field.name)] = f"{value:g}" if isinstance(value, float) else str(value)
        return env

    def describe(self) -> str:
        """The settings, one per line; secrets masked."""
        lines = []
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in _SECRETS:
                value = "****" if value else "(none)"
            lines.append(f"  {field.name:<18} {value}")
        return "\n".join(lines)


def _parse(name: str, raw: str, kind: object) -> object:
    text = raw.strip()
    try:
        if kind in ("int", int):
            return int(text)
        if kind in ("float", float):
            return float(text)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind}") from None
    return text.lower() if name in ("BACKUPWATCH_LOG_LEVEL", "BACKUPWATCH_LOG_FORMAT") else text
