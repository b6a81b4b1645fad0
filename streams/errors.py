"""Errors raised by the pure core."""

from __future__ import annotations

__all__ = ["InvalidPolicy"]


class InvalidPolicy(ValueError):
    """An org policy whose thresholds cannot work (e.g. warning not before critical)."""
