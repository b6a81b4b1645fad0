"""Errors raised by the pure core."""

from __future__ import annotations

__all__ = ["InvalidPolicy", "UserFactsConflict"]


class InvalidPolicy(ValueError):
    """An org policy whose thresholds cannot work (e.g. warning not before critical)."""


class UserFactsConflict(ValueError):
    """A user action that contradicts the user's facts (ending a leave that is not)."""
