"""Errors of the ingest endpoint: refused settings and refused requests."""

from __future__ import annotations

from agents.errors import ConfigError

__all__ = ["ConfigError", "Refused"]


class Refused(Exception):
    """A request the endpoint refuses: `status` (4xx), `outcome` (the metric label) and a
    message for the client; `line` and `field` where one record is at fault."""

    def __init__(
        self,
        status: int,
        outcome: str,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        org_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome
        self.message = message
        self.line = line
        self.field = field
        self.org_id = org_id
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.message}
        for name in ("line", "field", "org_id"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return body
