"""The notifier's channels, registered in one place: `CHANNELS`.

A channel is one module here: what its targets look like (a `TargetSyntax`, which the
wire contract checks every policy's recipients against), how it renders and delivers
an alert (its sender: one attempt, raising `DeliveryFailed` saying whether another could
help), its defaults and, for a channel whose targets are names, the names this notifier
configures. Everything else follows from this list: which recipients a policy may name
(`schemas.recipients`, the API's checks and its OpenAPI document), the announcement of
named targets, recipient planning, the runner's lanes, retries, dead letters, the record
of what was delivered, and the metrics, labelled by channel name.

Adding a channel: its module, its line below, its entry in docs/notifications.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.notify.channels import apprise, email, webhook
from agents.notify.channels.base import Channel, Sender
from schemas.recipients import register_channel

if TYPE_CHECKING:
    import aiohttp

    from agents.notify.settings import NotifySettings

__all__ = ["CHANNELS", "Channel", "Sender", "build_senders", "channel"]

CHANNELS: tuple[Channel, ...] = (
    email.CHANNEL,
    webhook.CHANNEL,
    apprise.CHANNEL,
)

for _channel in CHANNELS:
    register_channel(_channel.target)

_BY_NAME = {c.name: c for c in CHANNELS}


def channel(name: str) -> Channel | None:
    return _BY_NAME.get(name)


def build_senders(settings: NotifySettings, session: aiohttp.ClientSession) -> dict[str, Sender]:
    """The sender of each channel this notifier has set up, by channel name."""
    built = {c.name: c.connect(settings, session) for c in CHANNELS}
    return {name: sender for name, sender in built.items() if sender is not None}
