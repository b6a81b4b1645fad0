"""Prometheus accepts the project's config and rules, the rules do what their unit tests
(`deploy/prometheus/rules.test.yml`) say, and they select only metrics that exist."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from agents.bridge.crashplan.metrics import BridgeMetrics
from agents.metrics import WorkerMetrics
from agents.notify.metrics import NotifyMetrics
from tests.promql import exported_names, metric_names

REPO = Path(__file__).resolve().parents[3]
PROMETHEUS = REPO / "deploy" / "prometheus"
# Series Prometheus itself makes for every target.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def promtool(*args: str) -> str:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail(
            "promtool is missing: install Debian's prometheus package "
            "(`apt-get install prometheus`; .ci/run does it)",
            pytrace=False,
        )
    done = subprocess.run(
        [tool, *args], cwd=PROMETHEUS, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_promtool_accepts_the_config() -> None:
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")


def test_promtool_accepts_the_rules() -> None:
    assert "SUCCESS" in promtool("check", "rules", "rules.yml")


def test_each_rule_fires_when_it_should_and_only_then() -> None:
    assert "SUCCESS" in promtool("test", "rules", "rules.test.yml")


def _rules() -> list[dict[str, str]]:
    groups = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_rules_cover_what_an_operator_must_hear_about() -> None:
    selected = {name for rule in _rules() for name in metric_names(rule["expr"])}
    assert {
        "backupwatch_stream_time_lag_seconds",
        "backupwatch_consumer_lag_records",
        "backupwatch_dead_letters_total",
        "backupwatch_devices",
        "backupwatch_notify_dead_letters_total",
        # The alerting path: a notifier down or absent, deliveries too slow.
        "up",
        "backupwatch_build_info",
        "backupwatch_notify_delivery_latency_seconds_bucket",
        "backupwatch_crashplan_last_success_timestamp_seconds",
    } <= selected


def test_the_rules_select_only_metrics_the_worker_the_notifier_or_the_bridge_exports() -> None:
    worker = exported_names(generate_latest(WorkerMetrics(CollectorRegistry()).registry).decode())
    notifier = exported_names(generate_latest(NotifyMetrics(CollectorRegistry()).registry).decode())
    bridge = exported_names(generate_latest(BridgeMetrics(CollectorRegistry()).registry).decode())

    def exporter(name: str) -> set[str]:
        if name.startswith("backupwatch_notify_"):
            return notifier
        return bridge if name.startswith("backupwatch_crashplan_") else worker

    for rule in _rules():
        names = metric_names(rule["expr"]) - SCRAPE_SERIES
        unknown = {n for n in names if n not in exporter(n)}
        assert not unknown, (rule["alert"], unknown)


def test_the_kubernetes_config_names_each_job_after_its_service(tmp_path: Path) -> None:
    # rules.yml's worker-down alert selects on job="backupwatch-worker": in a cluster the
    # job takes the annotated Service's name, as the compose stack's static job has it.
    config = yaml.safe_load((PROMETHEUS / "kubernetes.yml").read_text())
    assert config["rule_files"] == ["rules.yml"]
    (job,) = config["scrape_configs"]
    relabels = job["relabel_configs"]
    assert {
        "source_labels": ["__meta_kubernetes_service_name"],
        "target_label": "job",
    } in relabels
    worker_down = next(r for r in _rules() if r["alert"] == "BackupwatchWorkerDown")
    assert 'job="backupwatch-worker"' in worker_down["expr"]
    services = [
        document["metadata"]
        for name in ("worker-service.yaml", "serve-service.yaml", "notifier-service.yaml")
        for document in yaml.safe_load_all((REPO / "deploy/k8s" / name).read_text())
        if "prometheus.io/scrape" in document["metadata"].get("annotations", {})
    ]
    assert {s["name"] for s in services} == {
        "backupwatch-worker",
        "backupwatch-serve",
        "backupwatch-notify",
    }
    assert all(s["annotations"]["prometheus.io/scrape"] == "true" for s in services)
    # Debian's promtool is built without Kubernetes discovery: check the rest of the
    # config with the discovery swapped for a static target.
    del job["kubernetes_sd_configs"]
    job["static_configs"] = [{"targets": ["backupwatch-worker:6066"]}]
    (tmp_path / "rules.yml").write_text((PROMETHEUS / "rules.yml").read_text())
    (tmp_path / "kubernetes.yml").write_text(yaml.safe_dump(config))
    assert "SUCCESS" in promtool("check", "config", str(tmp_path / "kubernetes.yml"))
