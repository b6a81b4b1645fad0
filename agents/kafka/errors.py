"""Errors of the Kafka connection: refused settings and refused connections."""

from __future__ import annotations

from agents.errors import ConfigError, KafkaUnreachable

__all__ = ["ConfigError", "KafkaRefused", "KafkaUnreachable"]


class KafkaRefused(KafkaUnreachable):
    """A broker answered but refused this client: TLS, login or rights. The message
    names the cause and the setting to change."""

    def __init__(self, message: str) -> None:
        RuntimeError.__init__(self, message)
