"""Errors raised by the Faust wiring and the command line."""

from __future__ import annotations

__all__ = ["ConfigError", "TopicLayoutError"]


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


class TopicLayoutError(RuntimeError):
    """The topics on the broker cannot carry the pipeline (e.g. partition counts differ)."""
