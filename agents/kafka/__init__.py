"""The one Kafka connection every client of the project is built from."""

from __future__ import annotations

from agents.kafka.connection import (
    SASL_MECHANISMS,
    SECURITY_PROTOCOLS,
    KafkaConnection,
    connection_of,
    variables,
)
from agents.kafka.errors import KafkaRefused

__all__ = [
    "SASL_MECHANISMS",
    "SECURITY_PROTOCOLS",
    "KafkaConnection",
    "KafkaRefused",
    "connection_of",
    "variables",
]
