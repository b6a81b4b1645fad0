"""What a channel is: a registered `Channel` (its targets' syntax, how the notifier
builds it, its defaults and named targets) and the `Sender` it builds.

A sender's `send` makes one attempt and either returns (delivered) or raises
`DeliveryFailed`, saying whether trying again could help; retrying, ordering and
dead-lettering are the runner's, the same for every channel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from schemas.recipients import TargetSyntax

if TYPE_CHECKING:
    import aiohttp

    from agents.notify.plan import Delivery
    from agents.notify.settings import NotifySettings

__all__ = ["Channel", "Sender"]


class Sender(Protocol):
    # Attempts under way at once: a mail relay or a chat service is not hammered by a
    # backlog.
    slots: int

    async def send(self, delivery: Delivery) -> None: ...


def _none(settings: NotifySettings) -> Sequence[str]:
    return ()


@dataclass(frozen=True, slots=True)
class Channel:
    target: TargetSyntax
    # The sender, or None when this notifier has not set the channel up (email without
    # an SMTP host): a policy naming it then gets its alerts dead-lettered as
    # `not_configured` rather than silently dropped.
    connect: Callable[[NotifySettings, aiohttp.ClientSession], Sender | None]
    # The recipients of an org whose policy names none of this channel.
    defaults: Callable[[NotifySettings], Sequence[str]] = _none
    # For a channel whose targets are names (`target.named`): the names this notifier
    # configures, which it announces and checks policies against.
    names: Callable[[NotifySettings], Sequence[str]] = _none
    # What is missing when `connect` gives None, for the dead letter's `error`.
    unconfigured: str = "its settings are missing"

    @property
    def name(self) -> str:
        return self.target.channel
