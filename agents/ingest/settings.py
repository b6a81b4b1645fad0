"""The ingest endpoint's settings: one typed object from `BACKUPWATCH_*` variables,
validated at start.

The shared variables (`BACKUPWATCH_BOOTSTRAP_SERVERS`, `BACKUPWATCH_TOPIC_PREFIX`,
`BACKUPWATCH_LOG_LEVEL`, `BACKUPWATCH_LOG_FORMAT`, `BACKUPWATCH_API_TOKEN`) mean what
they mean for the worker; everything else is `BACKUPWATCH_INGEST_*`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from agents.environment import setting
from agents.ingest.errors import ConfigError
from agents.ingest.tokens import TokenBook, parse_tokens
from agents.settings import (
    ProcessSettings,
)

__all__ = ["IngestSettings", "variable"]


@dataclass(frozen=True, slots=True)
class IngestSettings(ProcessSettings):
    PREFIX: ClassVar[str] = "BACKUPWATCH_INGEST_"
    DESCRIBE_WIDTH: ClassVar[int] = 18

    # Read only to refuse an ingest token equal to it (or to one in its file): an
    # endpoint's token, copied to every machine of a fleet, must never open the admin
    # writes.
    admin_token: str = setting("", variable="BACKUPWATCH_API_TOKEN", secret=True)
    admin_token_file: str = setting("", variable="BACKUPWATCH_API_TOKEN_FILE")
    web_host: str = "127.0.0.1"
    web_port: int = setting(6069, within=(0, 65535))
    # `TOKEN` or `TOKEN:ORG`, comma separated; and/or a file of them, one a line.
    tokens: str = setting("", secret=True)
    tokens_file: str = ""
    # Requests a second per token, and how many at once after a quiet spell.
    rate: float = 20.0
    burst: int = setting(40, within=(1, 100_000))
    # A batch's limits: records, and bytes of the body. At least one record of the
    # largest size the codec takes; at most what a request may make the server hold.
    max_records: int = setting(1000, within=(1, 100_000))
    max_bytes: int = setting(1024 * 1024, within=(64 * 1024, 64 * 1024 * 1024))
    # Seconds to wait for the broker to acknowledge a request's records before the
    # answer is a 503 (and the client sends again).
    ack_timeout: float = 30.0

    def __post_init__(self) -> None:
        self.check_fields()
        if not 0 < self.rate <= 100_000:
            raise ConfigError(f"BACKUPWATCH_INGEST_RATE must be 0..100000, got {self.rate:g}")
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> IngestSettings:
        """Read every field's variable; raise `ConfigError` naming a bad one."""
        env = os.environ if env is None else env
        # Validated once, with every value in place (the defaults alone have no token).
        return cls(**{**cls.read_env(env), **overrides})


def variable(field: str) -> str:
    """The environment variable a field is read from."""
    return IngestSettings.variable(field)
