"""docs/metrics.md's tables name every metric the worker, the report server, the
notifier, the ingest endpoint and the CrashPlan bridge export (counters as Prometheus
shows them, with `_total`)."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from agents.bridge.crashplan.metrics import BridgeMetrics
from agents.ingest.metrics import IngestMetrics
from agents.metrics import WorkerMetrics
from agents.notify.metrics import NotifyMetrics
from agents.report.metrics import ServeMetrics

METRICS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def _exported(registry: CollectorRegistry) -> set[str]:
    return {
        family.name + "_total" if family.type == "counter" else family.name
        for family in registry.collect()
        # The standard process metrics are named in docs/metrics.md as `process_…`.
        if family.name.startswith("backupwatch_")
    }


def test_every_exported_metric_is_documented_and_every_documented_one_exported() -> None:
    exported = (
        _exported(WorkerMetrics(CollectorRegistry()).registry)
        | _exported(NotifyMetrics(CollectorRegistry()).registry)
        | _exported(IngestMetrics(CollectorRegistry()).registry)
        | _exported(BridgeMetrics(CollectorRegistry()).registry)
        | _exported(ServeMetrics(CollectorRegistry()).registry)
    )
    documented = set(re.findall(r"`(backupwatch_[a-z_]+)", METRICS.read_text(encoding="utf-8")))

    assert sorted(exported) == sorted(documented)
