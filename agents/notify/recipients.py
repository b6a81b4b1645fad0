"""Each org's recipients, from the compacted `org-policies` topic."""

from __future__ import annotations

import logging

from agents.notify.plan import Target, targets_for
from agents.notify.reader import TopicReader
from agents.notify.settings import NotifySettings
from agents.policies import PolicyBook
from agents.settings import Settings
from agents.topics import ORG_POLICIES

__all__ = ["RecipientBook"]

log = logging.getLogger(__name__)


class RecipientBook:
    """The worker's `PolicyBook` (same decoding, same newest-wins rule), read by the
    notifier to its end before the first alert, then followed."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        worker_settings = Settings(
            bootstrap_servers=settings.bootstrap_servers,
            topic_prefix=settings.topic_prefix,
            kafka=settings.kafka,
        )
        self.book = PolicyBook(worker_settings)
        self.reader = TopicReader(settings.kafka, settings.topic(ORG_POLICIES), self._apply)

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        org_id = self.book.apply_record(value, key)
        if org_id is not None and self.reader.caught_up.is_set():
            log.info("recipients of org %s updated", org_id)

    def targets(self, org_id: str) -> list[Target]:
        return targets_for(
            self.book.record_for(org_id), self.settings.emails, self.settings.webhook_urls
        )

    async def start(self) -> None:
        await self.reader.start()

    async def stop(self) -> None:
        await self.reader.stop()
