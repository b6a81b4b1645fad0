"""How every web server of the project is built: the worker's, its report reader's and
the notifier's (`guarded_runner`).

aiohttp on its own keeps a connection as long as its client likes: one that never
finishes its request's headers, or sends its body a byte a minute, holds a file
descriptor for good. A few thousand such clients use up the process's open files, and
then `/healthz`, `/metrics` and the worker's own Kafka connections fail alike. So each
server here

* closes a connection that has not finished a request's headers `header_timeout`
  seconds after it opened, or after its previous answer (an idle keep-alive);
* closes a connection whose request's body has not arrived whole `body_timeout` seconds
  after its headers;
* holds at most `max_connections` connections: the next one makes room by closing the
  connection that has waited longest without a request under way (a slow or silent
  client, never a request being answered), so a probe or a scrape that sends its request
  at once is answered however many idle connections a client opens;
* keeps that bound below the process's open-file limit with `FILES_KEPT` to spare for
  Kafka, RocksDB and logs (`serving_limits`, which raises the soft limit to the hard one
  first);
* logs the errors a client causes (a malformed request, a body cut off) as one warning
  line without traceback, at most once per `LOG_EVERY` seconds with the number left out.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

__all__ = [
    "CLIENT_ERRORS",
    "FILES_KEPT",
    "LOG_EVERY",
    "WebLimits",
    "guarded_runner",
    "raise_open_file_limit",
    "serving_limits",
]

log = logging.getLogger(__name__)

# Open files left to the rest of the process whatever the connection bound: Kafka
# connections (a few per broker and client), RocksDB's files, logs, the reader's socket.
FILES_KEPT = 1024
# The soft open-file limit is raised to the hard one, but no further than this: enough
# for the default bound and FILES_KEPT many times over.
_OPEN_FILES_WANTED = 65536
# Seconds between two log lines about errors clients cause.
LOG_EVERY = 10.0


@dataclass(frozen=True, slots=True)
class WebLimits:
    """What one web server allows its clients."""

    # Connections held at once; the next one closes the oldest idle one.
    max_connections: int = 1000
    # Seconds from a connection's start, or its previous answer, to a request's headers.
    header_timeout: float = 10.0
    # Seconds to read a request's body once its headers are in.
    body_timeout: float = 30.0


def raise_open_file_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit (at most
    65536); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, _OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as err:  # a sandbox may refuse; keep what we have
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, wanted, err)
    return _OPEN_FILES_WANTED if soft == resource.RLIM_INFINITY else soft


def serving_limits(max_connections: int) -> WebLimits:
    """The limits of a server configured for `max_connections`, bound below the
    open-file limit (raised first) with `FILES_KEPT` files to spare — or half the
    limit, where the limit is small."""
    open_files = raise_open_file_limit()
    room = max(open_files // 2, open_files - FILES_KEPT)
    bound = min(max_connections, room)
    if bound < max_connections:
        log.warning(
            "web server: at most %d connections (asked %d): the open-file limit is %d",
            bound,
            max_connections,
            open_files,
        )
    return WebLimits(max_connections=bound)


def guarded_runner(app: web.Application, limits: WebLimits) -> web.AppRunner:
    """An `AppRunner` for `app` whose server holds under hostile clients (module doc)."""
    return _GuardedRunner(app, limits)


class _GuardedRunner(web.AppRunner):
    __slots__ = ("_limits",)

    def __init__(self, app: web.Application, limits: WebLimits) -> None:
        super().__init__(app, access_log=None, logger=_client_error_logger())
        self._limits = limits

    async def _make_server(self) -> web.Server:
        built = await super()._make_server()
        # The same server, but counting and timing its connections. aiohttp builds it
        # from the application (handler, request factory, handler options), which
        # `_GuardedServer` takes over unchanged.
        return _GuardedServer(
            built.request_handler,
            request_factory=built.request_factory,
            handler_cancellation=built.handler_cancellation,
            limits=self._limits,
            **built._kwargs,
        )


class _GuardedServer(web.Server):
    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        *,
        limits: WebLimits,
        request_factory: Any,
        handler_cancellation: bool,
        **kwargs: Any,
    ) -> None:
        self._inner_factory = request_factory
        self._inner_handler = handler
        super().__init__(
            self._handle,
            request_factory=self._make,
            handler_cancellation=handler_cancellation,
            **kwargs,
        )
        self.limits = limits
        # Connections with no request under way, by when they began to wait (oldest
        # first): the ones closed by the header timeout, and to make room.
        self._waiting: dict[RequestHandler, float] = {}
        self._busy: set[RequestHandler] = set()
        self.shed = 0
        self.timed_out = 0

    @property
    def held(self) -> int:
        """Connections open now."""
        return len(self._waiting) + len(self._busy)

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        self._wait(handler)
        if self.held > self.limits.max_connections:
            client_error(
                f"{self.held - 1} connections held, the most allowed "
                "(BACKUPWATCH_WEB_MAX_CONNECTIONS): closing the one idle longest"
            )
        while self.held > self.limits.max_connections:
            if len(self._waiting) <= 1:
                # Every other connection has a request under way: this one waits for a
                # free place elsewhere, not here.
                self._close(handler)
                self.shed += 1
                return
            oldest = next(iter(self._waiting))
            self._close(oldest)
            self.shed += 1

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self._waiting.pop(handler, None)
        self._busy.discard(handler)
        super().connection_lost(handler, exc)

    def _wait(self, handler: RequestHandler) -> None:
        now = self._loop.time()
        self._waiting[handler] = now
        self._loop.call_at(now + self.limits.header_timeout, self._headers_due, handler, now)

    def _headers_due(self, handler: RequestHandler, since: float) -> None:
        if self._waiting.get(handler) == since:
            self._close(handler)
            self.timed_out += 1

    def _close(self, handler: RequestHandler) -> None:
        self._waiting.pop(handler, None)
        self._busy.discard(handler)
        handler.force_close()

    def _make(self, message: Any, payload: Any, protocol: RequestHandler, *args: Any) -> Any:
        # A request's headers are in: its connection is busy until it is answered.
        if self._waiting.pop(protocol, None) is not None:
            self._busy.add(protocol)
        return self._inner_factory(message, payload, protocol, *args)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        protocol = request.protocol
        # The body must have arrived whole `body_timeout` after the headers, however the
        # handler reads it (at once, or streamed as it comes): else the connection is
        # closed, and the handler's read fails.
        deadline = (
            self._loop.call_later(self.limits.body_timeout, self._body_due, request)
            if request.body_exists
            else None
        )
        try:
            return await self._inner_handler(request)
        finally:
            if deadline is not None:
                deadline.cancel()
            if protocol in self._busy:
                self._busy.discard(protocol)
                self._wait(protocol)

    def _body_due(self, request: web.BaseRequest) -> None:
        if not request.content.is_eof():
            client_error(f"{request.remote}: no whole body within {self.limits.body_timeout:g}s")
            self._close(request.protocol)


# -- errors clients cause, logged rate-limited ------------------------------------------


class _ClientErrors(logging.Filter):
    """Turns aiohttp's "Error handling request" records about a malformed request (an
    `HttpProcessingError`) or a connection lost mid-request — the client's doing — into
    one warning line, without traceback, at most once per `LOG_EVERY` seconds; errors of
    the server itself pass unchanged."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._last = -LOG_EVERY
        self._left_out = 0

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.levelno < logging.WARNING:
            return True
        if isinstance(error, ConnectionError):
            # The connection went (the client left, or took too long to send its body)
            # while its request was being answered.
            message = f"connection lost during the request: {error}"
        elif isinstance(error, HttpProcessingError):
            # aiohttp's message draws a caret under the bad byte on lines of its own.
            message = " ".join(str(error.message).split())[:300]
        else:
            return True
        client = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        text = f"bad request from {client}: {message}"
        return self.admit(record, text)

    def admit(self, record: logging.LogRecord, text: str) -> bool:
        now = self._clock()
        if now - self._last < LOG_EVERY:
            self._left_out += 1
            return False
        if self._left_out:
            text += f" (and {self._left_out} more like it in the last {now - self._last:.0f}s)"
        self._last, self._left_out = now, 0
        record.msg, record.args = "%s", (text,)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


# One rate limit for the process: it is the log's volume that is bounded.
CLIENT_ERRORS = _ClientErrors()
_client_log = logging.getLogger(f"{__name__}.clients")
_client_log.addFilter(CLIENT_ERRORS)


def _client_error_logger() -> logging.Logger:
    return _client_log


def client_error(text: str) -> None:
    """Log an error a client caused, rate-limited as aiohttp's own."""
    if not _client_log.isEnabledFor(logging.WARNING):
        return
    record = _client_log.makeRecord(_client_log.name, logging.WARNING, __file__, 0, text, (), None)
    if CLIENT_ERRORS.admit(record, text):
        _client_log.handle(record)
