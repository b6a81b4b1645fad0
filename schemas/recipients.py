"""What an alert recipient must look like for the notifier to be able to deliver to it.

One set of checks wherever a recipient is named: an org policy (the API's policy change,
or any record on the policy topic) and the notifier's own defaults
(`BACKUPWATCH_NOTIFY_EMAILS`, `BACKUPWATCH_NOTIFY_WEBHOOK_URLS`). A recipient the
notifier cannot use is refused where it is given, rather than accepted and then every
alert to it retried until it is dead-lettered.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["is_email_address", "is_http_url", "redact_url"]


def _has_blank_or_control(text: str) -> bool:
    # A CR or LF in an address would end the mail header it is written into (header
    # injection); no whitespace or control character belongs in an address or URL.
    return any(ch.isspace() or not ch.isprintable() for ch in text)


def is_email_address(text: str) -> bool:
    """`local@domain`, both parts non-empty, without whitespace or control characters."""
    local, at, domain = text.rpartition("@")
    return bool(at and local and domain) and not _has_blank_or_control(text)


def is_http_url(text: str) -> bool:
    """An http(s) URL with a host (and a port, if any, that is a port)."""
    if _has_blank_or_control(text):
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0..65535
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def redact_url(url: str) -> str:
    """scheme://host[:port]/… — enough to tell webhooks apart in logs, no token."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparseable URL)"
    if not parts.scheme or not parts.hostname:
        return "(unparseable URL)"
    return f"{parts.scheme}://{parts.hostname}{port}/…"
