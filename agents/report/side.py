"""The read side's parts, as the report reader beside a worker and `backupwatch serve`
both run them: the fleet view following the device-state changelog, the books of org
policies, user facts and notification targets, the producer of admin writes, and the API
and dashboard routes answering from them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from agents.settings import Settings

__all__ = ["ReadSide"]

log = logging.getLogger(__name__)


class ReadSide:
    """What answers the API and dashboard, and the followers that keep it current."""

    def __init__(self, settings: Settings, changelog: str) -> None:
        from agents.books.policies import PolicyBook
        from agents.books.targets import TargetDirectory
        from agents.books.users import UserBook
        from agents.report.fleet import FleetView

        self.settings = settings
        self.changelog = changelog
        self.policies = PolicyBook(settings)
        self.targets = TargetDirectory()
        self.users = UserBook(settings)
        self.view = FleetView(self.policies.policy_for)
        # Consistent with the alerts within a second; each device's row is cut at most
        # once a second however often the pipeline writes it.
        self.view.max_staleness = 1.0
        self._producer: Any = None

    def attach(self, app: web.Application) -> None:
        """Add the API and the dashboard, behind the tokens, to `app`."""
        from agents.report.access import protect
        from agents.report.api import attach_routes

        protect(app, self.settings)
        attach_routes(
            app.router,
            self.settings,
            self.view,
            self.policies,
            self._publish,
            self.targets,
            self.users,
        )

    async def start(self) -> None:
        self._producer = self.settings.kafka.producer(acks="all")
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _publish(self, topic: str, key: bytes, value: bytes) -> None:
        await self._producer.send_and_wait(topic, value, key=key)

    def followers(self) -> dict[str, Coroutine[Any, Any, None]]:
        """The tasks that keep the view and the books current, by name; each runs until
        cancelled, and one that ends (a failure) should end the process."""
        return {
            "follow-changelog": self.view.follow(self.settings, self.changelog),
            "follow-policies": self.policies.run(),
            "follow-notify-targets": self.targets.run(self.settings),
            "follow-user-facts": self.users.run(),
        }

    @property
    def ready(self) -> bool:
        """The changelog and the user facts read up to where they ended at start: the
        fleet it answers is the fleet the workers decided until then."""
        return self.view.caught_up.is_set() and self.users.loaded.is_set()

    def unexpected_errors(self) -> dict[str, int]:
        """Records skipped for an exception that is not a validation error, by topic."""
        return {
            "changelog": self.view.unexpected_errors,
            "org-policies": self.policies.unexpected_errors,
            "user-facts": self.users.unexpected_errors,
        }


async def run_until_one_ends(tasks: list[asyncio.Task[Any]]) -> None:
    """Wait until one of `tasks` ends, cancel the others, and raise what ended it."""
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
