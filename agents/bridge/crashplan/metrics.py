"""The bridge's Prometheus metrics; a `registry` argument keeps tests independent."""

from __future__ import annotations

from typing import ClassVar

from prometheus_client import CollectorRegistry

from agents.metrics import ProcessMetrics

__all__ = ["BridgeMetrics"]


class BridgeMetrics(ProcessMetrics):
    """Labels are bounded: outcomes, record schemas, HTTP statuses; never a device id."""

    PROCESS: ClassVar[str] = "crashplan-bridge"

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.polls = self.counter(
            "backupwatch_crashplan_polls",
            "Polls of the CrashPlan console, by outcome (success, failure)",
            ["outcome"],
        )
        self.devices_seen = self.gauge(
            "backupwatch_crashplan_devices_seen",
            "Devices the last successful poll listed",
        )
        self.devices_unreadable = self.counter(
            "backupwatch_crashplan_devices_unreadable",
            "Devices the console listed in a shape the bridge could not read (logged)",
        )
        self.records = self.counter(
            "backupwatch_crashplan_records_published",
            "Records published to the input topics, by schema",
            ["schema"],
        )
        self.api_errors = self.counter(
            "backupwatch_crashplan_api_errors",
            "Failed console API calls, by HTTP status (or network)",
            ["status"],
        )
        self.last_success = self.gauge(
            "backupwatch_crashplan_last_success_timestamp_seconds",
            "When the last successful poll ended (epoch seconds)",
        )
        self.started = self.gauge(
            "backupwatch_crashplan_started_timestamp_seconds",
            "When the bridge started (epoch seconds): the no-poll rule counts from it too",
        )
        self.poll_duration = self.histogram(
            "backupwatch_crashplan_poll_duration_seconds",
            "Wall time of a successful poll, first page to last record acknowledged",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800),
        )
