"""Each org's recipients, from the compacted `org-policies` topic.

A policy naming a target this notifier does not configure, on a channel whose targets
are names (an Apprise target), is refused whole, as one with an unusable address is
(the org keeps the recipients it had), and counted in `backupwatch_policy_errors_total`:
the API refuses such a change with a 400, so only a record written past it, or a target
removed from the configuration since, meets this.
"""

from __future__ import annotations

import logging

from agents.books.policies import PolicyBook
from agents.kafka.follower import TopicFollower
from agents.kafka.topics import ORG_POLICIES
from agents.notify.channels import CHANNELS
from agents.notify.metrics import NotifyMetrics
from agents.notify.plan import Target, targets_for
from agents.notify.settings import NotifySettings
from agents.settings import Settings
from schemas.codec import decode_as
from schemas.errors import InvalidRecord
from schemas.models import OrgPolicy
from schemas.types import loggable

__all__ = ["RecipientBook"]

log = logging.getLogger(__name__)


class RecipientBook:
    """The worker's `PolicyBook` (same decoding, same newest-wins rule), read by the
    notifier to its end before the first alert, then followed."""

    def __init__(self, settings: NotifySettings, metrics: NotifyMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        worker_settings = Settings(
            bootstrap_servers=settings.bootstrap_servers,
            topic_prefix=settings.topic_prefix,
            kafka=settings.kafka,
        )
        self.book = PolicyBook(worker_settings)
        # Each named channel's targets this notifier configures, by channel.
        self.names = {c.name: frozenset(c.names(settings)) for c in CHANNELS if c.target.named}
        self.defaults = {c.name: c.defaults(settings) for c in CHANNELS}
        self.reader = TopicFollower(
            settings.kafka,
            settings.topic(ORG_POLICIES),
            lambda record: self._apply(record.key, record.value),
            on_error=self._failed,
        )

    def _failed(self) -> None:
        """A record that raised an exception that is not a validation error (skipped)."""
        if self.metrics is not None:
            self.metrics.unexpected_errors.labels(ORG_POLICIES).inc()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        unknown = self.unknown_targets(value)
        if unknown:
            log.warning(
                "refused an org policy record naming targets this notifier does not "
                "configure: %s (configured: %s)",
                ", ".join(unknown),
                ", ".join(
                    f"{channel} {name}"
                    for channel, names in sorted(self.names.items())
                    for name in sorted(names)
                )
                or "none",
            )
            if self.metrics is not None:
                self.metrics.policy_errors.inc()
            return
        failed = self.book.unexpected_errors
        org_id = self.book.apply_record(value, key)
        if self.book.unexpected_errors != failed:
            self._failed()
        elif org_id is None and value is not None and self.metrics is not None:
            # Refused by the book (or older than the org's policy): count the refusals.
            try:
                decode_as(value, OrgPolicy)
            except InvalidRecord:
                self.metrics.policy_errors.inc()
        if org_id is not None and self.reader.caught_up.is_set():
            log.info("recipients of org %s updated", loggable(org_id))

    def unknown_targets(self, value: bytes | None) -> list[str]:
        """The named targets a policy record names that this notifier does not have."""
        if value is None:
            return []
        try:
            record = decode_as(value, OrgPolicy)
        except InvalidRecord:
            return []  # the book refuses it, saying why
        return [
            r.target
            for r in record.recipients
            if r.channel in self.names and r.target not in self.names[r.channel]
        ]

    def targets(self, org_id: str) -> list[Target]:
        return targets_for(self.book.record_for(org_id), self.defaults)

    async def start(self) -> None:
        await self.reader.start()

    async def stop(self) -> None:
        await self.reader.stop()
