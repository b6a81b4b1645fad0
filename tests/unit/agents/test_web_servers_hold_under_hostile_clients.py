"""A web server of the project (here the notifier's, on a real loopback port; the
worker's and the report reader's are built by the same `agents.serving.guarded_runner`)
closes connections that never finish their headers or their body, holds at most its
bound of connections while still answering probes, and logs malformed requests once in
a while, without traceback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from agents.notify.web import start_web
from agents.serving import (
    CLIENT_ERRORS,
    FILES_KEPT,
    WebLimits,
    guarded_runner,
    raise_open_file_limit,
    serving_limits,
)

LIMITS = WebLimits(max_connections=20, header_timeout=0.5, body_timeout=0.5)
HALF_A_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"


@pytest_asyncio.fixture
async def server() -> AsyncIterator[tuple[str, int]]:
    registry = CollectorRegistry()
    Counter("probe", "a metric to scrape", registry=registry).inc()
    runner = await start_web("127.0.0.1", 0, registry, lambda: {"ok": True}, LIMITS)
    host, port = runner.addresses[0][:2]
    try:
        yield host, port
    finally:
        await runner.cleanup()


async def _get(address: tuple[str, int], path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """What the server sent before closing; fails if it is still open after `seconds`."""
    try:
        return await asyncio.wait_for(reader.read(), seconds)
    except TimeoutError:
        pytest.fail(f"the server still held the connection after {seconds}s")


async def test_a_connection_that_never_finishes_its_headers_is_closed(
    server: tuple[str, int],
) -> None:
    silent_reader, silent = await asyncio.open_connection(*server)
    partial_reader, partial = await asyncio.open_connection(*server)
    partial.write(HALF_A_REQUEST)
    assert await _closed_within(silent_reader, 5) == b""
    assert await _closed_within(partial_reader, 5) == b""
    silent.close()
    partial.close()


async def test_a_body_that_does_not_arrive_closes_its_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="agents.serving")

    async def read_it(request: web.Request) -> web.Response:
        return web.Response(text=f"{len(await request.read())} bytes")

    async with _served(read_it) as address:
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        answer = await _closed_within(reader, 5)
        writer.close()
    assert b"200" not in answer.split(b"\r\n", 1)[0], answer[:200]
    # The client's doing: no traceback, in whatever it logs.
    assert not [r for r in caplog.records if r.exc_info or r.exc_text]


async def test_a_body_streamed_in_time_reaches_its_handler_whole() -> None:
    """A handler reading the body as it comes (as the ingest endpoint does) gets all of
    it: the server does not read it first."""

    async def stream_it(request: web.Request) -> web.Response:
        size = 0
        async for chunk in request.content.iter_chunked(1000):
            size += len(chunk)
        return web.Response(text=f"{size} bytes")

    async with _served(stream_it) as address:
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
        writer.write(b"x" * 2500)
        await writer.drain()
        writer.write(b"x" * 2500)
        answer = await _closed_within(reader, 5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"5000 bytes"), answer


@contextlib.asynccontextmanager
async def _served(handler: Any) -> AsyncIterator[tuple[str, int]]:
    app = web.Application()
    app.router.add_route("*", "/x", handler)
    runner = guarded_runner(app, LIMITS)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield runner.addresses[0][:2]
    finally:
        await runner.cleanup()


async def test_silent_connections_beyond_the_bound_are_closed_and_probes_still_answer(
    server: tuple[str, int],
) -> None:
    held = [await asyncio.open_connection(*server) for _ in range(10 * LIMITS.max_connections)]
    for _, writer in held:
        writer.write(HALF_A_REQUEST)
    # The newest connections stay (until their header timeout); the oldest made room.
    for status_path in ("/healthz", "/metrics"):
        status, body = await _get(server, status_path)
        assert status == 200, body
    assert b"probe_total 1.0" in (await _get(server, "/metrics"))[1]
    still_open = 0
    for reader, writer in held[: -LIMITS.max_connections]:
        assert await _closed_within(reader, 0.4) == b""  # before any header timeout
        writer.close()
    for reader, writer in held[-LIMITS.max_connections :]:
        still_open += not reader.at_eof()
        writer.close()
    assert still_open <= LIMITS.max_connections


async def test_malformed_requests_are_logged_rate_limited_without_traceback(
    server: tuple[str, int], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit is the process's: start as if no client error was logged lately.
    monkeypatch.setattr(CLIENT_ERRORS, "_last", float("-inf"))
    monkeypatch.setattr(CLIENT_ERRORS, "_left_out", 0)
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    caplog.set_level(logging.DEBUG, logger="agents.serving")
    for _ in range(50):
        reader, writer = await asyncio.open_connection(*server)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        answer = await _closed_within(reader, 5)
        assert answer.split(b" ", 2)[1] == b"400", answer[:200]
        writer.close()
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert 1 <= len(warned) <= 2, [r.getMessage() for r in warned]
    assert all(r.exc_info is None and r.exc_text is None for r in warned)
    assert warned[0].getMessage() == (
        "bad request from 127.0.0.1: Invalid header token: b'Bad Header' ^"
    )


def test_the_connection_bound_leaves_open_files_for_kafka() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    open_files = raise_open_file_limit()
    assert open_files == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert open_files >= min(soft if hard == resource.RLIM_INFINITY else hard, 65536)
    limits = serving_limits(10_000_000)
    assert limits.max_connections <= max(open_files // 2, open_files - FILES_KEPT)
    assert serving_limits(100).max_connections == 100


async def test_a_request_under_way_is_never_closed_to_make_room() -> None:
    answered = asyncio.Event()
    release = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        answered.set()
        await release.wait()
        return web.Response(text="done")

    app = web.Application()
    app.router.add_get("/slow", slow)
    runner = guarded_runner(app, WebLimits(max_connections=2, header_timeout=5, body_timeout=5))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    address = runner.addresses[0][:2]
    try:
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await asyncio.wait_for(answered.wait(), 5)
        others = [await asyncio.open_connection(*address) for _ in range(5)]
        release.set()
        answer = await _closed_within(reader, 5)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"done"), answer
        for _, other in others:
            other.close()
        writer.close()
    finally:
        await runner.cleanup()
