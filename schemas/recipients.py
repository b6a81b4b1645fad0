"""What an alert recipient must look like for the notifier to be able to deliver to it.

A recipient is a (channel, target) pair: `("email", "it@acme.example")`,
`("webhook", "https://hooks.acme.example/backup")`, `("apprise", "ops-slack")`. One set
of checks wherever a recipient is named: an org policy (the API's policy change, or any
record on the policy topic) and the notifier's own defaults
(`BACKUPWATCH_NOTIFY_EMAILS`, `BACKUPWATCH_NOTIFY_WEBHOOK_URLS`). A recipient the
notifier cannot use is refused where it is given, rather than accepted and then every
alert to it retried until it is dead-lettered.

`TARGET_CHECKS` is the one table of channels the wire contract knows: a channel the
notifier gains is one line here (what its target is) beside its class in
`agents/notify/channels.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = [
    "TARGET_CHECKS",
    "is_email_address",
    "is_http_url",
    "is_target_name",
    "recipient_problem",
    "redact_url",
    "shown_target",
]

_TARGET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


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


def is_target_name(text: str) -> bool:
    """A name the notifier's own configuration gives a target (`ops-slack`): lower-case
    letters, digits, `-` and `_`, at most 64. The target itself (an Apprise URL holds its
    token) is never written on the policy topic, only its name."""
    return _TARGET_NAME.fullmatch(text) is not None


# channel -> (what its target is, in an error message; the check of a target)
TARGET_CHECKS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "email": ("an email address", is_email_address),
    "webhook": ("an http(s) URL", is_http_url),
    "apprise": ("a target name (a-z, 0-9, '-', '_')", is_target_name),
}


def shown_target(channel: str, target: str) -> str:
    """A target as messages may show it: a webhook without its path (its token)."""
    return redact_url(target) if channel == "webhook" else target


def recipient_problem(channel: str, target: str) -> str | None:
    """Why the notifier could not deliver to (`channel`, `target`); None when it can."""
    known = TARGET_CHECKS.get(channel)
    if known is None:
        return f"unknown channel {channel!r}; known: {', '.join(sorted(TARGET_CHECKS))}"
    what, check = known
    if not check(target):
        return f"{channel} target {shown_target(channel, target)!r} is not {what}"
    return None


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
