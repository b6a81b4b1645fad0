"""A local stand-in for a CrashPlan console's API, for `pycpg` to talk to.

There is no CrashPlan console to reach from the test machines, so the tests run the
vendor's own client, `pycpg`, unchanged, against this server on loopback. It answers
the routes `pycpg` calls (read from its source: `pycpg.services._auth`,
`pycpg.services.devices`, `pycpg.services.users`, `pycpg.clients.loginconfig`) with
the JSON shapes of the public API documentation, from the files in
`tests/fixtures/crashplan/`:

    POST /api/v3/oauth/token?grant_type=client_credentials   API client (Basic key:secret)
    GET  /api/v3/auth/jwt?useBody=true                       local account (Basic user:password,
                                                             `totp-auth` header when 2FA is on)
    GET  /api/v1/User/my                                     who is signed in (pycpg's check)
    GET  /api/v3/LoginConfiguration?username=                how a user signs in
    GET  /api/v1/Computer?pgNum=&pgSize=&incBackupUsage=     devices with backup usage, paged
                                                             (at most 1,000 a page, as the console)

Every other route needs `Authorization: Bearer <token>` and answers 401 without it.
`fail_next` queues answers for a route (a 429 with `Retry-After`, a 5xx) to test retries.
"""

from __future__ import annotations

import base64
import copy
import threading
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

__all__ = ["FIXTURES", "FakeConsole", "computer", "iso", "running_console"]

FIXTURES = Path(__file__).parent / "fixtures" / "crashplan"
MAX_PAGE_SIZE = 1000


