"""The Apprise channel: chat and paging services (Slack, Microsoft Teams, PagerDuty,
Opsgenie, Discord, ntfy, Telegram, Matrix, Google Chat and many more) by URL.

A policy names a target (`apprise: ops-slack`); its URL, which holds the service's token,
is in the notifier's own configuration only. Each attempt builds the plugin from the URL
afresh and calls it once, in a worker thread (Apprise is synchronous).

Apprise answers an attempt with True or False only (its issues #538 and #1611 ask for
more; a logging handler reading its messages is neither reliable nor safe across
threads), and its own retries (`?retry=`) have no backoff we control and would hide each
failure from our count. So Apprise's retries are turned off and every HTTP request its
plugins make is observed on its way through `requests` (`_observe`): a 5xx, 408, 425 or
429 (with `Retry-After`), a timeout or a refused connection is retried by the runner with
backoff and jitter, any other 4xx and a 3xx are refused at once (dead-lettered), and a
failure with no HTTP error seen (a plugin that refused the message itself) is retried
until the attempts run out.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from agents.notify.channels.base import Channel
from agents.notify.channels.http import http_failure
from agents.notify.errors import DeliveryFailed
from agents.notify.plan import Delivery, delivery_key
from agents.notify.render import ChatMessage, render_chat
from schemas.recipients import TargetSyntax, is_target_name

if TYPE_CHECKING:
    from agents.notify.settings import NotifySettings

__all__ = ["APPRISE", "CHANNEL", "AppriseChannel", "prepare", "url_problem"]

log = logging.getLogger(__name__)

APPRISE = "apprise"


@dataclass(frozen=True, slots=True)
class _Seen:
    """One HTTP request of a plugin: its status (0: no answer) and what went wrong."""

    status: int
    retry_after: str | None = None
    error: BaseException | None = None


# Set by the thread making an attempt: the requests its plugin made, in order.
_observed: contextvars.ContextVar[list[_Seen] | None] = contextvars.ContextVar(
    "backupwatch_apprise_observed", default=None
)
_original_send = requests.sessions.Session.send


def _observe(self: requests.Session, request: Any, **kwargs: Any) -> Any:
    seen = _observed.get()
    try:
        response = _original_send(self, request, **kwargs)
    except Exception as err:
        if seen is not None:
            seen.append(_Seen(0, error=err))
        raise
    if seen is not None:
        seen.append(_Seen(response.status_code, response.headers.get("Retry-After")))
    return response


_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*)://[^\s'\"<>]+")


class _RedactUrls(logging.Filter):
    """Apprise logs the URLs it parses and posts to ("Unparseable URL slack://…"), and
    an Apprise URL holds its service's token: each is cut to its scheme."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _URL.sub(r"\1://…", record.getMessage())
        record.args = ()
        return True


logging.getLogger("apprise").addFilter(_RedactUrls())


@functools.cache
def _watch() -> None:
    """Observe the plugins' requests from the first Apprise channel on: a process that
    delivers nothing through Apprise (the worker, loading the channel registry) keeps
    `requests` as it was."""
    # Every plugin goes through requests.Session.send (requests.post builds a session);
    # outside an attempt (`_observed` unset) the wrapper only passes the call on.
    requests.sessions.Session.send = _observe  # type: ignore[method-assign]


def _instantiate(url: str) -> Any:
    import apprise

    return apprise.Apprise.instantiate(url)


def url_problem(url: str) -> str | None:
    """Why Apprise cannot use `url` (shown by scheme only: the rest is a token)."""
    scheme = url.partition("://")[0] if "://" in url else "(no scheme)"
    apprise_log = logging.getLogger("apprise")
    # Checked at start: the refusal below is the one line said; Apprise's own is muted.
    was, apprise_log.disabled = apprise_log.disabled, True
    try:
        plugin = _instantiate(url)
    finally:
        apprise_log.disabled = was
    if plugin is None:
        return (
            f"Apprise cannot use this {scheme}:// URL (an unknown scheme, or parts "
            "missing; see https://github.com/caronc/apprise/wiki)"
        )
    return None


