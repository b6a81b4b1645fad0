"""Each org's recipients, from the compacted `org-policies` topic."""

from __future__ import annotations

import logging
from collections.abc import Callable

from agents.notify.plan import Target, targets_for
from agents.notify.reader import TopicReader
from agents.notify.settings import NotifySettings
from agents.policies import PolicyBook
from agents.settings import Settings
from agents.topics import ORG_POLICIES
from schemas.types import loggable

__all__ = ["RecipientBook"]

log = logging.getLogger(__name__)


class RecipientBook:
    """The worker's `PolicyBook` (same decoding, same newest-wins rule), read by the
    notifier to its end before the first alert, then followed."""

    def __init__(
        self, settings: NotifySettings, on_error: Callable[[], None] | None = None
    ) -> None:
        self.settings = settings
        self._on_error = on_error
        worker_settings = Settings(
            bootstrap_servers=settings.bootstrap_servers, topic_prefix=settings.topic_prefix
        )
        self.book = PolicyBook(worker_settings)
        self.reader = TopicReader(
            settings.bootstrap_servers, settings.topic(ORG_POLICIES), self._apply, on_error
        )

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        failed = self.book.unexpected_errors
        org_id = self.book.apply_record(value, key)
        if self.book.unexpected_errors != failed and self._on_error is not None:
            self._on_error()
        if org_id is not None and self.reader.caught_up.is_set():
            log.info("recipients of org %s updated", loggable(org_id))

    def targets(self, org_id: str) -> list[Target]:
        return targets_for(
            self.book.record_for(org_id), self.settings.emails, self.settings.webhook_urls
        )

    async def start(self) -> None:
        await self.reader.start()

    async def stop(self) -> None:
        await self.reader.stop()
