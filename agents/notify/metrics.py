"""The notifier's Prometheus metrics; labels are bounded (channel, outcome, reason)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from agents.metrics import process_metrics

__all__ = ["NotifyMetrics"]


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        process_metrics(r, "notify")
        self.alerts = Counter(
            "backupwatch_notify_alerts",
            "Alert records read, by outcome (accepted, invalid, no_recipients)",
            ["outcome"],
            registry=r,
        )
        self.deliveries = Counter(
            "backupwatch_notify_deliveries",
            "Deliveries by channel and outcome (delivered, duplicate, dead_letter)",
            ["channel", "outcome"],
            registry=r,
        )
        self.retries = Counter(
            "backupwatch_notify_retries",
            "Failed attempts that will be retried, by channel and failure",
            ["channel", "failure"],
            registry=r,
        )
        self.dead_letters = Counter(
            "backupwatch_notify_dead_letters",
            "Records written to the notifier's dead-letter topic, by channel and reason",
            ["channel", "reason"],
            registry=r,
        )
        self.latency = Histogram(
            "backupwatch_notify_delivery_latency_seconds",
            "From the alert's emission to its delivery (retries and digest waits included)",
            ["channel"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
            registry=r,
        )
        self.pending = Gauge(
            "backupwatch_notify_pending_deliveries",
            "Deliveries queued, under way or waiting to be retried, by channel",
            ["channel"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "backupwatch_notify_consumer_lag_records",
            "Alert records between the committed position and the end of each partition",
            ["partition"],
            registry=r,
        )
        self.policy_errors = Counter(
            "backupwatch_policy_errors",
            "Org policy records refused (the org keeps the recipients it had)",
            registry=r,
        )
        self.digests = Counter("backupwatch_notify_digests", "Digest emails delivered", registry=r)
