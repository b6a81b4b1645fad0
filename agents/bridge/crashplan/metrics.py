"""The bridge's Prometheus metrics; a `registry` argument keeps tests independent."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from agents.metrics import process_metrics

__all__ = ["BridgeMetrics"]


class BridgeMetrics:
    """Labels are bounded: outcomes, record schemas, HTTP statuses; never a device id."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        process_metrics(r, "crashplan-bridge")
        self.polls = Counter(
            "backupwatch_crashplan_polls",
            "Polls of the CrashPlan console, by outcome (success, failure)",
            ["outcome"],
            registry=r,
        )
        self.devices_seen = Gauge(
            "backupwatch_crashplan_devices_seen",
            "Devices the last successful poll listed",
            registry=r,
        )
        self.devices_unreadable = Counter(
            "backupwatch_crashplan_devices_unreadable",
            "Devices the console listed in a shape the bridge could not read (logged)",
            registry=r,
        )
        self.records = Counter(
            "backupwatch_crashplan_records_published",
            "Records published to the input topics, by schema",
            ["schema"],
            registry=r,
        )
        self.api_errors = Counter(
            "backupwatch_crashplan_api_errors",
            "Failed console API calls, by HTTP status (or network)",
            ["status"],
            registry=r,
        )
        self.last_success = Gauge(
            "backupwatch_crashplan_last_success_timestamp_seconds",
            "When the last successful poll ended (epoch seconds)",
            registry=r,
        )
        self.started = Gauge(
            "backupwatch_crashplan_started_timestamp_seconds",
            "When the bridge started (epoch seconds): the no-poll rule counts from it too",
            registry=r,
        )
        self.poll_duration = Histogram(
            "backupwatch_crashplan_poll_duration_seconds",
            "Wall time of a successful poll, first page to last record acknowledged",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
