"""The Grafana dashboard and the alerting rules name only worker metrics that a running
worker really exports (read from its live /metrics), and the probes and health checks of
the deployment files answer 200 on it."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
import yaml

from tests.deploy_files import compose, dashboard_exprs, k8s_containers
from tests.prometheus_harness import PROMETHEUS_DIR
from tests.promql import exported_names, metric_names
from tests.worker_harness import Pipeline, WorkerRun

pytestmark = pytest.mark.integration

# Series Prometheus makes itself for every target.
SCRAPE_SERIES = {"up"}
NOTIFY_PREFIX = "backupwatch_notify_"


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            return int(response.status), response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""


def _selected_names() -> dict[str, set[str]]:
    """Metric names by where they are used: each dashboard query and alerting rule."""
    used = {f"dashboard: {expr}": metric_names(expr) for expr in dashboard_exprs()}
    groups = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())["groups"]
    for group in groups:
        for rule in group["rules"]:
            used[f"rule {rule['alert']}: {rule['expr']}"] = metric_names(rule["expr"])
    return used


def _probe_paths(role: str) -> set[str]:
    """The HTTP paths the k8s probes and compose health checks ask of `role`'s server."""
    paths = set()
    for _workload, container in k8s_containers():
        if container["args"][0] == role:
            for probe in ("livenessProbe", "readinessProbe"):
                if probe in container:
                    paths.add(container[probe]["httpGet"]["path"])
    for service in compose()["services"].values():
        if service.get("command", [None])[0] == role and "healthcheck" in service:
            check = " ".join(service["healthcheck"]["test"])
            paths.update(re.findall(r"http://127\.0\.0\.1:\d+(/[\w/]*)", check))
    return paths


async def test_every_metric_the_dashboard_and_rules_name_is_exported_live(
    pipeline: Pipeline,
) -> None:
    worker: WorkerRun = pipeline.worker()
    worker.start()
    worker.wait_ready()
    status, body = worker.get("/metrics")
    assert status == 200
    worker_names = exported_names(body.decode())
    unknown = {}
    for where, names in _selected_names().items():
        missing = {
            name
            for name in names - SCRAPE_SERIES
            if not name.startswith(NOTIFY_PREFIX) and name not in worker_names
        }
        if missing:
            unknown[where] = sorted(missing)
    assert not unknown, f"names no running process exports: {unknown}"


async def test_the_probes_of_the_deployment_answer_on_the_running_processes(
    pipeline: Pipeline,
) -> None:
    worker = pipeline.worker()
    worker.start()
    worker.wait_ready()
    worker_paths = _probe_paths("worker")
    assert {"/healthz", "/readyz"} <= worker_paths
    for path in worker_paths:
        assert worker.get(path)[0] == 200, path
