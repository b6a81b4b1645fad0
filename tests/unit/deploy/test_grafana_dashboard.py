"""The Grafana dashboard is valid JSON whose panels query the provisioned datasource and
cover what an operator watches. (That every metric it names is exported by a live worker
and notifier: tests/integration/test_deployment_names_what_the_processes_serve.py.)"""

from __future__ import annotations

import json

import yaml

from tests.deploy_files import DASHBOARD, REPO, dashboard_exprs
from tests.promql import metric_names


def test_every_panel_queries_the_chosen_datasource_the_provisioned_one_by_default() -> None:
    # A cluster's Grafana names its Prometheus as it likes: the dashboard asks for one
    # (a datasource variable) rather than naming the compose stack's.
    board = json.loads(DASHBOARD.read_text())
    provisioned = yaml.safe_load(
        (REPO / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    (datasource,) = provisioned["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    (variable,) = board["templating"]["list"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    assert variable["current"]["value"] == datasource["uid"]
    chosen = "${" + variable["name"] + "}"
    assert board["panels"]
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == chosen, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == chosen, panel["title"]


def test_no_query_depends_on_the_scrape_job_s_name() -> None:
    # Job names are the scrape config's (the compose stack's static jobs, a cluster's
    # annotation-discovery job); every metric the dashboard reads is backupwatch's own.
    for expr in dashboard_exprs():
        assert "job=" not in expr, expr


def test_the_dashboard_shows_what_the_issue_asks_for() -> None:
    names = {name for expr in dashboard_exprs() for name in metric_names(expr)}
    assert {
        "backupwatch_devices",  # devices by state over time
        "backupwatch_alerts_total",  # alerts per hour
        "backupwatch_events_total",  # throughput
        "backupwatch_consumer_lag_records",  # consumer lag
        "backupwatch_stream_time_lag_seconds",  # stream-time lag
        "backupwatch_dead_letters_total",  # dead letters
        "backupwatch_notify_delivery_latency_seconds_bucket",  # delivery latency
        "backupwatch_notify_pending_deliveries",  # pending deliveries
    } <= names


def test_every_query_names_a_metric() -> None:
    for expr in dashboard_exprs():
        assert metric_names(expr), expr
        assert all(name.startswith("backupwatch_") for name in metric_names(expr)), expr
