"""The names of the targets the notifier configures, as it announces them.

Apprise URLs hold their service's token, so they live in the notifier's own secret
configuration and a policy names them (`{"channel": "apprise", "target": "ops-slack"}`).
The API must refuse a policy naming a target the notifier does not have, yet has no
business holding the URLs: so each notifier writes the *names* it configures to the
compacted `notify-targets` topic when it starts, and the API's report reader follows
that topic. Names only, never a URL.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import orjson

from agents.kafka.follower import TopicFollower
from schemas.models import OrgPolicy
from schemas.recipients import target_syntax

if TYPE_CHECKING:
    from agents.settings import Settings

__all__ = ["NOTIFY_TARGETS", "TargetDirectory", "announcement"]

log = logging.getLogger(__name__)

NOTIFY_TARGETS = "notify-targets"


def announcement(channel: str, names: list[str]) -> tuple[bytes, bytes]:
    """The (key, value) a notifier writes: one record per channel, newest wins."""
    return channel.encode(), orjson.dumps({"channel": channel, "names": sorted(names)})


class TargetDirectory:
    """The announced names per channel; a channel nobody announced is None."""

    def __init__(self) -> None:
        self._names: dict[str, frozenset[str]] = {}

    def apply_record(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            document = orjson.loads(value)
            channel, names = document["channel"], document["names"]
            if not isinstance(channel, str) or not all(isinstance(n, str) for n in names):
                raise TypeError("channel and names must be strings")
        except (orjson.JSONDecodeError, KeyError, TypeError) as err:
            log.warning("ignored a %s record that does not read: %s", NOTIFY_TARGETS, err)
            return
        self._names[channel] = frozenset(names)

    def names(self, channel: str) -> frozenset[str] | None:
        return self._names.get(channel)

    def problem(self, record: OrgPolicy) -> str | None:
        """Why the notifier could not deliver to a named target of `record`, if so."""
        for index, recipient in enumerate(record.recipients):
            # Only channels whose targets are names the notifier resolves (not addresses
            # or URLs) are checked against what it announced.
            syntax = target_syntax(recipient.channel)
            if syntax is None or not syntax.named:
                continue
            known = self.names(recipient.channel)
            if known is None:
                return (
                    f"`recipients`[{index}] {recipient.channel} target {recipient.target!r}: "
                    "no notifier has announced its targets yet (start `backupwatch notify` "
                    "with the target configured)"
                )
            if recipient.target not in known:
                configured = ", ".join(sorted(known)) or "none"
                return (
                    f"`recipients`[{index}] {recipient.channel} target {recipient.target!r} "
                    f"is not configured on the notifier (configured: {configured})"
                )
        return None

    async def run(self, settings: Settings) -> None:
        """Follow the topic from its beginning (it may not exist until a notifier starts)."""
        topic = settings.topic(NOTIFY_TARGETS)
        await TopicFollower(
            settings.kafka, topic, lambda record: self.apply_record(record.value), wait_ms=1000
        ).run()
