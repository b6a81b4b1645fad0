"""The report reader: the status report API and the dashboard, in a process beside each worker.

A worker's event loop is one thread. Every millisecond it spends answering the report —
cutting rows from changelog values, filtering and sorting the fleet, writing JSON or a
whole-fleet CSV — is a millisecond its partitions wait, and Python's GIL lets no thread
take that work off it. So each worker starts a reader process that follows the
device-state changelog and the org policies on its own, answers the API, and publishes
admin writes; the worker's web server passes API and dashboard requests through to it
over a Unix socket, which costs the worker a fraction of a millisecond per request.

The reader runs at a lower CPU priority than its worker (`nice` 10 by default,
`BACKUPWATCH_REPORT_NICE`): when the machine has no core to spare — a worker catching up
on a backlog beside its broker — alerts come first and report answers wait, and
otherwise the reader has all the CPU it asks for.

The worker watches its reader and starts it again if it exits; the reader ends itself
when its worker is gone, so a worker killed with SIGKILL leaves nothing behind.

    python -m agents.report.reader --socket PATH --changelog TOPIC --parent PID

(started by the worker, with the worker's settings as `BACKUPWATCH_*` variables)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
from typing import TYPE_CHECKING

import orjson
from aiohttp import ClientConnectionError, ClientSession, ClientTimeout, UnixConnector, web

from agents import logs
from agents.report.access import SECURITY_HEADERS
from agents.serving import guarded_runner, serving_limits
from agents.settings import Settings

if TYPE_CHECKING:
    from agents.report.side import ReadSide

__all__ = ["ReportReader", "main", "serve"]

log = logging.getLogger(__name__)

# The headers of an answer that mean something to the client; hop-by-hop ones
# (Transfer-Encoding, Connection) are the worker's own business.
_ANSWER_HEADERS = (
    "Content-Type",
    "Content-Disposition",
    "Cache-Control",
    "WWW-Authenticate",
    *SECURITY_HEADERS,
)
_REQUEST_HEADERS = ("Authorization", "Content-Type", "Accept")
# Answers up to this size are passed on whole (one write); larger ones, the CSV export
# above all, are streamed so that neither process holds them twice.
_WHOLE_ANSWER = 1 << 20


class ReportReader:
    """The worker's side: starts the reader process, keeps it running, forwards requests."""

    def __init__(self, settings: Settings, changelog: str) -> None:
        self.settings = settings
        self.changelog = changelog
        # Unix socket paths are short (108 bytes): a temporary directory of its own,
        # made when the reader first starts.
        self._dir: str | None = None
        self.socket_path = ""
        self._process: asyncio.subprocess.Process | None = None
        self._session: ClientSession | None = None
        self.starts = 0
        # The reader's unexpected errors by topic, as last counted (see `new_unexpected_errors`).
        self._errors_seen: dict[str, int] = {}

    @property
    def state(self) -> str:
        """ "running", "starting" (no process yet) or "exited" (about to start again)."""
        if self._process is None:
            return "starting"
        return "running" if self._process.returncode is None else "exited"

    async def run(self) -> None:
        """Start the reader and start it again whenever it exits, until cancelled."""
        delay = 1.0
        self._dir = tempfile.mkdtemp(prefix="backupwatch-reader-")
        self.socket_path = os.path.join(self._dir, "api.sock")
        try:
            while True:
                started = asyncio.get_running_loop().time()
                try:
                    self._process = await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "agents.report.reader",
                        "--socket",
                        self.socket_path,
                        "--changelog",
                        self.changelog,
                        "--parent",
                        str(os.getpid()),
                        env={**os.environ, **self.settings.as_env()},
                    )
                except OSError as err:
                    outcome = f"could not start ({err})"
                else:
                    self.starts += 1
                    outcome = f"exited with code {await self._process.wait()}"
                if asyncio.get_running_loop().time() - started > 60:
                    delay = 1.0  # it ran for a while: a fresh failure, not a crash loop
                log.warning("report reader %s; starting it again in %.0f s", outcome, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        finally:
            await self._stop()

    def new_unexpected_errors(self) -> dict[str, int]:
        """The records the reader skipped for an unexpected error since the last call, by
        topic. The reader process writes its counts to a file beside its socket (it has
        no metrics endpoint of its own); a reader started again counts from zero."""
        if not self.socket_path:
            return {}
        try:
            with open(_errors_path(self.socket_path), "rb") as counts:
                now: dict[str, int] = orjson.loads(counts.read())
        except (OSError, ValueError):
            return {}
        seen, self._errors_seen = self._errors_seen, now
        new = {}
        for topic, n in now.items():
            before = seen.get(topic, 0)
            # Fewer than before: a new reader process, counting from zero.
            new[topic] = n - before if n >= before else n
        return {topic: n for topic, n in new.items() if n > 0}

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def _client(self) -> ClientSession:
        if not self.socket_path:
            raise ClientConnectionError("the report reader has not started")
        if self._session is None or self._session.closed:
            self._session = ClientSession(
                # Idle connections are let go before the reader's server closes them
                # (agents.serving: 10 s), so none is reused as it is being closed.
                connector=UnixConnector(path=self.socket_path, keepalive_timeout=5.0),
                # A whole-fleet CSV of a million devices takes a while to write.
                timeout=ClientTimeout(total=None, sock_connect=5, sock_read=300),
                auto_decompress=False,
            )
        return self._session

    async def forward(self, request: web.Request) -> web.StreamResponse:
        """Pass one request to the reader and its answer back."""
        headers = {h: request.headers[h] for h in _REQUEST_HEADERS if h in request.headers}
        # `body_exists`: whether the request has a body, read or not yet.
        body = await request.read() if request.body_exists else None
        try:
            upstream = await self._client().request(
                request.method,
                f"http://report-reader{request.path_qs}",
                headers=headers,
                data=body,
                allow_redirects=False,
            )
        except (ClientConnectionError, OSError):
            return web.Response(
                body=orjson.dumps(
                    {
                        "error": "the report reader of this worker is starting; "
                        "try again in a few seconds"
                    }
                ),
                status=503,
                content_type="application/json",
                headers={"Retry-After": "2"},
            )
        async with upstream:
            answer = {h: upstream.headers[h] for h in _ANSWER_HEADERS if h in upstream.headers}
            size = upstream.content_length
            if size is not None and size <= _WHOLE_ANSWER:
                return web.Response(
                    body=await upstream.read(), status=upstream.status, headers=answer
                )
            response = web.StreamResponse(status=upstream.status, headers=answer)
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(256 * 1024):
                await response.write(chunk)
            await response.write_eof()
            return response


# -- the reader process ------------------------------------------------------------


async def serve(settings: Settings, socket_path: str, changelog: str, parent: int | None) -> None:
    """Answer the API on `socket_path` until the parent process is gone."""
    from agents.report.side import ReadSide, run_until_one_ends

    side = ReadSide(settings, changelog)
    await side.start()
    app = web.Application()
    side.attach(app)
    runner = guarded_runner(app, serving_limits(settings.web_max_connections))
    await runner.setup()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)  # left by a reader that was killed
    await web.UnixSite(runner, socket_path).start()
    log.info("report reader answering on %s", socket_path)
    orphaned = asyncio.create_task(_orphaned(parent), name="watch-worker")
    tasks = [asyncio.create_task(follow, name=name) for name, follow in side.followers().items()]
    tasks += [
        asyncio.create_task(_write_errors(side, socket_path), name="count-errors"),
        orphaned,
    ]
    try:
        # A follower's failure ends the reader; the worker starts it again.
        await run_until_one_ends(tasks)
    finally:
        await runner.cleanup()
        await side.stop()
        if orphaned.done() and not orphaned.cancelled():
            # A worker that was killed could not remove the socket's directory.
            _remove_socket(socket_path)


