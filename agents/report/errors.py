"""Errors of the report API's requests."""

from __future__ import annotations

__all__ = ["QueryError"]


class QueryError(ValueError):
    """A bad query parameter: which one, and what is wrong with it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message
