"""The ingest endpoint's Prometheus metrics; a `registry` argument keeps tests apart."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from agents.metrics import process_metrics

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


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        process_metrics(r, "ingest")
        self.requests = Counter(
            "backupwatch_ingest_requests",
            "Ingest requests by outcome (accepted, unauthorized, forbidden, invalid, "
            "too_large, rate_limited, unavailable)",
            ["outcome"],
            registry=r,
        )
        self.records = Counter(
            "backupwatch_ingest_records",
            "Records the broker acknowledged, by topic",
            ["topic"],
            registry=r,
        )
        self.ack_duration = Histogram(
            "backupwatch_ingest_ack_seconds",
            "From a request's records handed to the producer to the broker's acknowledgement",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        # Every outcome shows from the start, at 0: a rate over a missing series is none.
        for outcome in OUTCOMES:
            self.requests.labels(outcome)
