"""OAUTHBEARER tokens for the Kafka clients: from a file, a command, or Amazon MSK IAM.

aiokafka asks its token provider for a token at every new connection. Each provider
keeps its token until most of its lifetime has passed (the `exp` of a JWT, the expiry
the MSK signer gives) and fetches a fresh one then, so that a long-running worker
never logs in with a token about to expire and a file rotated by a sidecar is picked
up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka.abc import AbstractTokenProvider

from agents.kafka.errors import ConfigError, KafkaRefused

__all__ = [
    "CommandTokenProvider",
    "FileTokenProvider",
    "MskIamTokenProvider",
    "jwt_expiry",
    "require_msk_signer",
]

log = logging.getLogger(__name__)

# A token without a known expiry (not a JWT) is fetched again after this long.
UNKNOWN_LIFETIME = 60.0
# Refreshed once this share of its lifetime has passed.
REFRESH_AT = 0.8
COMMAND_TIMEOUT = 30.0
_MSK_EXTRA = "pip install 'backupwatch[msk]'"


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim (epoch seconds) of a JWT, or None for any other token."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


class _RefreshingToken(AbstractTokenProvider):  # type: ignore[misc]
    """A token kept until `REFRESH_AT` of its lifetime has passed."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._token = ""
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            now = self._clock()
            if not self._token or now >= self._refresh_at:
                token, expires_at = await self._fetch()
                lifetime = (expires_at - now) if expires_at is not None else UNKNOWN_LIFETIME
                self._token = token
                self._refresh_at = now + max(lifetime, 0.0) * REFRESH_AT
            return self._token

    async def _fetch(self) -> tuple[str, float | None]:
        """(token, its expiry in epoch seconds or None)."""
        raise NotImplementedError


class FileTokenProvider(_RefreshingToken):
    """The token in a file (BACKUPWATCH_KAFKA_OAUTH_TOKEN_PATH), read again before it
    expires."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.path = path

    async def _fetch(self) -> tuple[str, float | None]:
        try:
            token = (await asyncio.to_thread(self.path.read_text, encoding="utf-8")).strip()
        except (OSError, UnicodeDecodeError) as err:
            raise KafkaRefused(
                f"cannot read the OAUTHBEARER token file {self.path} "
                f"(BACKUPWATCH_KAFKA_OAUTH_TOKEN_PATH): {err}"
            ) from None
        if not token:
            raise KafkaRefused(f"the OAUTHBEARER token file {self.path} is empty")
        return token, jwt_expiry(token)


class CommandTokenProvider(_RefreshingToken):
    """The token a command prints (BACKUPWATCH_KAFKA_OAUTH_TOKEN_COMMAND), run again
    before it expires. The command is split like a shell would, but run without one."""

    def __init__(self, command: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.argv = shlex.split(command)

    async def _fetch(self) -> tuple[str, float | None]:
        name = "BACKUPWATCH_KAFKA_OAUTH_TOKEN_COMMAND"
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
        except OSError as err:
            raise KafkaRefused(f"{name}: cannot run {self.argv[0]!r}: {err}") from None
        try:
            out, err_out = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise KafkaRefused(f"{name} gave no token within {COMMAND_TIMEOUT:g} s") from None
        if process.returncode != 0:
            tail = err_out.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise KafkaRefused(f"{name} exited with {process.returncode}: {tail[0]}")
        token = out.decode(errors="replace").strip()
        if not token:
            raise KafkaRefused(f"{name} printed no token")
        return token, jwt_expiry(token)


def require_msk_signer() -> None:
    """Raise `ConfigError` unless Amazon's MSK IAM signer library is installed."""
    try:
        import aws_msk_iam_sasl_signer  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"BACKUPWATCH_KAFKA_SASL_MECHANISM=AWS_MSK_IAM needs the MSK IAM signer: {_MSK_EXTRA}"
        ) from None


class MskIamTokenProvider(_RefreshingToken):
    """An Amazon MSK IAM token from `aws_msk_iam_sasl_signer`, signed with the AWS
    credentials of the process (environment, profile, instance or pod role) and
    renewed before it expires (the signer's tokens last 15 minutes)."""

    def __init__(
        self, region: str, signer: Any = None, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(clock)
        if signer is None:
            from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

            signer = MSKAuthTokenProvider
        self.region = region
        self.signer = signer

    async def _fetch(self) -> tuple[str, float | None]:
        try:
            token, expiry_ms = await asyncio.to_thread(self.signer.generate_auth_token, self.region)
        except Exception as err:  # noqa: BLE001 - botocore's errors are many and untyped
            raise KafkaRefused(
                f"the MSK IAM signer could not make a token for region {self.region}: {err}"
            ) from None
        return str(token), float(expiry_ms) / 1000.0
