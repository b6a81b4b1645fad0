"""The ingest endpoint's Prometheus metrics; a `registry` argument keeps tests apart."""

from __future__ import annotations

from typing import ClassVar

from prometheus_client import CollectorRegistry

from agents.metrics import ProcessMetrics

__all__ = ["OUTCOMES", "IngestMetrics"]

# Every answer the endpoint gives, by what it means for the records.
OUTCOMES = (
    "accepted",
    "unauthorized",
    "forbidden",
    "invalid",
    "too_large",
    "rate_limited",
    "unavailable",
)


class IngestMetrics(ProcessMetrics):
    PROCESS: ClassVar[str] = "ingest"

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.requests = self.counter(
            "backupwatch_ingest_requests",
            "Ingest requests by outcome (accepted, unauthorized, forbidden, invalid, "
            "too_large, rate_limited, unavailable)",
            ["outcome"],
        )
        self.records = self.counter(
            "backupwatch_ingest_records",
            "Records the broker acknowledged, by topic",
            ["topic"],
        )
        self.ack_duration = self.histogram(
            "backupwatch_ingest_ack_seconds",
            "From a request's records handed to the producer to the broker's acknowledgement",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        # Every outcome shows from the start, at 0: a rate over a missing series is none.
        for outcome in OUTCOMES:
            self.requests.labels(outcome)
