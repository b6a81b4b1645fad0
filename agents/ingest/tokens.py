"""Ingest tokens: who may post telemetry, and for which org.

A token is given as `TOKEN` (any org) or `TOKEN:ORG` (that org only), several comma
separated in `BACKUPWATCH_INGEST_TOKENS`, or one per line in the file named by
`BACKUPWATCH_INGEST_TOKENS_FILE` (`#` starts a comment). Tokens are looked up by their
SHA-256 digest: the lookup's time does not depend on how much of a wrong token matched
a right one, and the server keeps no token in a form a log or a dump would reveal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from agents.ingest.errors import ConfigError

__all__ = ["MIN_TOKEN_LENGTH", "IngestToken", "TokenBook", "parse_tokens"]

# Shorter secrets can be guessed; `openssl rand -hex 16` gives 32 characters.
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True, slots=True)
class IngestToken:
    # A label for logs and rate limiting: the position of the token in the settings.
    name: str
    digest: bytes
    # The org its records must belong to; None = any org.
    org_id: str | None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_tokens(entries: Iterable[str], source: str) -> list[IngestToken]:
    """`TOKEN` or `TOKEN:ORG` entries to tokens; `source` names where they came from in
    the error of a bad one (never the token itself)."""
    tokens = []
    for number, raw in enumerate(entries, start=1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        secret, _, org = entry.partition(":")
        secret, org = secret.strip(), org.strip()
        if len(secret) < MIN_TOKEN_LENGTH or any(c.isspace() for c in secret):
            raise ConfigError(
                f"{source}: token {number} must be at least {MIN_TOKEN_LENGTH} characters "
                "without spaces (e.g. `openssl rand -hex 16`)"
            )
        tokens.append(IngestToken(f"token-{number}", _digest(secret), org or None))
    return tokens


class TokenBook:
    """The tokens the endpoint accepts."""

    def __init__(self, tokens: Iterable[IngestToken]) -> None:
        self._by_digest: dict[bytes, IngestToken] = {}
        for token in tokens:
            if token.digest in self._by_digest:
                raise ConfigError(f"{token.name} is given twice")
            self._by_digest[token.digest] = token

    def __len__(self) -> int:
        return len(self._by_digest)

    def find(self, authorization: str | None) -> IngestToken | None:
        """The token of an `Authorization: Bearer …` header, or None."""
        if not authorization:
            return None
        scheme, _, secret = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return None
        return self._by_digest.get(_digest(secret.strip()))

    def holds(self, secret: str) -> bool:
        return bool(secret) and _digest(secret) in self._by_digest
