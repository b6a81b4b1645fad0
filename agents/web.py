"""The worker's web endpoints: metrics, health, the status report API and the dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.api import attach_api
from agents.fleet import FleetView

if TYPE_CHECKING:
    from agents.app import Backupwatch

__all__ = ["attach_views"]


def attach_views(worker: Backupwatch) -> FleetView:
    """Add every endpoint to the worker's web server; returns the worker's fleet view."""
    app = worker.app
    view = FleetView(worker.policies.policy_for)
    # Consistent with the alerts within a second; each device's row is cut at most once
    # a second however often the pipeline writes it.
    view.max_staleness = 1.0
    changelog = worker.table.changelog_topic.get_topic_name()

    @app.task
    async def follow_fleet() -> None:
        await view.follow(worker.settings, changelog)

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
    attach_api(worker, view)

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
        recovering = not tables.recovery.completed.is_set()
        ready = bool(assigned) and not recovering
        body = orjson.dumps(
            {
                "ready": ready,
                "assigned_partitions": len(assigned),
                "recovering": recovering,
                "clocks": {
                    str(p): c.isoformat() if c else None
                    for p, c in worker.processor.clocks().items()
                },
            }
        )
        return web.bytes(body, content_type="application/json", status=200 if ready else 503)

    return view
