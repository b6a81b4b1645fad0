"""Errors raised while reading the wire contract."""

from __future__ import annotations

from typing import Literal

__all__ = ["InvalidRecord", "Reason"]

# Bounded on purpose: the reason is a metric label and a dead-letter field.
Reason = Literal["oversized", "invalid_json", "missing_schema", "unknown_schema", "invalid_field"]


class InvalidRecord(ValueError):
    """A record that does not decode or validate; `reason` is one of `Reason`."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message