def prepare(plugin: Any, message: ChatMessage, delivery_id: str, timeout: float) -> Any:
    """Set `plugin` up for one attempt; returns the Apprise notify type to send with.

    Severity maps to the service's own notion where it has one; paging services get the
    episode as their de-duplication key, so a resolution closes what the opening raised.
    """
    from apprise import NotifyType
    from apprise.plugins.custom_form import NotifyForm
    from apprise.plugins.custom_json import NotifyJSON
    from apprise.plugins.custom_xml import NotifyXML
    from apprise.plugins.ntfy import NotifyNtfy
    from apprise.plugins.opsgenie import NotifyOpsgenie
    from apprise.plugins.pagerduty import NotifyPagerDuty

    notify_type = {
        "critical": NotifyType.FAILURE,
        "warning": NotifyType.WARNING,
        "ok": NotifyType.SUCCESS,
    }[message.severity]
    # Our runner retries, with backoff, and counts each failure.
    plugin.retry = 0
    plugin.socket_connect_timeout = timeout
    plugin.socket_read_timeout = timeout
    if isinstance(plugin, NotifyJSON | NotifyForm | NotifyXML):
        # The same on every attempt: the receiver can spot a repeat.
        plugin.headers["X-Backupwatch-Delivery"] = delivery_id
    elif isinstance(plugin, NotifyPagerDuty):
        # "map": a failure or warning triggers (or updates) the incident of the dedup
        # key, a success resolves it; severity follows the notify type.
        plugin.action = "map"
        plugin.dedup = message.episode
        plugin.severity = None
    elif isinstance(plugin, NotifyOpsgenie):
        plugin.action = "map"
        plugin.alias = message.episode
        # Apprise writes priority n as "P<n>" on the wire, while Opsgenie's P1 is the most
        # urgent: 1 is "P1" for a critical alert, 3 "P3" (Opsgenie's default) for a warning.
        plugin.priority = 1 if message.severity == "critical" else 3
    elif isinstance(plugin, NotifyNtfy):
        plugin.priority = {"critical": "max", "warning": "high"}.get(message.severity, "default")
    return notify_type


def _notify(plugin: Any, message: ChatMessage, notify_type: Any) -> tuple[bool, list[_Seen]]:
    seen: list[_Seen] = []
    _observed.set(seen)
    ok = bool(plugin.notify(title=message.title, body=message.body, notify_type=notify_type))
    return ok, seen


def _failure(seen: list[_Seen], service: str) -> DeliveryFailed:
    """What the requests of a failed attempt say: refused, or worth another attempt."""
    answered = [
        http_failure(r.status, f"{service}: HTTP {r.status}", r.retry_after)
        for r in seen
        if r.status >= 300
    ]
    # A refusal wins: another attempt would be refused again.
    for failure in answered:
        if failure.permanent:
            return failure
    for request in seen:
        if request.error is not None:
            err = request.error
            reason = "timeout" if isinstance(err, requests.Timeout) else "unreachable"
            return DeliveryFailed(reason, f"{service}: {type(err).__name__}")
        if request.status >= 300:
            detail = f"{service}: HTTP {request.status}"
            return http_failure(request.status, detail, request.retry_after)
    return DeliveryFailed(
        "apprise_failed", f"{service}: Apprise reported a failure (see the notifier's log)"
    )


class AppriseChannel:
    # Attempts run in threads: a few at once.
    slots = 4

    def __init__(self, settings: NotifySettings) -> None:
        _watch()
        self.settings = settings
        self.urls = dict(settings.apprise)
        # Each target's Apprise store (in memory), shared by its plugin instances: a plugin
        # keeps there what a later message needs (the ids of the Opsgenie alerts it
        # opened, which a resolution closes), and an instance is built per attempt.
        self._stores: dict[str, Any] = {}

    async def send(self, delivery: Delivery) -> None:
        (item,) = delivery.items
        url = self.urls.get(delivery.recipient)
        if url is None:
            raise DeliveryFailed(
                "not_configured",
                f"no Apprise target named {delivery.recipient!r} is configured "
                "(BACKUPWATCH_NOTIFY_APPRISE_<NAME> or BACKUPWATCH_NOTIFY_SECRETS)",
                permanent=True,
            )
        plugin = _instantiate(url)
        if plugin is None:  # checked at start; an Apprise upgrade could still refuse it
            raise DeliveryFailed("not_configured", "Apprise cannot use the URL", permanent=True)
        store = self._stores.setdefault(delivery.recipient, plugin.store)
        # Apprise has no setter for it: the attribute behind the `store` property.
        plugin._NotifyBase__store = store
        message = render_chat(item.alert, self.settings.dashboard_url)
        key = delivery_key(item.alert.alert_id, APPRISE, delivery.recipient).decode()
        notify_type = prepare(plugin, message, key, self.settings.timeout)
        service = f"{type(plugin).__name__.removeprefix('Notify')} ({delivery.recipient})"
        ok, seen = await asyncio.to_thread(_notify, plugin, message, notify_type)
        if not ok:
            raise _failure(seen, service)


CHANNEL = Channel(
    TargetSyntax(APPRISE, "a target name (a-z, 0-9, '-', '_')", is_target_name, named=True),
    lambda settings, _session: AppriseChannel(settings),
    names=lambda settings: settings.apprise_names,
)
