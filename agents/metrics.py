"""The worker's Prometheus metrics; a `registry` argument keeps tests independent."""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib import metadata
from typing import ClassVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from streams.kinds import KIND_NAMES, LEVELS

__all__ = ["ProcessMetrics", "WorkerMetrics", "process_metrics"]


def process_metrics(registry: CollectorRegistry, process: str) -> None:
    """What every backupwatch process exports besides its own metrics: which build it runs
    (`backupwatch_build_info`, so a dashboard can tell a rolling update apart) and the
    standard `process_…` metrics (CPU, memory, open files, start time)."""
    try:
        version = metadata.version("backupwatch")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        version = "unknown"
    info = Gauge(
        "backupwatch_build_info",
        "Always 1; the labels say which build and which process this is",
        ["version", "python", "process"],
        registry=registry,
    )
    info.labels(version, platform.python_version(), process).set(1)
    ProcessCollector(registry=registry)


class ProcessMetrics:
    """A process's metrics, on a registry of their own (so that each test can give a
    fresh one, as prometheus_client's own tests do), with `process_metrics` beside them.
    A subclass names its `PROCESS` and declares its metrics in `__init__`."""

    PROCESS: ClassVar[str]

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        process_metrics(self.registry, self.PROCESS)

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(name, documentation, labels, registry=self.registry)

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        *,
        buckets: Sequence[float],
    ) -> Histogram:
        return Histogram(name, documentation, labels, buckets=buckets, registry=self.registry)


class WorkerMetrics(ProcessMetrics):
    """Names follow Prometheus conventions; labels are bounded (never a device id)."""

    PROCESS: ClassVar[str] = "worker"

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.events = self.counter(
            "backupwatch_events",
            "Input records by topic and outcome "
            "(accepted, invalid, replayed, duplicate, rerouted, tick)",
            ["topic", "outcome"],
        )
        self.invalid = self.counter(
            "backupwatch_invalid_records",
            "Input records that did not decode or validate, by reason",
            ["reason"],
        )
        self.dead_letters = self.counter(
            "backupwatch_dead_letters", "Records written to the dead-letter topic"
        )
        self.alerts = self.counter(
            "backupwatch_alerts",
            "Alerts emitted, by kind and transition",
            ["kind", "transition"],
        )
        self.devices = self.gauge(
            "backupwatch_devices",
            "Devices of this worker's partitions by alert kind and state (at the last status)",
            ["kind", "state"],
        )
        self.devices_indexed = self.gauge(
            "backupwatch_devices_indexed",
            "Devices with a pending deadline on this worker's partitions",
        )
        self.event_lag = self.histogram(
            "backupwatch_event_lag_seconds",
            "Wall clock minus the newest event time applied in a batch",
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 21600, 86400),
        )
        self.batch_duration = self.histogram(
            "backupwatch_batch_duration_seconds",
            "Time to process one batch (decode, apply, decide, write)",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.batch_size = self.histogram(
            "backupwatch_batch_size",
            "Records per batch",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
        )
        self.tick_devices = self.histogram(
            "backupwatch_tick_devices_advanced",
            "Devices whose state a partition clock step changed",
            buckets=(0, 1, 10, 100, 1000, 10000, 100000),
        )
        self.tick_duration = self.histogram(
            "backupwatch_tick_duration_seconds",
            "Time to step one partition's clock (decide the due devices, release parked records)",
            buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.ticks_sent = self.counter(
            "backupwatch_ticks_sent", "Tick records this worker appended"
        )
        self.stream_time_lag = self.gauge(
            "backupwatch_stream_time_lag_seconds",
            "Wall clock minus the partition's clock (a stalled ticker shows here)",
            ["partition"],
        )
        self.stream_time = self.gauge(
            "backupwatch_stream_time_seconds",
            "The partition's clock, as epoch seconds",
            ["partition"],
        )
        self.consumer_lag = self.gauge(
            "backupwatch_consumer_lag_records",
            "Records between this worker's position and the end of each input partition",
            ["topic", "partition"],
        )
        self.parked = self.counter(
            "backupwatch_records_parked",
            "Records read ahead of their partition's clock, held until it reaches them",
        )
        self.state_writes = self.counter(
            "backupwatch_state_writes",
            "Device states and partition clocks written to the store and the changelog (a "
            "state changed several times between two commits is written once)",
        )
        self.policy_errors = self.counter(
            "backupwatch_policy_errors", "Org policy records that were refused"
        )
        self.unexpected_errors = self.counter(
            "backupwatch_unexpected_errors",
            "Exceptions that were not validation errors, by stage: record (an input record, "
            "sent to dead letters as unexpected_error), decision (a due device at a clock "
            "step), stored_state (a stored state or clock that does not decode), policy (an org "
            "policy record, refused), user_facts (a user facts record, refused)",
            ["stage"],
        )
        self.report_errors = self.counter(
            "backupwatch_report_unexpected_errors",
            "Records the report reader skipped for an exception that is not a validation "
            "error, by topic (changelog, org-policies, user-facts)",
            ["topic"],
        )
        self.partitions_indexed = self.counter(
            "backupwatch_partitions_indexed",
            "Input partitions whose deadline index was built from the stored states: one "
            "per partition newly assigned, none for a partition kept across a rebalance "
            "that no other worker wrote meanwhile",
        )
        self.partitions_read = self.counter(
            "backupwatch_changelog_partitions_read",
            "Changelog partitions the memory:// store read after an assignment (whole, or "
            "the part written by another worker); a partition kept across a rebalance "
            "with nothing new is not read",
        )
        self.assignment_duration = self.histogram(
            "backupwatch_assignment_seconds",
            "How long each partition-assignment callback of a rebalance took: the group "
            "waits for it",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.user_facts_errors = self.counter(
            "backupwatch_user_facts_errors",
            "User facts records that were refused (the user keeps the facts they had)",
        )

    # Gauges of partitions and states are set whole each time: a partition handed to
    # another worker, or a state no device holds any more, must not keep its last value
    # (two workers would report one partition, a resolved critical would stay 1). Scrapes
    # run on the same event loop, so none sees a gauge between clear() and set().

    def observe_clocks(self, clocks: Mapping[int, datetime | None], now: datetime) -> None:
        """Stream time and its lag behind `now` for each partition this worker holds."""
        held = {str(p): clock for p, clock in clocks.items() if clock is not None}
        self.stream_time.clear()
        self.stream_time_lag.clear()
        for partition, clock in held.items():
            self.stream_time.labels(partition).set(clock.timestamp())
            self.stream_time_lag.labels(partition).set((now - clock).total_seconds())

    def observe_device_counts(self, counts: Mapping[tuple[str, str], int]) -> None:
        for kind in KIND_NAMES:
            for state in LEVELS:
                self.devices.labels(kind, state).set(counts.get((kind, state), 0))

    def observe_consumer_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """Records behind the end of each input partition this worker holds."""
        self.consumer_lag.clear()
        for (topic, partition), lag in lags.items():
            self.consumer_lag.labels(topic, str(partition)).set(lag)
