"""What an alert recipient must look like for the notifier to be able to deliver to it.

A recipient is a (channel, target) pair: `("email", "it@acme.example")`,
`("webhook", "https://hooks.acme.example/backup")`, `("apprise", "ops-slack")`. One set
of checks wherever a recipient is named: an org policy (the API's policy change, or any
record on the policy topic) and the notifier's own defaults
(`BACKUPWATCH_NOTIFY_EMAILS`, `BACKUPWATCH_NOTIFY_WEBHOOK_URLS`). A recipient the
notifier cannot use is refused where it is given, rather than accepted and then every
alert to it retried until it is dead-lettered.

The wire contract keeps the pair generic; which channels there are, and what each one's
targets look like, is said by the channels themselves: each channel module of the
notifier (`agents/notify/channels/`) declares its `TargetSyntax`, and the channel
registry there registers them all here. Every process that reads policies loads that
registry, so all of them agree on which policy records are valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "TargetSyntax",
    "channel_names",
    "is_email_address",
    "is_http_url",
    "is_target_name",
    "recipient_problem",
    "redact_url",
    "register_channel",
    "same_target",
    "shown_target",
    "target_syntax",
]

_TARGET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _as_is(target: str) -> str:
    return target


@dataclass(frozen=True, slots=True)
class TargetSyntax:
    """What one channel's targets look like, as policies and messages see them."""

    channel: str
    # What a target is, for an error message: "an email address".
    what: str
    check: Callable[[str], bool]
    # A target as logs, dead letters and error messages may show it (no token).
    shown: Callable[[str], str] = _as_is
    # The form two targets share when they reach the same recipient (addresses that
    # differ only by case), so that one recipient gets one copy.
    same: Callable[[str], str] = _as_is
    # Targets are names the notifier resolves from its own configuration (an Apprise
    # URL holds its service's token, so a policy names it): each notifier announces the
    # names it has, and a policy naming another is refused (agents/books/targets.py).
    named: bool = False


_CHANNELS: dict[str, TargetSyntax] = {}


def register_channel(syntax: TargetSyntax) -> None:
    """Make `syntax.channel` a channel policies may name (the channel registry's call)."""
    known = _CHANNELS.get(syntax.channel)
    if known is not None and known != syntax:
        raise ValueError(f"channel {syntax.channel!r} is registered twice")
    _CHANNELS[syntax.channel] = syntax


def channel_names() -> tuple[str, ...]:
    return tuple(sorted(_CHANNELS))


def target_syntax(channel: str) -> TargetSyntax | None:
    return _CHANNELS.get(channel)


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


def shown_target(channel: str, target: str) -> str:
    """A target as messages may show it: as its channel says (a webhook without its
    path, which holds its token)."""
    syntax = _CHANNELS.get(channel)
    return syntax.shown(target) if syntax is not None else target


def same_target(channel: str, target: str) -> str:
    """The form of `target` that any other target reaching the same recipient shares."""
    syntax = _CHANNELS.get(channel)
    return syntax.same(target) if syntax is not None else target


def recipient_problem(channel: str, target: str) -> str | None:
    """Why the notifier could not deliver to (`channel`, `target`); None when it can."""
    if not _CHANNELS:
        # A process that decodes policies without the channel registry loaded would
        # refuse every recipient: a wiring mistake, said as one.
        raise RuntimeError(
            "no notification channel is registered: import agents.notify.channels first"
        )
    syntax = _CHANNELS.get(channel)
    if syntax is None:
        return f"unknown channel {channel!r}; known: {', '.join(channel_names())}"
    if not syntax.check(target):
        return f"{channel} target {syntax.shown(target)!r} is not {syntax.what}"
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
