"""Talking to the CrashPlan console through its vendor's client, `pycpg`.

`pycpg` is synchronous (requests): the bridge calls it from a worker thread. It signs
in again by itself when a token expires (a 401 clears its credentials and the request
is sent once more); what it leaves to its caller, and this module does, is waiting out
a 429 (as its `Retry-After` says) and a 5xx or a dropped connection (backoff with
jitter), and telling a wrong address or wrong credentials from a passing fault.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import random
import struct
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, TypeVar

from agents.bridge.crashplan.errors import ConsoleAuthError, ConsoleError, ConsoleUnreachable
from agents.bridge.crashplan.settings import BridgeSettings

__all__ = ["Console", "retry_after_seconds", "totp_code"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_BACKOFF_BASE_S = 1.0
_BACKOFF_MAX_S = 60.0


def totp_code(secret: str, at: datetime, step_s: int = 30, digits: int = 6) -> str:
    """The RFC 6238 code of base32 `secret` at `at` (what an authenticator app shows)."""
    key = base64.b32decode(secret.replace(" ", "").upper() + "=" * (-len(secret) % 8))
    counter = int(at.timestamp()) // step_s
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A `Retry-After` header in seconds (delta-seconds or an HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def _quiet_pycpg() -> None:
    """`pycpg` logs every request at INFO, through a handler of its own bound to the
    stderr it was imported with: its records go through the process's logging instead,
    warnings and up (a poll of a large console is a hundred requests)."""
    pycpg_log = logging.getLogger("pycpg")
    for handler in list(pycpg_log.handlers):
        pycpg_log.removeHandler(handler)
    pycpg_log.setLevel(logging.WARNING)


class Console:
    """One signed-in console: `connect`, then `pages` each poll.

    `on_error(status)` is called for every failed API call (the status, or "network"),
    for the bridge's metrics."""

    def __init__(
        self,
        settings: BridgeSettings,
        on_error: Callable[[str], None] = lambda status: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._on_error = on_error
        self._sleep = sleep
        self._sdk: Any = None

    def connect(self) -> None:
        """Sign in. Raises `ConsoleUnreachable` (no console at the URL) or
        `ConsoleAuthError` (credentials refused): both are for the operator to fix."""
        import pycpg.sdk

        _quiet_pycpg()
        s = self.settings
        try:
            if s.uses_api_client:
                self._sdk = pycpg.sdk.from_api_client(s.url, s.api_client_id, s.api_client_secret)
            else:
                totp = (
                    (lambda: totp_code(s.totp_secret, datetime.now(UTC))) if s.totp_secret else None
                )
                self._sdk = pycpg.sdk.from_local_account(s.url, s.username, s.password, totp)
        except Exception as err:
            raise self._connect_error(err) from None

    def _connect_error(self, err: Exception) -> ConsoleError:
        import requests
        from pycpg.exceptions import PycpgError, PycpgForbiddenError, PycpgUnauthorizedError

        s = self.settings
        who = f"API client {s.api_client_id}" if s.uses_api_client else f"user {s.username}"
        if isinstance(err, PycpgUnauthorizedError | PycpgForbiddenError):
            self._on_error(str(err.response.status_code))
            return ConsoleAuthError(
                f"the CrashPlan console at {s.url} refused the credentials of {who} "
                f"(HTTP {err.response.status_code}); check them"
                + ("" if s.uses_api_client else " and the TOTP secret, if the account has 2FA")
            )
        if isinstance(err, requests.RequestException | ValueError):
            self._on_error("network")
            return ConsoleUnreachable(
                f"no CrashPlan console answered at BACKUPWATCH_CRASHPLAN_URL={s.url}: "
                f"{type(err).__name__}: {err}"
            )
        if isinstance(err, PycpgError) and getattr(err, "response", None) is not None:
            status = err.response.status_code
            self._on_error(str(status))
            return ConsoleUnreachable(
                f"the address BACKUPWATCH_CRASHPLAN_URL={s.url} answered HTTP {status} "
                "where a CrashPlan console signs in; is it the console's address?"
            )
        return ConsoleError(f"signing in to the CrashPlan console at {s.url} failed: {err}")

    def _call(self, what: str, request: Callable[[], T]) -> T:
        """`request()`, retried on a 429 (after its `Retry-After`), a 5xx or a dropped
        connection, up to `max_attempts` times in all."""
        import requests
        from pycpg.exceptions import (
            PycpgForbiddenError,
            PycpgHTTPError,
            PycpgTooManyRequestsError,
            PycpgUnauthorizedError,
        )

        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return request()
            except (PycpgUnauthorizedError, PycpgForbiddenError) as err:
                self._on_error(str(err.response.status_code))
                raise ConsoleAuthError(
                    f"the CrashPlan console refused {what} (HTTP {err.response.status_code})"
                ) from None
            except PycpgHTTPError as err:
                status = err.response.status_code
                self._on_error(str(status))
                retryable = isinstance(err, PycpgTooManyRequestsError) or status >= 500
                if not retryable or attempt == attempts:
                    raise ConsoleError(
                        f"{what}: HTTP {status} after {attempt} attempt(s)"
                    ) from None
                wait = None
                if status == 429:
                    wait = retry_after_seconds(
                        err.response.headers.get("Retry-After"), datetime.now(UTC)
                    )
                if wait is None:
                    wait = self._backoff(attempt)
                log.warning("%s: HTTP %s; trying again in %.1f s", what, status, wait)
                self._sleep(wait)
            except requests.RequestException as err:
                self._on_error("network")
                if attempt == attempts:
                    raise ConsoleError(f"{what}: {err} after {attempt} attempt(s)") from None
                wait = self._backoff(attempt)
                log.warning("%s: %s; trying again in %.1f s", what, err, wait)
                self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _backoff(attempt: int) -> float:
        # Full jitter: many bridges (or one after an outage) do not retry in step.
        ceiling = min(_BACKOFF_MAX_S, _BACKOFF_BASE_S * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (not for security)

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """The console's devices with their backup usage, a page at a time (the page
        size the console allows at most, 1,000, by default)."""
        if self._sdk is None:
            self.connect()
        size = self.settings.page_size
        number = 1
        while True:
            response = self._call(f"devices page {number}", partial(self._page, number, size))
            computers: list[dict[str, Any]] = response["computers"]
            yield computers
            if len(computers) < size:
                return
            number += 1

    def _page(self, number: int, size: int) -> Any:
        return self._sdk.devices.get_page(
            number, include_backup_usage=True, include_counts=False, page_size=size
        )
