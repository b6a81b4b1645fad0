"""The notifier's Prometheus metrics; labels are bounded (channel, outcome, reason)."""

from __future__ import annotations

from typing import ClassVar

from prometheus_client import CollectorRegistry

from agents.metrics import ProcessMetrics

__all__ = ["NotifyMetrics"]


class NotifyMetrics(ProcessMetrics):
    PROCESS: ClassVar[str] = "notify"

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.alerts = self.counter(
            "backupwatch_notify_alerts",
            "Alert records read, by outcome (accepted, invalid, no_recipients, unexpected_error)",
            ["outcome"],
        )
        self.deliveries = self.counter(
            "backupwatch_notify_deliveries",
            "Deliveries by channel and outcome (delivered, duplicate, dead_letter)",
            ["channel", "outcome"],
        )
        self.retries = self.counter(
            "backupwatch_notify_retries",
            "Failed attempts that will be retried, by channel and failure",
            ["channel", "failure"],
        )
        self.dead_letters = self.counter(
            "backupwatch_notify_dead_letters",
            "Records written to the notifier's dead-letter topic, by channel and reason",
            ["channel", "reason"],
        )
        self.latency = self.histogram(
            "backupwatch_notify_delivery_latency_seconds",
            "From the alert's emission to its delivery (retries and digest waits included)",
            ["channel"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
        )
        self.pending = self.gauge(
            "backupwatch_notify_pending_deliveries",
            "Deliveries queued, under way or waiting to be retried, by channel",
            ["channel"],
        )
        self.consumer_lag = self.gauge(
            "backupwatch_notify_consumer_lag_records",
            "Alert records between the committed position and the end of each partition",
            ["partition"],
        )
        self.policy_errors = self.counter(
            "backupwatch_policy_errors",
            "Org policy records refused (the org keeps the recipients it had)",
        )
        self.digests = self.counter("backupwatch_notify_digests", "Digest emails delivered")
        self.unexpected_errors = self.counter(
            "backupwatch_notify_unexpected_errors",
            "Records whose reading raised an exception that is not a validation error, by "
            "topic read: alerts (sent to dead letters as unexpected_error), org-policies, "
            "notify-delivered (skipped)",
            ["topic"],
        )
