"""The Grafana dashboard and the alerting rules name only metrics that a running worker
and a running notifier really export (read from their live /metrics), and the probes and
health checks of the deployment files answer 200 on them (the report server's too)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.deploy_files import REPO, compose, dashboard_exprs, k8s_containers
from tests.kafka_harness import fresh_name, log_tail
from tests.prometheus_harness import PROMETHEUS_DIR
from tests.promql import exported_names, metric_names
from tests.worker_harness import Pipeline, WorkerRun, free_port

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


@pytest.fixture
def notifier(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Iterator[str]:
    """A `backupwatch notify` process on this test's topics; its web address."""
    port = free_port()
    log_path = tmp_path / "notify.log"
    env = {
        **os.environ,
        "BACKUPWATCH_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "BACKUPWATCH_TOPIC_PREFIX": topic_prefix,
        "BACKUPWATCH_NOTIFY_GROUP": fresh_name("notify-"),
        "BACKUPWATCH_NOTIFY_WEB_PORT": str(port),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "agents.cli", "notify"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    web = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _get(f"{web}/healthz")[0] != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the notifier did not get ready:\n{log_tail(log_path)}")
            time.sleep(0.2)
        yield web
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


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
    pipeline: Pipeline, notifier: str
) -> None:
    worker: WorkerRun = pipeline.worker()
    worker.start()
    worker.wait_ready()
    status, body = worker.get("/metrics")
    assert status == 200
    worker_names = exported_names(body.decode())
    status, body = _get(f"{notifier}/metrics")
    assert status == 200
    notify_names = exported_names(body.decode())
    # Besides its own, the notifier exports what every process does (build info) and
    # its count of refused policies, named as the worker's.
    shared = {
        "backupwatch_build_info",
        "backupwatch_policy_errors_total",
        "backupwatch_policy_errors_created",
    }
    assert notify_names and all(
        n.startswith(NOTIFY_PREFIX) or n in shared or not n.startswith("backupwatch_")
        for n in notify_names
    )

    bridge_names = await _bridge_metric_names(pipeline)

    def exporter(name: str) -> set[str]:
        if name.startswith(NOTIFY_PREFIX):
            return notify_names
        return bridge_names if name.startswith("backupwatch_crashplan_") else worker_names

    unknown = {}
    for where, names in _selected_names().items():
        missing = {name for name in names - SCRAPE_SERIES if name not in exporter(name)}
        if missing:
            unknown[where] = sorted(missing)
    assert not unknown, f"names no running process exports: {unknown}"


async def _bridge_metric_names(pipeline: Pipeline) -> set[str]:
    """What a running CrashPlan bridge (against the tests' stand-in console) exports."""
    from agents.bridge.crashplan.runner import Bridge
    from agents.bridge.crashplan.settings import BridgeSettings
    from tests.crashplan_console import running_console

    with running_console() as console:
        port = free_port()
        settings = BridgeSettings(
            url=console.url,
            kafka=pipeline.settings,
            api_client_id=console.client_id,
            api_client_secret=console.secret,
            web_port=port,
        )
        bridge = Bridge(settings)
        await bridge.start()
        try:
            await bridge.poll()
            # From a thread: the bridge serves its metrics on this event loop.
            status, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
        finally:
            await bridge.close()
    assert status == 200
    return exported_names(body.decode())


async def test_the_probes_of_the_deployment_answer_on_the_running_processes(
    pipeline: Pipeline, notifier: str
) -> None:
    worker = pipeline.worker(report_reader="none")
    server = pipeline.serve()
    worker.start()
    server.start()
    worker.wait_ready()
    worker_paths = _probe_paths("worker")
    assert {"/healthz", "/readyz"} <= worker_paths
    for path in worker_paths:
        assert worker.get(path)[0] == 200, path
    server.wait_ready()
    serve_paths = _probe_paths("serve")
    assert {"/healthz", "/readyz"} <= serve_paths
    for path in serve_paths:
        assert server.get(path)[0] == 200, path
    notify_paths = _probe_paths("notify")
    assert "/healthz" in notify_paths
    for path in notify_paths:
        assert _get(f"{notifier}{path}")[0] == 200, path