def _fixture(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


_COMPUTER = _fixture("computer.json")


def iso(at: datetime | None) -> str | None:
    """A time as the console writes it (`2026-11-30T16:55:40.632Z`)."""
    if at is None:
        return None
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def computer(
    guid: str,
    *,
    user: str = "user-1",
    org: str = "org-1",
    hostname: str | None = None,
    active: bool = True,
    last_connected: datetime | None,
    registered: datetime | None = None,
    modified: datetime | None = None,
    destinations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A device as the console lists it, from the fixture, with these facts.

    `destinations` entries: `guid`, `last_connected`, `last_backup`, `last_completed`,
    `percent`, `selected_files`, `selected_bytes`, `todo_files`, `todo_bytes`, `modified`."""
    device = copy.deepcopy(_COMPUTER)
    template = device["backupUsage"][0]
    device.update(
        guid=guid,
        name=(hostname or f"host-{guid}").upper(),
        osHostname=hostname or f"host-{guid}",
        userUid=user,
        orgUid=org,
        active=active,
        status="Active" if active else "Deactivated",
        lastConnected=iso(last_connected),
        creationDate=iso(registered),
        modificationDate=iso(modified or last_connected),
    )
    usages = []
    for dest in destinations or []:
        usage = copy.deepcopy(template)
        usage.update(
            targetComputerGuid=dest["guid"],
            lastConnected=iso(dest.get("last_connected")),
            lastBackup=iso(dest.get("last_backup")),
            lastCompletedBackup=iso(dest.get("last_completed")),
            modificationDate=iso(dest.get("modified", dest.get("last_connected"))),
            percentComplete=dest.get("percent", 100.0),
            selectedFiles=dest.get("selected_files", 1000),
            selectedBytes=dest.get("selected_bytes", 10_000_000),
            todoFiles=dest.get("todo_files", 0),
            todoBytes=dest.get("todo_bytes", 0),
        )
        usages.append(usage)
    device["backupUsage"] = usages
    return device


class FakeConsole:
    """The console's state and answers; `devices` may be changed between polls."""

    def __init__(
        self,
        *,
        client_id: str = "key-1",
        secret: str = "secret-1",
        username: str = "admin@example.com",
        password: str = "password-1",
        totp: str | None = None,
    ) -> None:
        self.client_id, self.secret = client_id, secret
        self.username, self.password, self.totp = username, password, totp
        self.devices: list[dict[str, Any]] = []
        self.tokens: set[str] = set()
        self.requests: Counter[str] = Counter()
        self.page_sizes: list[int] = []
        self._failures: dict[str, deque[tuple[int, dict[str, str]]]] = {}
        self._lock = threading.Lock()
        self.url = ""

    def fail_next(self, path: str, status: int, times: int = 1, **headers: str) -> None:
        """Answer the next `times` requests to `path` with `status` (and `headers`)."""
        with self._lock:
            queue = self._failures.setdefault(path, deque())
            for _ in range(times):
                queue.append((status, {k.replace("_", "-"): v for k, v in headers.items()}))

    def revoke_tokens(self) -> None:
        """Expire every token handed out (pycpg signs in again on a 401)."""
        with self._lock:
            self.tokens.clear()

    def _next_failure(self, path: str) -> tuple[int, dict[str, str]] | None:
        with self._lock:
            queue = self._failures.get(path)
            return queue.popleft() if queue else None

    def _token(self) -> str:
        with self._lock:
            token = f"token-{len(self.tokens) + 1}-{id(self)}"
            self.tokens.add(token)
            return token

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any
    ) -> tuple[int, dict[str, str], bytes]:
        self.requests[f"{method} {path}"] += 1
        failure = self._next_failure(path)
        if failure is not None:
            status, extra = failure
            body = _fixture("too_many_requests.json") if status == 429 else {"error": "fault"}
            return status, extra, orjson.dumps(body)
        auth = headers.get("Authorization", "")
        if method == "POST" and path == "/api/v3/oauth/token":
            if _basic(auth) != (self.client_id, self.secret):
                return _unauthorized()
            body = _fixture("oauth_token.json")
            body["access_token"] = self._token()
            return 200, {}, orjson.dumps(body)
        if method == "GET" and path == "/api/v3/auth/jwt":
            totp_ok = self.totp is None or headers.get("totp-auth") == self.totp
            if _basic(auth) != (self.username, self.password) or not totp_ok:
                return _unauthorized()
            body = _fixture("jwt.json")
            body["data"]["v3_user_token"] = self._token()
            return 200, {}, orjson.dumps(body)
        if method == "GET" and path == "/api/v3/LoginConfiguration":
            return 200, {}, orjson.dumps(_fixture("login_configuration.json"))
        token = auth.removeprefix("Bearer ")
        with self._lock:
            signed_in = auth.startswith("Bearer ") and token in self.tokens
        if not signed_in:
            return _unauthorized()
        if method == "GET" and path == "/api/v1/User/my":
            return 200, {}, orjson.dumps(_fixture("user_my.json"))
        if method == "GET" and path == "/api/v1/Computer":
            return self._computers(query)
        return 404, {}, b'[{"name": "NOT_FOUND"}]'

    def _computers(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        page = int(query.get("pgNum", ["1"])[0])
        size = int(query.get("pgSize", ["100"])[0])
        self.page_sizes.append(size)
        if size > MAX_PAGE_SIZE or page < 1 or size < 1:
            return 400, {}, b'[{"name": "INVALID_PAGE_SIZE"}]'
        devices = self.devices
        if query.get("active", [""])[0] in ("true", "True"):
            devices = [d for d in devices if d["active"]]
        chunk = devices[(page - 1) * size : page * size]
        if query.get("incBackupUsage", [""])[0] not in ("true", "True"):
            chunk = [{k: v for k, v in d.items() if k != "backupUsage"} for d in chunk]
        data: dict[str, Any] = {"computers": chunk}
        if query.get("incCounts", [""])[0] in ("true", "True"):
            data["totalCount"] = len(devices)
        return 200, {}, orjson.dumps({"metadata": {"params": {}}, "data": data})


def _basic(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def _unauthorized() -> tuple[int, dict[str, str], bytes]:
    return 401, {}, orjson.dumps(_fixture("unauthorized.json"))


def _handler(console: FakeConsole) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            parts = urlsplit(self.path)
            status, headers, body = console.answer(
                method, parts.path, parse_qs(parts.query), self.headers
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (the http.server interface)
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@contextmanager
def running_console(console: FakeConsole | None = None) -> Iterator[FakeConsole]:
    """Serve `console` on a free loopback port (its `url` set) while the block runs."""
    console = console or FakeConsole()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(console))
    server.daemon_threads = True
    console.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-console", daemon=True)
    thread.start()
    try:
        yield console
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
