"""The worker's Prometheus metrics; a `registry` argument keeps tests independent."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from datetime import datetime
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from streams.status import KINDS, LEVELS

__all__ = ["WorkerMetrics", "process_metrics"]


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


class WorkerMetrics:
    """Names follow Prometheus conventions; labels are bounded (never a device id)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        process_metrics(r, "worker")
        self.events = Counter(
            "backupwatch_events",
            "Input records by topic and outcome "
            "(accepted, invalid, replayed, duplicate, rerouted, tick)",
            ["topic", "outcome"],
            registry=r,
        )
        self.invalid = Counter(
            "backupwatch_invalid_records",
            "Input records that did not decode or validate, by reason",
            ["reason"],
            registry=r,
        )
        self.dead_letters = Counter(
            "backupwatch_dead_letters", "Records written to the dead-letter topic", registry=r
        )
        self.alerts = Counter(
            "backupwatch_alerts",
            "Alerts emitted, by kind and transition",
            ["kind", "transition"],
            registry=r,
        )
        self.devices = Gauge(
            "backupwatch_devices",
            "Devices of this worker's partitions by alert kind and state (at the last status)",
            ["kind", "state"],
            registry=r,
        )
        self.devices_indexed = Gauge(
            "backupwatch_devices_indexed",
            "Devices with a pending deadline on this worker's partitions",
            registry=r,
        )
        self.event_lag = Histogram(
            "backupwatch_event_lag_seconds",
            "Wall clock minus the newest event time applied in a batch",
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 21600, 86400),
            registry=r,
        )
        self.batch_duration = Histogram(
            "backupwatch_batch_duration_seconds",
            "Time to process one batch (decode, apply, decide, write)",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.batch_size = Histogram(
            "backupwatch_batch_size",
            "Records per batch",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
            registry=r,
        )
        self.tick_devices = Histogram(
            "backupwatch_tick_devices_advanced",
            "Devices whose state a partition clock step changed",
            buckets=(0, 1, 10, 100, 1000, 10000, 100000),
            registry=r,
        )
        self.tick_duration = Histogram(
            "backupwatch_tick_duration_seconds",
            "Time to step one partition's clock (decide the due devices, release parked records)",
            buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.ticks_sent = Counter(
            "backupwatch_ticks_sent", "Tick records this worker appended", registry=r
        )
        self.stream_time_lag = Gauge(
            "backupwatch_stream_time_lag_seconds",
            "Wall clock minus the partition's clock (a stalled ticker shows here)",
            ["partition"],
            registry=r,
        )
        self.stream_time = Gauge(
            "backupwatch_stream_time_seconds",
            "The partition's clock, as epoch seconds",
            ["partition"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "backupwatch_consumer_lag_records",
            "Records between this worker's position and the end of each input partition",
            ["topic", "partition"],
            registry=r,
        )
        self.parked = Counter(
            "backupwatch_records_parked",
            "Records read ahead of their partition's clock, held until it reaches them",
            registry=r,
        )
        self.state_writes = Counter(
            "backupwatch_state_writes",
            "Device states and partition clocks written to the store and the changelog (a "
            "state changed several times between two commits is written once)",
            registry=r,
        )
        self.policy_errors = Counter(
            "backupwatch_policy_errors", "Org policy records that were refused", registry=r
        )
        self.unexpected_errors = Counter(
            "backupwatch_unexpected_errors",
            "Exceptions that were not validation errors, by stage: record (an input record, "
            "sent to dead letters as unexpected_error), decision (a due device at a clock "
            "step), stored_state (a stored state or clock that does not decode), policy (an org "
            "policy record, refused), user_facts (a user facts record, refused)",
            ["stage"],
            registry=r,
        )
        self.report_errors = Counter(
            "backupwatch_report_unexpected_errors",
            "Records the report reader skipped for an exception that is not a validation "
            "error, by topic (changelog, org-policies, user-facts)",
            ["topic"],
            registry=r,
        )
        self.partitions_indexed = Counter(
            "backupwatch_partitions_indexed",
            "Input partitions whose deadline index was built from the stored states: one "
            "per partition newly assigned, none for a partition kept across a rebalance "
            "that no other worker wrote meanwhile",
            registry=r,
        )
        self.partitions_read = Counter(
            "backupwatch_changelog_partitions_read",
            "Changelog partitions the memory:// store read after an assignment (whole, or "
            "the part written by another worker); a partition kept across a rebalance "
            "with nothing new is not read",
            registry=r,
        )
        self.assignment_duration = Histogram(
            "backupwatch_assignment_seconds",
            "How long each partition-assignment callback of a rebalance took: the group "
            "waits for it",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.user_facts_errors = Counter(
            "backupwatch_user_facts_errors",
            "User facts records that were refused (the user keeps the facts they had)",
            registry=r,
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
        for kind in KINDS:
            for state in LEVELS:
                self.devices.labels(kind, state).set(counts.get((kind, state), 0))

    def observe_consumer_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """Records behind the end of each input partition this worker holds."""
        self.consumer_lag.clear()
        for (topic, partition), lag in lags.items():
            self.consumer_lag.labels(topic, str(partition)).set(lag)
