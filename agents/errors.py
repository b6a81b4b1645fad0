"""Errors raised by the Faust wiring and the command line."""

from __future__ import annotations

__all__ = ["ConfigError", "KafkaUnreachable", "TopicLayoutError"]


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


class TopicLayoutError(RuntimeError):
    """The topics on the broker cannot carry the pipeline (e.g. partition counts differ)."""


class KafkaUnreachable(RuntimeError):
    """No broker answered at the bootstrap servers; the message names the address tried."""

    def __init__(self, bootstrap_servers: str, cause: object) -> None:
        super().__init__(
            f"cannot reach Kafka at BACKUPWATCH_BOOTSTRAP_SERVERS={bootstrap_servers}: {cause}"
        )
