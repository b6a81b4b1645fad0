"""The notifier's web server: `/metrics` for Prometheus, `/healthz` for probes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from agents.serving import WebLimits, guarded_runner

__all__ = ["start_web"]


async def start_web(
    host: str,
    port: int,
    registry: CollectorRegistry,
    health: Callable[[], dict[str, Any]],
    limits: WebLimits,
) -> web.AppRunner:
    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def healthz(_: web.Request) -> web.Response:
        state = health()
        return web.json_response(state, status=200 if state.get("ok") else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    runner = guarded_runner(app, limits)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
