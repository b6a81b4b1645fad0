"""`backupwatch ingest`: the HTTP endpoint endpoints post their telemetry to.

A process of its own rather than a route of the worker: the machines that post to it
hold no Kafka credentials (this process does), it sits at the edge of the network
where the workers need not, and it scales with the number of endpoints, the workers
with the number of partitions.

A request is checked in the order that costs least first: the token (401), its rate
(429), the body's size (413), every record (400, 403); only then is anything sent,
and the answer is 202 once the broker acknowledged every record of the request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.ingest.body import parse_body
from agents.ingest.errors import Refused
from agents.ingest.metrics import IngestMetrics
from agents.ingest.openapi import openapi_document
from agents.ingest.producer import input_topic, publish, start_producer
from agents.ingest.ratelimit import RateLimiter
from agents.ingest.settings import IngestSettings
from agents.ingest.tokens import IngestToken, TokenBook
from agents.serving import WebLimits, guarded_runner, serving_limits

__all__ = ["IngestServer", "run"]

log = logging.getLogger(__name__)

INGEST_PATH = "/api/ingest"
_READ_CHUNK = 64 * 1024


class IngestServer:
    def __init__(
        self,
        settings: IngestSettings,
        producer: object,
        metrics: IngestMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.metrics = metrics or IngestMetrics()
        self.tokens: TokenBook = settings.token_book()
        self.limiter = RateLimiter(settings.rate, settings.burst)
        self.clock = clock

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.settings.max_bytes)
        app.router.add_post(INGEST_PATH, self.ingest)
        app.router.add_get("/api/openapi.json", self.openapi)
        app.router.add_get("/metrics", self.metrics_page)
        app.router.add_get("/healthz", self.healthz)
        return app

    async def ingest(self, request: web.Request) -> web.Response:
        try:
            token = self._authorize(request)
            body = await self._read(request)
            records = parse_body(
                body, request.headers.get("Content-Type", ""), token, self.settings.max_records
            )
        except Refused as refused:
            return self._refuse(refused)
        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                publish(self.producer, self.settings.topic_prefix, records),
                self.settings.ack_timeout,
            )
        except Exception as err:  # any failure to publish is the same answer: send again
            log.warning("records not acknowledged by the broker: %r", err)
            self.metrics.requests.labels("unavailable").inc()
            return web.json_response(
                {
                    "error": f"the broker did not acknowledge the records ({type(err).__name__}); "
                    "send them again"
                },
                status=503,
                headers={"Retry-After": "5"},
            )
        self.metrics.ack_duration.observe(time.perf_counter() - started)
        self.metrics.requests.labels("accepted").inc()
        for topic, count in Counter(input_topic(r) for r in records).items():
            self.metrics.records.labels(topic).inc(count)
        return web.json_response({"accepted": len(records)}, status=202)

    def _authorize(self, request: web.Request) -> IngestToken:
        token = self.tokens.find(request.headers.get("Authorization"))
        if token is None:
            raise Refused(401, "unauthorized", "missing or unknown ingest token")
        wait = self.limiter.take(token.name, self.clock())
        if wait > 0:
            retry_after = RateLimiter.retry_after(wait)
            raise Refused(
                429,
                "rate_limited",
                f"more than {self.settings.rate:g} requests a second with this token; "
                f"retry after {retry_after} s",
                headers={"Retry-After": retry_after},
            )
        return token

    async def _read(self, request: web.Request) -> bytes:
        limit = self.settings.max_bytes
        too_large = Refused(413, "too_large", f"the body is larger than {limit} bytes")
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        body = bytearray()
        async for chunk in request.content.iter_chunked(_READ_CHUNK):
            body += chunk
            if len(body) > limit:
                raise too_large
        return bytes(body)

    def _refuse(self, refused: Refused) -> web.Response:
        self.metrics.requests.labels(refused.outcome).inc()
        headers = dict(refused.headers)
        if refused.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="backupwatch-ingest"'
        return web.json_response(refused.body(), status=refused.status, headers=headers)

    async def openapi(self, _: web.Request) -> web.Response:
        return web.json_response(openapi_document(self.settings))

    async def metrics_page(self, _: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(self.metrics.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"ok": True})


async def run(settings: IngestSettings, stop: asyncio.Event) -> None:
    """Serve until `stop` is set; the producer flushes what it holds before exiting."""
    producer = await start_producer(settings.bootstrap_servers)
    runner: web.AppRunner | None = None
    try:
        # Built as every web server of the project is (agents.serving): it faces the
        # endpoints, so it holds under clients that hold connections open.
        runner = guarded_runner(
            IngestServer(settings, producer).app(), serving_limits(WebLimits().max_connections)
        )
        await runner.setup()
        await web.TCPSite(runner, settings.web_host, settings.web_port).start()
        log.info(
            "ingest endpoint on http://%s:%d%s", settings.web_host, settings.web_port, INGEST_PATH
        )
        await stop.wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        await producer.stop()