def _errors_path(socket_path: str) -> str:
    return os.path.join(os.path.dirname(socket_path), "unexpected-errors.json")


async def _write_errors(side: ReadSide, socket_path: str) -> None:
    """Keep the counts of skipped records in a file for the worker's metrics."""
    written: dict[str, int] = {}
    path = _errors_path(socket_path)
    while True:
        counts = side.unexpected_errors()
        if counts != written:
            with open(path + ".new", "wb") as out:
                out.write(orjson.dumps(counts))
            os.replace(path + ".new", path)
            written = counts
        await asyncio.sleep(1.0)


def _remove_socket(socket_path: str) -> None:
    for path in (socket_path, _errors_path(socket_path)):
        with contextlib.suppress(OSError):
            os.unlink(path)
    directory = os.path.dirname(socket_path)
    if os.path.basename(directory).startswith("backupwatch-reader-"):
        with contextlib.suppress(OSError):
            os.rmdir(directory)


async def _orphaned(parent: int | None) -> None:
    """Return once the worker that started this reader is gone."""
    while parent is None or os.getppid() == parent:
        await asyncio.sleep(1)
    log.info("report reader: the worker (pid %s) is gone; stopping", parent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents.report.reader", description=__doc__)
    parser.add_argument("--socket", required=True, help="Unix socket to answer on")
    parser.add_argument("--changelog", required=True, help="the device-state changelog topic")
    parser.add_argument("--parent", type=int, help="stop when this process is gone")
    args = parser.parse_args(argv)
    settings = Settings.from_env(role="report-reader")
    if settings.report_nice:
        os.nice(settings.report_nice)
    logs.configure(settings.log_level, settings.log_format)
    asyncio.run(serve(settings, args.socket, args.changelog, args.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
