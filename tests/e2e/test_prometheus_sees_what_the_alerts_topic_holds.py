"""A real Prometheus scraping a worker fed by the simulator: what it stores about devices
and alerts is what the alerts topic says, and the project's rules evaluate on it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.kafka.topics import INPUTS
from agents.simulator.fleet import Fleet
from agents.simulator.producer import simulate
from schemas.models import Alert
from streams.kinds import KIND_NAMES, LEVELS, worst
from tests.deploy_files import dashboard_exprs
from tests.prometheus_harness import PrometheusServer, prometheus_server
from tests.promql import metric_names
from tests.worker_harness import Pipeline, WorkerRun

pytestmark = pytest.mark.e2e

START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 30
TICK = timedelta(minutes=5)
END = START + timedelta(days=DAYS)
JOB = "backupwatch-worker"


def expected_device_counts(
    alerts: Iterable[Alert], devices: Iterable[str]
) -> dict[tuple[str, str], float]:
    """(kind, state) -> devices, from the alerts alone: a device holds the state its
    latest alert per kind and destination moved it to, the worst over destinations."""
    latest: dict[tuple[str, str, str | None], str] = {}
    for alert in sorted(alerts, key=lambda a: a.decided_at):
        if alert.transition != "reminder":
            latest[(alert.device_id, alert.kind, alert.destination_id)] = alert.to_state
    levels: dict[tuple[str, str], str] = {}
    for (device, kind, _destination), level in latest.items():
        levels[(device, kind)] = worst([levels.get((device, kind), "ok"), level])  # type: ignore[list-item]
    counts = {(kind, state): 0.0 for kind in KIND_NAMES for state in LEVELS}
    for device in devices:
        for kind in KIND_NAMES:
            counts[(kind, levels.get((device, kind), "ok"))] += 1
    return counts


async def caught_up(worker: WorkerRun, partitions: int) -> None:
    deadline = time.monotonic() + 120
    clocks: dict[str, str | None] = {}
    while time.monotonic() < deadline:
        try:
            clocks = worker.clocks()
        except OSError:
            clocks = {}
        if len(clocks) == partitions and all(
            c is not None and datetime.fromisoformat(c) >= END for c in clocks.values()
        ):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"the worker did not reach {END} on every partition: {clocks}")


async def agrees(
    prometheus: PrometheusServer,
    expr: str,
    labels: tuple[str, ...],
    want: dict[tuple[str, ...], float],
) -> None:
    """Prometheus' answer to `expr` becomes `want` within a few scrapes, else fail."""
    deadline = time.monotonic() + 30
    got: dict[tuple[str, ...], float] = {}
    while time.monotonic() < deadline:
        got = prometheus.by(expr, *labels)
        if got == want:
            return
        await asyncio.sleep(0.5)
    differ = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
    raise AssertionError(
        f"Prometheus' {expr} differs from the alerts topic at {differ}:\n"
        f"  prometheus: {dict(sorted(got.items()))}\n  expected:   {dict(sorted(want.items()))}"
    )


async def test_prometheus_counts_the_devices_and_alerts_the_alerts_topic_holds(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    fleet = Fleet(devices=40, seed=23, start=START, every_fault=True)
    worker = pipeline.worker()
    worker.start()
    worker.wait_ready()
    target = f"{worker.settings.web_host}:{worker.settings.web_port}"
    with prometheus_server(tmp_path / "prometheus", {JOB: [target]}) as prometheus:
        summary = await simulate(
            pipeline.settings,
            fleet,
            start=START,
            days=DAYS,
            tick_every=TICK,
            record_timestamps="wall",
        )
        await caught_up(worker, pipeline.settings.partitions)
        alerts = await pipeline.alerts()
        assert alerts, "the simulated month raised no alert at all"

        await agrees(
            prometheus,
            f'sum by (kind, transition) (backupwatch_alerts_total{{job="{JOB}"}})',
            ("kind", "transition"),
            {k: float(n) for k, n in Counter((a.kind, a.transition) for a in alerts).items()},
        )
        await agrees(
            prometheus,
            f'sum by (kind, state) (backupwatch_devices{{job="{JOB}"}})',
            ("kind", "state"),
            expected_device_counts(alerts, (d.device_id for d in fleet.devices)),
        )
        # Every tick the simulator wrote was read, nothing is left to read, and each
        # partition's clock stands at the end of the month.
        await agrees(
            prometheus,
            f'sum(backupwatch_events_total{{job="{JOB}", outcome="tick"}})',
            (),
            {(): float(summary.ticks)},
        )
        partitions = pipeline.settings.partitions
        await agrees(
            prometheus,
            f'count by (topic) (backupwatch_consumer_lag_records{{job="{JOB}"}} == 0)',
            ("topic",),
            {(topic,): float(partitions) for topic in INPUTS},
        )
        await agrees(
            prometheus,
            f'count(backupwatch_stream_time_seconds{{job="{JOB}"}} >= {END.timestamp():.0f})',
            (),
            {(): float(partitions)},
        )
        assert prometheus.by(f'sum(backupwatch_tick_duration_seconds_count{{job="{JOB}"}})')[()] > 0

        # Every query of the Grafana dashboard is PromQL this Prometheus accepts, and
        # finds series whenever the metrics it names have some (a labelled counter
        # nothing incremented, such as invalid records here, has none).
        for expr in dashboard_exprs():
            query = expr.replace("$__rate_interval", "1m")
            result = prometheus.query(query)
            stored = [prometheus.query(f'count({{__name__="{n}"}})') for n in metric_names(expr)]
            if all(stored):
                # `increase`/`rate` need two scrapes of a series: one that appeared at the
                # last scrape (a fast worker's) shows in them one scrape later.
                deadline = time.monotonic() + 30
                while not result and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                    result = prometheus.query(query)
                assert result, f"the dashboard query {expr} finds nothing"

        # The project's rules load and evaluate on the real series without an error.
        groups = prometheus.api("/api/v1/rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        assert rules, "the project's rules were not loaded"
        assert all(rule["health"] in ("ok", "unknown") for rule in rules), rules
        deadline = time.monotonic() + 15
        while any(rule["health"] == "unknown" for rule in rules):
            assert time.monotonic() < deadline, f"rules never evaluated: {rules}"
            await asyncio.sleep(0.5)
            rules = [r for g in prometheus.api("/api/v1/rules")["groups"] for r in g["rules"]]
        assert all(rule["health"] == "ok" for rule in rules), rules
