"""Errors of the CrashPlan bridge."""

from __future__ import annotations

__all__ = [
    "ConsoleAuthError",
    "ConsoleError",
    "ConsoleFormatError",
    "ConsoleUnreachable",
    "CsvReportError",
]


class ConsoleError(RuntimeError):
    """The console could not be polled; the message says why."""


class ConsoleUnreachable(ConsoleError):
    """No console answered at the configured URL (wrong address, DNS, TLS)."""


class ConsoleAuthError(ConsoleError):
    """The console refused the credentials (HTTP 401 or 403)."""


class ConsoleFormatError(ValueError):
    """A device as the console reported it cannot be read; the message says which field."""


class CsvReportError(ValueError):
    """A Device Backup Report file cannot be read at all (not CSV, no known columns)."""
