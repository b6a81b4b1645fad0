"""The report server's Prometheus metrics; a `registry` argument keeps tests apart."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from agents.metrics import process_metrics

__all__ = ["ServeMetrics"]


class ServeMetrics:
    """What `backupwatch serve` exports besides the process metrics. The fleet view
    counts in plain integers as it reads (it runs in the reader beside a worker too,
    where the worker exports them); `observe` brings them here at each scrape."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        process_metrics(r, "serve")
        self.changelog_records = Counter(
            "backupwatch_report_changelog_records",
            "Device-state changelog records the report server has read",
            registry=r,
        )
        self.report_errors = Counter(
            "backupwatch_report_unexpected_errors",
            "Records the report reader skipped for an exception that is not a validation "
            "error, by topic (changelog, org-policies, user-facts)",
            ["topic"],
            registry=r,
        )
        self.ready = Gauge(
            "backupwatch_report_ready",
            "1 once the report server has read the changelog and the user facts up to where "
            "they ended when it started, else 0",
            registry=r,
        )
        self.stream_time = Gauge(
            "backupwatch_report_stream_time_seconds",
            "The fleet's stream time as the report server has read it (the latest partition "
            "clock), in Unix seconds: behind the workers' when it falls behind the changelog",
            registry=r,
        )
        self._counted: dict[str, int] = {}

    def observe(
        self,
        records_read: int,
        unexpected_errors: dict[str, int],
        ready: bool,
        stream_time: float | None,
    ) -> None:
        self._add("changelog", records_read, self.changelog_records)
        for topic, n in unexpected_errors.items():
            self._add(f"errors:{topic}", n, self.report_errors.labels(topic))
        self.ready.set(1 if ready else 0)
        if stream_time is not None:
            self.stream_time.set(stream_time)

    def _add(self, name: str, total: int, counter: Counter) -> None:
        before = self._counted.get(name, 0)
        if total > before:
            counter.inc(total - before)
            self._counted[name] = total
