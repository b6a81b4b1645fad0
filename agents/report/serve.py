"""`backupwatch serve`: the read side as a process of its own.

A worker's report reader (`agents.report.reader`) follows the whole device-state
changelog and holds a row for every device of the fleet, whichever partitions its worker
owns. With N workers, the fleet is held N times and every status change read N times.
Run with BACKUPWATCH_REPORT_READER=none, workers start no reader; this process answers
the API and the dashboard instead, on its own TCP port, for the whole fleet, and is
deployed and scaled apart from them (docs/deploy.md, "Which layout"). It reads the same
settings as a worker (the Kafka connection, the topic prefix, the app id whose changelog
it follows, the tokens, `BACKUPWATCH_WEB_HOST`/`_PORT`), and answers `/healthz`,
`/readyz` (200 once it has read the changelog and the user facts up to where they ended
when it started) and `/metrics` besides.

A follower that fails ends the process with its error: its supervisor (Kubernetes,
Docker's restart policy) starts it again, which reads everything from the start.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.kafka.topics import changelog_topic
from agents.report.metrics import ServeMetrics
from agents.report.side import ReadSide, run_until_one_ends
from agents.serving import guarded_runner, serving_limits

if TYPE_CHECKING:
    from agents.settings import Settings

__all__ = ["ReportServer", "run"]

log = logging.getLogger(__name__)


class ReportServer:
    """The read side with its own health, readiness and metrics endpoints."""

    def __init__(self, settings: Settings, metrics: ServeMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or ServeMetrics()
        self.side = ReadSide(settings, changelog_topic(settings))

    def app(self) -> web.Application:
        app = web.Application()
        self.side.attach(app)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics_page)
        return app

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(body=b'{"status":"ok"}', content_type="application/json")

    async def readyz(self, request: web.Request) -> web.Response:
        side = self.side
        stream_time = side.view.stream_time()
        body = {
            "ready": side.ready,
            "changelog_caught_up": side.view.caught_up.is_set(),
            "user_facts_loaded": side.users.loaded.is_set(),
            "changelog_records_read": side.view.records_read,
            "stream_time": stream_time.isoformat() if stream_time else None,
        }
        return web.Response(
            body=orjson.dumps(body),
            status=200 if side.ready else 503,
            content_type="application/json",
        )

    async def metrics_page(self, request: web.Request) -> web.Response:
        side = self.side
        stream_time = side.view.stream_time()
        self.metrics.observe(
            side.view.records_read,
            side.unexpected_errors(),
            side.ready,
            stream_time.timestamp() if stream_time else None,
        )
        return web.Response(
            body=generate_latest(self.metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Answer until `stop` is set, or until a follower fails (raised)."""
        settings = self.settings
        await self.side.start()
        runner = guarded_runner(self.app(), serving_limits(settings.web_max_connections))
        try:
            await runner.setup()
            site = web.TCPSite(runner, settings.web_host, settings.web_port)
            await site.start()
            log.info(
                "report server answering on http://%s:%d/, following %s",
                settings.web_host,
                settings.web_port,
                self.side.changelog,
            )
            tasks: list[asyncio.Task[Any]] = [
                asyncio.create_task(follow, name=name)
                for name, follow in self.side.followers().items()
            ]
            tasks.append(asyncio.create_task(stop.wait(), name="stop"))
            await run_until_one_ends(tasks)
        finally:
            await runner.cleanup()
            await self.side.stop()


async def run(settings: Settings, stop: asyncio.Event) -> None:
    await ReportServer(settings).run(stop)
