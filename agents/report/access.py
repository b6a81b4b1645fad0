"""Who may read the fleet and who may change it, and the headers every answer carries.

As soon as any token is configured (viewer tokens or the admin token), every `/api/`
route needs one: a viewer token reads, the admin token reads and writes (the API
checks writes itself, `agents.report.api`). The dashboard's own files need none: they hold
no fleet data, and its login form is one of them. `/metrics`, `/healthz` and
`/readyz` are the worker's and never pass through here.

Tokens are compared in constant time, every configured one each time, and never logged.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import msgspec
from aiohttp import web

from agents.errors import ConfigError
from agents.report.bodies import Error
from agents.settings import Settings, read_tokens

__all__ = ["SECURITY_HEADERS", "Role", "Tokens", "protect"]

log = logging.getLogger(__name__)

Role = Literal["admin", "viewer"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The dashboard runs only its own files (no inline script, nothing from elsewhere), in
# no one else's frame, and tells no other site where it was.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# How often a token file is looked at for a change.
_RECHECK_SECONDS = 1.0


class _TokenFile:
    """Tokens from a file, read again when it changes; a file that cannot be read keeps
    the tokens read last (a rotation half done must not lock everyone out)."""

    def __init__(self, path: Path, variable: str, tokens: tuple[str, ...]) -> None:
        self.path = path
        self.variable = variable
        self.tokens = tokens
        self._seen = self._stamp()
        self._checked = time.monotonic()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def current(self) -> tuple[str, ...]:
        now = time.monotonic()
        if now - self._checked >= _RECHECK_SECONDS:
            self._checked = now
            stamp = self._stamp()
            if stamp is not None and stamp != self._seen:
                try:
                    self.tokens = read_tokens(self.path, self.variable)
                except ConfigError as err:
                    log.warning("%s; keeping the tokens read before", err)
                else:
                    self._seen = stamp
                    log.info("%s changed: %d token(s) now", self.variable, len(self.tokens))
        return self.tokens


class Tokens:
    """The configured tokens, from the settings or their files."""

    def __init__(self, settings: Settings) -> None:
        admin = (settings.api_token,) if settings.api_token else ()
        self._admin = (
            _TokenFile(settings.api_token_file, "BACKUPWATCH_API_TOKEN_FILE", admin)
            if settings.api_token_file
            else admin
        )
        self._viewers = (
            _TokenFile(
                settings.viewer_tokens_file,
                "BACKUPWATCH_VIEWER_TOKENS_FILE",
                settings.viewer_tokens,
            )
            if settings.viewer_tokens_file
            else settings.viewer_tokens
        )
        # Decided once: a token file emptied later locks reads, it never opens them.
        self.reads_need_a_token = settings.reads_need_a_token
        self.writes_enabled = bool(settings.api_token)

    @staticmethod
    def _of(source: _TokenFile | tuple[str, ...]) -> tuple[str, ...]:
        return source.current() if isinstance(source, _TokenFile) else source

    def role(self, request: web.Request) -> Role | None:
        """The role of the request's bearer token; None without one or with a wrong one."""
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        presented = credentials.strip().encode()
        if scheme.lower() != "bearer" or not presented:
            return None
        # Every token is compared, so the time taken says nothing about which matched.
        admin = viewer = False
        for token in self._of(self._admin):
            admin |= hmac.compare_digest(presented, token.encode())
        for token in self._of(self._viewers):
            viewer |= hmac.compare_digest(presented, token.encode())
        return "admin" if admin else "viewer" if viewer else None


def _refusal(status: int, message: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="backupwatch"'} if status == 401 else None
    return web.Response(
        body=msgspec.json.encode(Error(error=message)),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def protect(app: web.Application, settings: Settings) -> Tokens:
    """Require a token for the fleet's routes of `app`, and add the security headers to
    every answer (streamed ones included)."""
    tokens = Tokens(settings)

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        role = tokens.role(request) if tokens.reads_need_a_token else None
        if tokens.reads_need_a_token and role is None:
            return _refusal(
                401,
                "this worker's fleet needs a token: send 'Authorization: Bearer <token>' "
                "with a viewer token (BACKUPWATCH_VIEWER_TOKENS) or the admin token",
            )
        if request.method in _WRITES and role == "viewer":
            return _refusal(403, "a viewer token reads; writes need the admin token")
        return await handler(request)

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)

    app.middlewares.append(require_token)
    app.on_response_prepare.append(add_headers)
    return tokens
