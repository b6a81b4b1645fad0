"""The worker's metrics: Prometheus names, bounded labels, and gauges that forget what the
worker no longer holds (a revoked partition, a state no device is in any more)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agents.metrics import WorkerMetrics

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
# Labels whose values come from a small, fixed set (a partition number is bounded by
# the topic's partition count).
BOUNDED_LABELS = {
    "topic",
    "outcome",
    "reason",
    "kind",
    "transition",
    "state",
    "partition",
    "stage",
}


def _samples(metrics: WorkerMetrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_every_metric_is_prefixed_and_labelled_only_by_bounded_labels() -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    families = list(metrics.registry.collect())
    assert families
    for family in families:
        # The standard process metrics keep their standard names.
        assert family.name.startswith(("backupwatch_", "process_")), family.name
        assert family.documentation, family.name
    for collector in vars(metrics).values():
        labels = getattr(collector, "_labelnames", ())
        assert set(labels) <= BOUNDED_LABELS, (collector, labels)


def test_the_issue_lists_metrics_are_all_exported() -> None:
    names = {f.name for f in WorkerMetrics(CollectorRegistry()).registry.collect()}
    assert {
        "backupwatch_events",
        "backupwatch_invalid_records",
        "backupwatch_alerts",
        "backupwatch_devices",
        "backupwatch_event_lag_seconds",
        "backupwatch_batch_duration_seconds",
        "backupwatch_batch_size",
        "backupwatch_tick_duration_seconds",
        "backupwatch_tick_devices_advanced",
        "backupwatch_stream_time_lag_seconds",
        "backupwatch_consumer_lag_records",
        "backupwatch_dead_letters",
    } <= names


def test_a_partition_handed_away_no_longer_reports_a_clock() -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    metrics.observe_clocks({0: NOW - timedelta(minutes=1), 1: NOW - timedelta(hours=1)}, NOW)
    assert _samples(metrics, "backupwatch_stream_time_lag_seconds") == {
        (("partition", "0"),): 60.0,
        (("partition", "1"),): 3600.0,
    }
    metrics.observe_clocks({1: NOW - timedelta(hours=1), 2: None}, NOW + timedelta(seconds=30))
    assert _samples(metrics, "backupwatch_stream_time_lag_seconds") == {
        (("partition", "1"),): 3630.0
    }
    assert _samples(metrics, "backupwatch_stream_time_seconds") == {
        (("partition", "1"),): (NOW - timedelta(hours=1)).timestamp()
    }


def test_a_state_no_device_holds_any_more_reads_zero() -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    metrics.observe_device_counts({("backup", "critical"): 2, ("backup", "ok"): 3})
    metrics.observe_device_counts({("backup", "ok"): 5})
    devices = _samples(metrics, "backupwatch_devices")
    assert devices[(("kind", "backup"), ("state", "critical"))] == 0
    assert devices[(("kind", "backup"), ("state", "ok"))] == 5
    # Every kind and state is always there, so a sum over states is the fleet size.
    assert len(devices) == 9


def test_consumer_lag_is_reported_for_the_held_partitions_only() -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    metrics.observe_consumer_lag({("heartbeats", 0): 12, ("heartbeats", 1): 0})
    metrics.observe_consumer_lag({("heartbeats", 1): 7})
    assert _samples(metrics, "backupwatch_consumer_lag_records") == {
        (("partition", "1"), ("topic", "heartbeats")): 7
    }
