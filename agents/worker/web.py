"""The worker's web endpoints: metrics, health, the status report API and the dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web as aiohttp_web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.report.api import ROUTES
from agents.report.reader import ReportReader
from agents.serving import guarded_runner, serving_limits

if TYPE_CHECKING:
    from agents.worker.app import Backupwatch

__all__ = ["NO_REPORT_READER", "attach_views", "elsewhere"]

# What a worker run with BACKUPWATCH_REPORT_READER=none answers on the API and dashboard
# paths. 421 Misdirected Request, not 404: the resource exists, this server is the wrong
# one to ask (a 404 would tell a client the device or the page does not exist).
NO_REPORT_READER = (
    "this worker serves no API or dashboard (BACKUPWATCH_REPORT_READER=none): "
    "ask the report server, `backupwatch serve`, which answers them for the whole fleet"
)


async def elsewhere(request: aiohttp_web.Request) -> aiohttp_web.Response:
    """The answer of a worker without a report reader to an API or dashboard request."""
    return aiohttp_web.Response(
        body=orjson.dumps({"error": NO_REPORT_READER}),
        status=421,
        content_type="application/json",
    )


def attach_views(worker: Backupwatch) -> ReportReader | None:
    """Add every endpoint to the worker's web server; returns the worker's report reader
    (None when BACKUPWATCH_REPORT_READER=none: the worker starts none)."""
    app = worker.app
    reader: ReportReader | None = None
    if worker.settings.report_reader == "beside":
        # The report and the dashboard are answered by a process of their own (see
        # agents.report.reader): the worker only passes their requests through.
        beside = reader = ReportReader(
            worker.settings, worker.table.changelog_topic.get_topic_name()
        )

        @app.task
        async def run_report_reader() -> None:
            await beside.run()

    # Faust mounts a placeholder index at "/"; the dashboard lives there instead. Its
    # table and router pages would expose raw state and are not needed.
    blueprints: Any = app.web.blueprints
    blueprints._enabled = [
        (prefix, bp)
        for prefix, bp in blueprints._enabled
        if not (
            isinstance(bp, str)
            and bp.startswith(
                (
                    "faust.web.apps.production_index",
                    "faust.web.apps.tables",
                    "faust.web.apps.router",
                )
            )
        )
    ]
    web_server: Any = app.web  # Faust's aiohttp driver
    # Faust's runner, made before anything starts, is swapped for one that holds under
    # hostile clients (agents.serving).
    web_server._runner = guarded_runner(
        web_server.web_app, serving_limits(worker.settings.web_max_connections)
    )
    router = web_server.web_app.router
    answer = reader.forward if reader is not None else elsewhere
    for method, path, _name in ROUTES:
        router.add_route(method, path, answer)
    router.add_get("/", answer)
    router.add_get("/static/{name}", answer)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        worker.update_gauges()
        return web.bytes(
            generate_latest(worker.metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.bytes(b'{"status":"ok"}', content_type="application/json")

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        # Ready once the worker holds partitions, has recovered their state and indexed
        # them (clocks and deadlines known).
        worker.index_assigned()
        assigned = app.assignor.assigned_actives() if app.assignor else set()
        tables: Any = app.tables
        # Until its partitions' states are read (agents.worker.store, "After an
        # assignment"), the worker decides nothing.
        recovering = not tables.recovery.completed.is_set() or worker.reading
        ready = bool(assigned) and not recovering
        body = orjson.dumps(
            {
                "ready": ready,
                "assigned_partitions": len(assigned),
                "recovering": recovering,
                "report_reader": reader.state if reader is not None else "none",
                "clocks": {
                    str(p): c.isoformat() if c else None
                    for p, c in worker.processor.clocks().items()
                },
            }
        )
        return web.bytes(body, content_type="application/json", status=200 if ready else 503)

    return reader
